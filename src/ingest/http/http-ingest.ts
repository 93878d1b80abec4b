import type { IncomingHttpHeaders } from 'node:http';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import { decodeEventJson, type ValidEvent } from '../../normalise/decode-mqtt.js';
import { edgeImpulseEvent, isEdgeImpulseJson } from '../../normalise/edge-impulse-json.js';
import type { IngestGate } from '../mqtt/transport.js';
import type { HashedTokens } from '../../core/hashed-tokens.js';
import type { KeyedRateLimit } from './rate-limit.js';
import { anonymousMayIngest, anonymousRefusal, type AnonymousIngest } from '../../core/loopback.js';

export type HttpRefusal = 'oversize' | 'unauthorized' | 'bad_json' | 'schema' | 'forbidden' | 'rate_limited' | 'full' | 'overloaded';
export const HTTP_REFUSALS: readonly HttpRefusal[] = [
  'oversize',
  'unauthorized',
  'bad_json',
  'schema',
  'forbidden',
  'rate_limited',
  'full',
  'overloaded',
];

export interface HttpIngestSink {
  /** An event validated here: the pipeline takes it as it is, without a second check. */
  event(decoded: ValidEvent, receivedAt: number): void;
  refused(reason: HttpRefusal): void;
}

export interface IngestAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export const MAX_BATCH = 1000;

const header = (h: IncomingHttpHeaders, name: string): string | undefined => {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
};

/**
 * POST /ingest: one InferenceEvent, a JSON array of them, or Edge Impulse's classification JSON.
 * A batch is taken whole or not at all, so a client retries it as it is: 413 body too large,
 * 401 unknown token, 400 the first schema problem, 403 an event for another device than the
 * token's (a rogue node), 429 over the device's rate, 503 while the history buffer is full.
 */
export class HttpIngest {
  constructor(
    private readonly options: { requireToken: boolean; anonymous: AnonymousIngest; overloaded?: () => boolean },
    private readonly tokens: HashedTokens,
    private readonly limit: KeyedRateLimit,
    private readonly sink: HttpIngestSink,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly gate?: IngestGate,
  ) {}

  async handle(headers: IncomingHttpHeaders, body: string | undefined, remote: string): Promise<IngestAnswer> {
    if (body === undefined) return this.refuse('oversize', 413, 'body too large');
    // Before any parsing: under overload a client that can wait is told to, and costs next to nothing.
    if (this.options.overloaded?.())
      return this.refuse('overloaded', 503, 'the gateway is overloaded; retry later', { 'retry-after': '1' });
    const auth = /^Bearer\s+(\S+)$/i.exec(header(headers, 'authorization') ?? '');
    const tokenDevice = auth ? await this.tokens.ownerOf(auth[1]!) : undefined;
    if (auth && !tokenDevice)
      return this.refuse('unauthorized', 401, 'unknown token', { 'www-authenticate': 'Bearer error="invalid_token"' });
    if (!auth && this.options.requireToken)
      return this.refuse('unauthorized', 401, 'a device token is required', { 'www-authenticate': 'Bearer' });
    if (!auth && !anonymousMayIngest(this.options.anonymous, remote))
      return this.refuse('unauthorized', 401, anonymousRefusal(this.options.anonymous, 'a device token'), { 'www-authenticate': 'Bearer' });

    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch (err) {
      return this.refuse('bad_json', 400, `body is not JSON: ${(err as Error).message}`);
    }
    const items = Array.isArray(parsed) ? parsed : [parsed];
    if (items.length === 0 || items.length > MAX_BATCH) return this.refuse('schema', 400, `a batch holds 1 to ${MAX_BATCH} events`);
    const context = {
      device: header(headers, 'x-device-id') ?? tokenDevice,
      modelName: header(headers, 'x-model-name'),
      modelVersion: header(headers, 'x-model-version'),
    };
    const now = this.clock.now();
    const events: { decoded: ValidEvent; device: string }[] = [];
    for (const [i, item] of items.entries()) {
      const json = isEdgeImpulseJson(item)
        ? edgeImpulseEvent(item, context)
        : typeof item === 'object' && item !== null && !('device' in item) && context.device !== undefined
          ? { ...item, device: context.device }
          : item;
      const decoded = decodeEventJson(json, now);
      if (!decoded.ok) return this.refuse('schema', 400, Array.isArray(parsed) ? `events[${i}].${decoded.detail}` : decoded.detail);
      events.push({ decoded, device: decoded.event.device });
    }
    for (const { device } of events) {
      if (tokenDevice !== undefined && device !== tokenDevice) {
        this.log.warn({ device, token: tokenDevice, remote }, 'rogue node: an event for another device than the token’s refused');
        return this.refuse('forbidden', 403, `the token of ${tokenDevice} may not post events of ${device}`);
      }
      if (tokenDevice === undefined && this.tokens.protects(device)) {
        this.log.warn({ device, remote }, 'rogue node: an event for a device with a token, sent without it, refused');
        return this.refuse('forbidden', 403, `${device} posts with its token`);
      }
    }
    const perDevice = new Map<string, number>();
    for (const { device } of events) perDevice.set(device, (perDevice.get(device) ?? 0) + 1);
    for (const [device, n] of perDevice) {
      const taken = this.limit.take(device, n);
      if (!taken.ok)
        return this.refuse('rate_limited', 429, `${device} is over its rate`, { 'retry-after': String(taken.retryAfterSeconds) });
    }
    if (this.gate && !this.gate.hasRoom()) return this.refuse('full', 503, 'the history buffer is full', { 'retry-after': '5' });
    for (const e of events) this.sink.event(e.decoded, now);
    await this.gate?.durable();
    return { status: 200, body: { accepted: events.length } };
  }

  private refuse(reason: HttpRefusal, status: number, error: string, headers?: Record<string, string>): IngestAnswer {
    this.sink.refused(reason);
    return { status, body: { error }, ...(headers ? { headers } : {}) };
  }
}
