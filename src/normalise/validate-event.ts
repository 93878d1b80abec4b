import { DEVICE_ID_PATTERN, MAX_EVENT_TS_MS, type InferenceEvent } from './inference-event.js';

/**
 * InferenceEvent v1 checked by hand, for the hot path: the same rules as the zod schema
 * `inferenceEventV1` (a differential test holds them together), without its intermediate copies.
 * The nested objects of a valid event are the parsed JSON's own, which nothing else holds.
 * Returns the event with `ts` still as sent (undefined, epoch ms or ISO text turned into ms), or
 * undefined when the input is invalid: the caller asks zod why, so messages stay zod's.
 */
export function validateEvent(json: unknown): { event: Omit<InferenceEvent, 'ts'>; ts: number | undefined } | undefined {
  if (!isObject(json)) return undefined;
  const { v, device, ts, seq, model, label, scores, anomaly, timing, values } = json;
  if (v !== undefined && v !== 1) return undefined;
  if (typeof device !== 'string' || !DEVICE_ID_PATTERN.test(device)) return undefined;
  const time = timestamp(ts);
  if (time === false) return undefined;
  if (seq !== undefined && !(typeof seq === 'number' && Number.isInteger(seq) && seq >= 0 && seq <= Number.MAX_SAFE_INTEGER))
    return undefined;
  if (!isModel(model)) return undefined;
  if (label !== undefined && !isShortName(label)) return undefined;
  const scoreCount = record(scores, isScore);
  if (scoreCount < 0) return undefined;
  if (anomaly !== undefined && !(isFinite(anomaly) && anomaly >= 0)) return undefined;
  if (timing !== undefined && !isTiming(timing)) return undefined;
  const valueCount = record(values, isFinite);
  if (valueCount < 0) return undefined;
  if (label === undefined && anomaly === undefined && scoreCount === 0 && valueCount === 0) return undefined;
  // Keys in the schema's order, only those present: what zod's output holds.
  const event: Omit<InferenceEvent, 'ts'> = seq === undefined ? { device, model } : { device, seq, model };
  if (label !== undefined) event.label = label;
  if (scores !== undefined) event.scores = scores as Record<string, number>;
  if (anomaly !== undefined) event.anomaly = anomaly as number;
  if (timing !== undefined) event.timing = timing as InferenceEvent['timing'];
  if (values !== undefined) event.values = values as Record<string, number>;
  return { event, ts: time };
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

/** Epoch ms, undefined when absent, false when invalid. */
function timestamp(ts: unknown): number | undefined | false {
  if (ts === undefined) return undefined;
  if (typeof ts === 'number') return isFinite(ts) && ts >= 0 && ts <= MAX_EVENT_TS_MS ? ts : false;
  if (typeof ts !== 'string' || !ISO.test(ts)) return false;
  const ms = Date.parse(ts);
  return Number.isNaN(ms) || ms < 0 || ms > MAX_EVENT_TS_MS ? false : ms;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const isFinite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isScore = (v: unknown): boolean => typeof v === 'number' && v >= 0 && v <= 1;
const isShortName = (v: unknown): v is string => typeof v === 'string' && v.length >= 1 && v.length <= 64;

function isModel(v: unknown): v is InferenceEvent['model'] {
  if (!isObject(v) || !isShortName(v.name) || !isShortName(v.version)) return false;
  for (const key in v) if (key !== 'name' && key !== 'version') return false;
  return true;
}

function isTiming(v: unknown): boolean {
  if (!isObject(v)) return false;
  for (const key in v) {
    if (key !== 'dsp_ms' && key !== 'inference_ms') return false;
    const ms = v[key];
    if (ms !== undefined && !(isFinite(ms) && ms >= 0)) return false;
  }
  return true;
}

/** Entries of an optional record of short names: their count, 0 when absent, -1 when invalid. */
function record(v: unknown, valid: (value: unknown) => boolean): number {
  if (v === undefined) return 0;
  if (!isObject(v)) return -1;
  let n = 0;
  for (const key in v) {
    // zod builds its own record, where `__proto__` is not an own key: such input takes the zod path.
    if (key.length === 0 || key.length > 64 || key === '__proto__' || !valid(v[key])) return -1;
    n++;
  }
  return n;
}
