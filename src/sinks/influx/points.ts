import type { IPoint } from 'influx';
import type { AlarmEvent } from '../../core/alarm.js';
import type { DerivedEvent } from '../../core/rule-output.js';
import { topClass, type InferenceEvent } from '../../normalise/inference-event.js';

/**
 * Nanosecond timestamps, kept strictly increasing per device and measurement so two events in
 * the same millisecond stay two points (InfluxDB overwrites points with equal series and time).
 */
export class UniqueTimestamps {
  private readonly last = new Map<string, bigint>();

  next(series: string, ms: number): string {
    let ns = BigInt(Math.trunc(ms)) * 1_000_000n;
    const previous = this.last.get(series);
    if (previous !== undefined && ns <= previous) ns = previous + 1n;
    this.last.set(series, ns);
    return ns.toString();
  }
}

export function inferencePoint(e: InferenceEvent, timestamp: string): IPoint {
  const top = topClass(e);
  const fields: Record<string, number | string> = {};
  if (top.label !== undefined) fields.label = top.label;
  if (top.confidence !== undefined) fields.confidence = top.confidence;
  if (e.anomaly !== undefined) fields.anomaly = e.anomaly;
  if (e.seq !== undefined) fields.seq = e.seq;
  if (e.timing?.dsp_ms !== undefined) fields.dsp_ms = e.timing.dsp_ms;
  if (e.timing?.inference_ms !== undefined) fields.inference_ms = e.timing.inference_ms;
  for (const [label, score] of Object.entries(e.scores ?? {})) fields[`score_${label}`] = score;
  for (const [name, value] of Object.entries(e.values ?? {})) fields[`value_${name}`] = value;
  return {
    measurement: 'inference',
    tags: { device: e.device, model: e.model.name, model_version: e.model.version },
    fields,
    timestamp,
  };
}

/** A rule's derived event: tags rule, name, device; the signal's state and value plus its fields. */
export function derivedPoint(d: DerivedEvent, timestamp: string): IPoint {
  return {
    measurement: 'derived',
    tags: { device: d.device, rule: d.rule, name: d.name },
    fields: { ...d.fields, state: d.state, value: d.value },
    timestamp,
  };
}

export function alarmPoint(t: AlarmEvent, timestamp: string): IPoint {
  return {
    measurement: 'alarm',
    tags: { device: t.device, rule: t.rule },
    fields: {
      state: t.state,
      active: t.active,
      acked: t.acked,
      confirmed: t.confirmed,
      severity: t.severity,
      value: t.value,
      message: t.message,
      ...(t.by === undefined ? {} : { by: t.by }),
      ...(t.comment === undefined ? {} : { comment: t.comment }),
      raised_at: t.raisedAt,
    },
    timestamp,
  };
}
