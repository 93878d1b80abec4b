import type { AlarmEvent } from '../../core/alarm.js';
import type { DerivedEvent } from '../../core/rule-output.js';
import { topClass, type InferenceEvent } from '../../normalise/inference-event.js';
import { contentOffset, lineBody, timestampNs, type Point } from './line-protocol.js';

/** The gateway's own figures, written as measurement `gateway` every few seconds. */
export interface GatewayStats {
  gateway: string;
  ts: number;
  fields: Record<string, number>;
}

/** Line protocol for one point, timestamped by `timestampNs`; undefined when it has no storable field. */
function line(p: Point, ms: number, seq?: number): string | undefined {
  const body = lineBody(p);
  if (body === undefined) return undefined;
  return `${body} ${timestampNs(ms, seq ?? contentOffset(body))}`;
}

/** Measurement `inference`: tags device, model, model_version; the MCU's sequence number orders one millisecond. */
export function inferenceLine(e: InferenceEvent): string | undefined {
  const top = topClass(e);
  const fields: Point['fields'] = {
    label: top.label,
    confidence: top.confidence,
    anomaly: e.anomaly,
    seq: e.seq,
    dsp_ms: e.timing?.dsp_ms,
    inference_ms: e.timing?.inference_ms,
  };
  for (const [label, score] of Object.entries(e.scores ?? {})) fields[`score_${label}`] = score;
  for (const [name, value] of Object.entries(e.values ?? {})) fields[`value_${name}`] = value;
  const tags = { device: e.device, model: e.model.name, model_version: e.model.version };
  return line({ measurement: 'inference', tags, fields }, e.ts, e.seq);
}

/** Measurement `derived`: a rule's derived event; tags device, rule, name; the signal's state and value plus its fields. */
export function derivedLine(d: DerivedEvent): string | undefined {
  const fields = { ...d.fields, state: d.state, value: d.value };
  return line({ measurement: 'derived', tags: { device: d.device, name: d.name, rule: d.rule }, fields }, d.ts);
}

/** Measurement `alarm`: one point per alarm transition; tags device, rule. */
export function alarmLine(t: AlarmEvent): string | undefined {
  const fields = {
    state: t.state,
    active: t.active,
    acked: t.acked,
    confirmed: t.confirmed,
    severity: t.severity,
    value: t.value,
    message: t.message,
    by: t.by,
    comment: t.comment,
    raised_at: t.raisedAt,
  };
  return line({ measurement: 'alarm', tags: { device: t.device, rule: t.rule }, fields }, t.ts);
}

/** Measurement `gateway`: the gateway's own figures; tag gateway. */
export function gatewayLine(s: GatewayStats): string | undefined {
  return line({ measurement: 'gateway', tags: { gateway: s.gateway }, fields: s.fields }, s.ts, 0);
}
