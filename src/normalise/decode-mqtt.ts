import { INFERENCE_TOPIC } from '../ingest/mqtt/transport.js';
import { inferenceEventV1, MAX_EVENT_BYTES, type InferenceEvent } from './inference-event.js';
import { validateEvent } from './validate-event.js';

/** Why a frame was dropped: decoding reasons, then the registry's (unknown_device, revoked). */
export type RejectReason =
  | 'oversize'
  | 'bad_topic'
  | 'bad_json'
  | 'schema'
  | 'device_mismatch'
  | 'unknown_device'
  | 'revoked'
  | 'duplicate';

export const REJECT_REASONS: readonly RejectReason[] = [
  'oversize',
  'bad_topic',
  'bad_json',
  'schema',
  'device_mismatch',
  'unknown_device',
  'revoked',
  'duplicate',
];

/** `stamped`: the event carried no `ts` and got its arrival time. */
export type Decoded = { ok: true; event: InferenceEvent; stamped: boolean } | { ok: false; reason: RejectReason; detail: string };

/** An input that passed validation. */
export type ValidEvent = Extract<Decoded, { ok: true }>;

export interface RawFrame {
  topic: string;
  payload: Buffer;
  receivedAt: number;
  /** MQTT QoS it arrived with: a QoS 0 frame may be shed under overload, a QoS 1 frame is back-pressured. */
  qos?: 0 | 1 | 2;
}

/** MQTT frame on `tinyml/<device>/inference` → InferenceEvent, or the reason it was rejected. */
export function decodeMqttFrame(frame: RawFrame): Decoded {
  if (frame.payload.length > MAX_EVENT_BYTES) {
    return { ok: false, reason: 'oversize', detail: `${frame.payload.length} bytes > ${MAX_EVENT_BYTES}` };
  }
  const topicDevice = INFERENCE_TOPIC.exec(frame.topic)?.[1];
  if (topicDevice === undefined) return { ok: false, reason: 'bad_topic', detail: frame.topic };
  let json: unknown;
  try {
    json = JSON.parse(frame.payload.toString('utf8'));
  } catch (err) {
    return { ok: false, reason: 'bad_json', detail: (err as Error).message };
  }
  return decodeEventJson(json, frame.receivedAt, topicDevice);
}

export function decodeEventJson(json: unknown, receivedAt: number, expectedDevice?: string): Decoded {
  const valid = validateEvent(json);
  if (valid) return accepted(valid.event, valid.ts, receivedAt, expectedDevice);
  // Invalid by the hand-written check: zod says why (and has the last word, should they ever differ).
  const parsed = inferenceEventV1.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const detail = first ? `${first.path.join('.') || '(root)'}: ${first.message}` : 'invalid';
    return { ok: false, reason: 'schema', detail };
  }
  const { v: _version, ts, ...rest } = parsed.data;
  return accepted(rest, ts, receivedAt, expectedDevice);
}

function accepted(event: Omit<InferenceEvent, 'ts'>, ts: number | undefined, receivedAt: number, expectedDevice?: string): Decoded {
  if (expectedDevice !== undefined && event.device !== expectedDevice) {
    return { ok: false, reason: 'device_mismatch', detail: `payload device '${event.device}' on topic of '${expectedDevice}'` };
  }
  (event as InferenceEvent).ts = ts ?? receivedAt;
  return { ok: true, event: event as InferenceEvent, stamped: ts === undefined };
}
