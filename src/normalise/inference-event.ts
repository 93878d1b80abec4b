import { z } from 'zod';

export const DEVICE_ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
export const MAX_EVENT_BYTES = 16 * 1024;
/** The last millisecond whose nanosecond count fits int64, InfluxDB's time type (2262-04-11). */
export const MAX_EVENT_TS_MS = 9_223_372_036_854;
const TS_RANGE = 'ts must be epoch milliseconds up to 2262-04-11 (microseconds or nanoseconds are not accepted)';

const isoTimestamp = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/, 'expected an ISO-8601 timestamp with zone')
  .transform((s, ctx) => {
    const ms = Date.parse(s);
    if (Number.isNaN(ms) || ms < 0 || ms > MAX_EVENT_TS_MS) {
      ctx.addIssue({ code: 'custom', message: Number.isNaN(ms) ? 'not a valid date' : TS_RANGE });
      return z.NEVER;
    }
    return ms;
  });

const epochMs = z.number().finite().nonnegative().max(MAX_EVENT_TS_MS, TS_RANGE);
const shortName = z.string().min(1).max(64);

/**
 * InferenceEvent v1 as published by MCUs. Unknown top-level fields are ignored so that newer
 * firmware adding fields keeps working; known fields with wrong types are rejected.
 */
export const inferenceEventV1 = z
  .object({
    v: z.literal(1).optional().describe('Schema version; absent means 1'),
    device: z
      .string()
      .regex(DEVICE_ID_PATTERN, 'device id must match [A-Za-z0-9_.-]{1,64}')
      .describe('Device id `[A-Za-z0-9_.-]{1,64}`; must match the topic'),
    ts: z.union([epochMs, isoTimestamp]).optional().describe('Event time: epoch ms, or ISO-8601 with zone; absent → receive time'),
    seq: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional().describe('Counter the MCU increments per inference'),
    model: z.strictObject({ name: shortName.describe('Model name'), version: shortName.describe('Model version, e.g. 1.2.0') }),
    label: shortName.optional().describe('Predicted class'),
    scores: z.record(shortName, z.number().min(0).max(1)).optional().describe('Class label → score 0..1'),
    anomaly: z.number().finite().nonnegative().optional().describe('Anomaly score ≥ 0 (higher is more anomalous)'),
    timing: z
      .strictObject({
        dsp_ms: z.number().finite().nonnegative().optional().describe('Feature extraction time, ms'),
        inference_ms: z.number().finite().nonnegative().optional().describe('Model run time, ms'),
      })
      .optional(),
    values: z.record(shortName, z.number().finite()).optional().describe('Sensor readings: name → number'),
  })
  // A reading-only event (values, no inference) is allowed: it is what rules join inferences with.
  .refine(
    (e) =>
      e.label !== undefined || e.anomaly !== undefined || Object.keys(e.scores ?? {}).length > 0 || Object.keys(e.values ?? {}).length > 0,
    { message: 'at least one of label, scores, anomaly, values (non-empty) is required' },
  );

export type InferenceEventInput = z.input<typeof inferenceEventV1>;

/** A validated event: `ts` is epoch ms (receive time when the MCU sent none). */
export interface InferenceEvent {
  device: string;
  ts: number;
  seq?: number;
  model: { name: string; version: string };
  label?: string;
  scores?: Record<string, number>;
  anomaly?: number;
  timing?: { dsp_ms?: number; inference_ms?: number };
  values?: Record<string, number>;
}

/** The label with the highest score, and that score: what "Confidence" means downstream. */
export function topClass(event: InferenceEvent): { label?: string; confidence?: number } {
  // A plain loop: this runs for every event of every rule that reads `confidence`.
  const scores = event.scores;
  if (event.label !== undefined) {
    const own = scores?.[event.label];
    if (own !== undefined || scores === undefined) return { label: event.label, confidence: own };
  }
  let label: string | undefined;
  let confidence: number | undefined;
  for (const key in scores) {
    const score = scores[key]!;
    if (confidence === undefined || score > confidence) {
      label = key;
      confidence = score;
    }
  }
  if (event.label !== undefined) return { label: event.label, confidence };
  return label === undefined ? {} : { label, confidence };
}
