/**
 * Edge Impulse's classification result as JSON (`{"classification": {...}, "anomaly": x}`, or the
 * same under `result` as its Linux runner prints it), turned into an InferenceEvent object. The
 * device and model come from the body's own fields or from what the transport knows (headers).
 */
export interface EdgeImpulseContext {
  device?: string;
  modelName?: string;
  modelVersion?: string;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** True for a body in Edge Impulse's shape rather than an InferenceEvent. */
export function isEdgeImpulseJson(body: unknown): body is Json {
  return isObject(body) && (isObject(body.classification) || (isObject(body.result) && isObject(body.result.classification)));
}

export function edgeImpulseEvent(body: Json, context: EdgeImpulseContext): Json {
  const result = isObject(body.result) ? body.result : body;
  const classification = result.classification as Json;
  const scores = Object.fromEntries(Object.entries(classification).filter(([, v]) => typeof v === 'number')) as Record<string, number>;
  const labels = Object.keys(scores);
  const event: Json = {
    device: body.device ?? context.device,
    model: isObject(body.model) ? body.model : { name: body.model ?? context.modelName, version: context.modelVersion ?? '0' },
    ...(body.ts !== undefined ? { ts: body.ts } : {}),
    ...(body.seq !== undefined ? { seq: body.seq } : {}),
  };
  if (labels.length > 0) {
    event.scores = scores;
    event.label = labels.reduce((best, l) => (scores[l]! > scores[best]! ? l : best));
  }
  const anomaly = result.anomaly;
  if (typeof anomaly === 'number') {
    // Edge Impulse lets the score go below zero; the schema's anomaly does not, so the raw value stays in values.
    event.anomaly = Math.max(0, anomaly);
    event.values = { ei_anomaly: anomaly };
  }
  const timing = isObject(body.timing) ? body.timing : undefined;
  if (timing && typeof timing.dsp === 'number' && typeof timing.classification === 'number') {
    event.timing = { dsp_ms: timing.dsp, inference_ms: timing.classification };
  }
  return event;
}
