import type { AlarmEvent } from '../../core/alarm.js';
import type { DerivedEvent } from '../../core/rule-output.js';
import { topClass, type InferenceEvent } from '../../normalise/inference-event.js';
import { contentOffset, escapeKey, lineBody, quote, timestampNs, type Point } from './line-protocol.js';

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

/** Escaped tag sets and field keys met before: the same devices, models and labels come again and again. */
const tagSets = new Map<string, { model: string; version: string; prefix: string }>();
const scoreKeys = new Map<string, string>();
const valueKeys = new Map<string, string>();
/** A cache past this many entries starts again, so unknown devices or labels cannot grow it. */
const CACHE_MAX = 10_000;

function remembered(cache: Map<string, string>, key: string, prefix: string): string {
  let escaped = cache.get(key);
  if (escaped === undefined) {
    if (cache.size >= CACHE_MAX) cache.clear();
    escaped = escapeKey(`${prefix}${key}`);
    cache.set(key, escaped);
  }
  return escaped;
}

/** `inference` and its tags device, model, model_version, as lineBody writes them. */
function inferenceTags(e: InferenceEvent): string {
  const { name, version } = e.model;
  const known = tagSets.get(e.device);
  if (known !== undefined && known.model === name && known.version === version) return known.prefix;
  let prefix = 'inference';
  if (e.device) prefix += `,device=${escapeKey(e.device)}`;
  if (name) prefix += `,model=${escapeKey(name)}`;
  if (version) prefix += `,model_version=${escapeKey(version)}`;
  if (tagSets.size >= CACHE_MAX) tagSets.clear();
  tagSets.set(e.device, { model: name, version, prefix });
  return prefix;
}

/** `fields` with one more numeric field; a missing value, NaN or Infinity (line protocol has neither) adds nothing. */
const withNumber = (fields: string, key: string, v: number | undefined): string =>
  v === undefined || !Number.isFinite(v) ? fields : fields === '' ? `${key}=${v}` : `${fields},${key}=${v}`;

/**
 * Measurement `inference`: tags device, model, model_version; the MCU's sequence number orders one
 * millisecond. Written straight to a string, with escaped keys cached: this runs for every event,
 * and the generic path through a Point object cost three times as much. Same line as lineBody.
 */
export function inferenceLine(e: InferenceEvent): string | undefined {
  const top = topClass(e);
  let fields = top.label === undefined ? '' : `label=${quote(top.label)}`;
  fields = withNumber(fields, 'confidence', top.confidence);
  fields = withNumber(fields, 'anomaly', e.anomaly);
  fields = withNumber(fields, 'seq', e.seq);
  const timing = e.timing;
  if (timing !== undefined) {
    fields = withNumber(fields, 'dsp_ms', timing.dsp_ms);
    fields = withNumber(fields, 'inference_ms', timing.inference_ms);
  }
  const scores = e.scores;
  for (const label in scores) fields = withNumber(fields, remembered(scoreKeys, label, 'score_'), scores[label]);
  const values = e.values;
  for (const name in values) fields = withNumber(fields, remembered(valueKeys, name, 'value_'), values[name]);
  if (fields === '') return undefined;
  const body = `${inferenceTags(e)} ${fields}`;
  return `${body} ${timestampNs(e.ts, e.seq ?? contentOffset(body))}`;
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
