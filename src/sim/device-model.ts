import type { InferenceEventInput } from '../normalise/inference-event.js';

export const SIM_MODEL = { name: 'motor-anomaly', version: '1.2.0' };

/** Seeded PRNG (mulberry32): the same seed gives the same fleet, for tests and demos alike. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(rand: () => number): number {
  const u = Math.max(rand(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

export interface SimDeviceProfile {
  id: string;
  degrading: boolean;
  /** Ms after fleet start when wear begins. */
  degradeStartMs: number;
  /** Ms from first wear to full failure signature. */
  rampMs: number;
  /** Ms held at full wear before "maintenance" resets the device. */
  holdMs: number;
  /** Ms healthy after maintenance before wear starts again. */
  healthyMs: number;
}

/** Wear in [0,1] at `t` ms after start: a ramp, a plateau, maintenance, and the cycle again. */
export function wearAt(p: SimDeviceProfile, t: number): number {
  if (!p.degrading || t < p.degradeStartMs) return 0;
  const cycle = p.rampMs + p.holdMs + p.healthyMs;
  const phase = (t - p.degradeStartMs) % cycle;
  if (phase < p.rampMs) return phase / p.rampMs;
  return phase < p.rampMs + p.holdMs ? 1 : 0;
}

const round = (x: number, digits = 4): number => Number(x.toFixed(digits));

/** One inference result as a motor-vibration anomaly model on an MCU would report it. */
export function simulateEvent(p: SimDeviceProfile, t: number, nowMs: number, seq: number, rand: () => number): InferenceEventInput {
  const wear = wearAt(p, t);
  const anomaly = Math.max(0, 0.08 + 0.9 * wear + 0.04 * gaussian(rand));
  const raw = {
    normal: Math.max(0.01, 1 - wear + 0.05 * gaussian(rand)),
    imbalance: Math.max(0.01, 0.05 + 0.25 * wear * rand()),
    bearing_wear: Math.max(0.01, 0.9 * wear + 0.03 * Math.abs(gaussian(rand))),
  };
  const total = raw.normal + raw.imbalance + raw.bearing_wear;
  const scores = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, round(v / total)]));
  const label = Object.entries(scores).reduce((best, cur) => (cur[1] > best[1] ? cur : best))[0];
  return {
    device: p.id,
    ts: nowMs,
    seq,
    model: SIM_MODEL,
    label,
    scores,
    anomaly: round(anomaly),
    timing: { dsp_ms: round(12 + gaussian(rand), 2), inference_ms: round(3 + 0.3 * gaussian(rand), 2) },
    values: {
      vibration_rms: round(0.8 + 3 * wear + 0.1 * gaussian(rand), 3),
      temperature_c: round(45 + 15 * wear + 0.5 * gaussian(rand), 2),
    },
  };
}
