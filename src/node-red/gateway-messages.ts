/** What the gateway republishes on its broker (src/sinks/mqtt/republisher.ts), as Node-RED sees it. */
export type GatewayMessageKind = 'inference' | 'alarm' | 'derived';

const TOPIC = /^tinyml\/([^/]+)\/(event|alarm|derived)$/;
const LEVEL: Record<GatewayMessageKind, string> = { inference: 'event', alarm: 'alarm', derived: 'derived' };
const KIND: Record<string, GatewayMessageKind> = { event: 'inference', alarm: 'alarm', derived: 'derived' };

export const gatewayTopic = (deviceLevel: string, kind: GatewayMessageKind): string => `tinyml/${deviceLevel}/${LEVEL[kind]}`;

export type GatewayMessage =
  | { ok: true; device: string; kind: GatewayMessageKind; payload: Record<string, unknown> }
  | { ok: false; error: string };

/** A message from the gateway's broker, or why it is not one (not JSON, not an object, not our topic). */
export function parseGatewayMessage(topic: string, payload: Buffer): GatewayMessage {
  const match = TOPIC.exec(topic);
  if (!match) return { ok: false, error: `unexpected topic ${topic}` };
  let body: unknown;
  try {
    body = JSON.parse(payload.toString('utf8'));
  } catch (err) {
    return { ok: false, error: `dropped non-JSON payload on ${topic}: ${(err as Error).message}` };
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    return { ok: false, error: `dropped non-object payload on ${topic}` };
  return { ok: true, device: match[1] ?? '', kind: KIND[match[2] ?? ''] ?? 'inference', payload: body as Record<string, unknown> };
}
