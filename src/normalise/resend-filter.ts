import type { InferenceEvent } from './inference-event.js';

/** How long, and for how many sequence numbers per device, a stamped event is remembered. */
export const RESEND_WINDOW = { ms: 10 * 60_000, perDevice: 256, devices: 100_000 } as const;

interface Seen {
  seq: number;
  fingerprint: number;
  at: number;
}

/**
 * Recognises a resend of an event that carried no `ts` (so the gateway stamped it with its
 * arrival time): a QoS 1 publish repeated after a reconnect, an HTTP POST retried. The resend
 * would get a later stamp and so become a second point in InfluxDB. Same device, same `seq` and
 * the same content within the window is the same event; a device that restarts its counter sends
 * new content under an old `seq`, which is not taken for a resend. Events without `seq` cannot be
 * told apart from a repeat reading and always pass.
 */
export class ResendFilter {
  private readonly devices = new Map<string, Seen[]>();

  constructor(private readonly window: { ms: number; perDevice: number; devices: number } = RESEND_WINDOW) {}

  /** True when `event` (stamped at `now`) is a resend of one seen within the window. */
  isResend(event: InferenceEvent, now: number): boolean {
    const seq = event.seq;
    if (seq === undefined) return false;
    const fingerprint = fingerprintOf(event);
    let seen = this.devices.get(event.device);
    if (seen === undefined) {
      if (this.devices.size >= this.window.devices) this.devices.delete(this.devices.keys().next().value!);
      this.devices.set(event.device, (seen = []));
    }
    for (let i = seen.length - 1; i >= 0; i--) {
      const s = seen[i]!;
      if (now - s.at > this.window.ms) break;
      if (s.seq === seq && s.fingerprint === fingerprint) return true;
    }
    seen.push({ seq, fingerprint, at: now });
    if (seen.length > this.window.perDevice) seen.shift();
    return false;
  }
}

/** A 53-bit hash (cyrb53) of the event without its stamp: equal content, equal fingerprint. */
function fingerprintOf(event: InferenceEvent): number {
  const text = JSON.stringify(event, function (this: unknown, key, value: unknown) {
    return this === event && key === 'ts' ? undefined : value;
  });
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}
