// The seven templates' per-event work written by hand as one function over one record per device:
// no engine, no RxJS, no outputs. Not a product path: an upper bound for any engine running them.
import type { InferenceEvent } from '../normalise/inference-event.js';

interface Device {
  ring: boolean[];
  next: number;
  hits: number;
  below: number;
  persistent: boolean;
  xs: Float64Array;
  ys: Float64Array;
  head: number;
  points: number;
  origin: number;
  sx: number;
  sy: number;
  sxx: number;
  sxy: number;
  rulLow: boolean;
  phN: number;
  phMean: number;
  phSum: number;
  phMin: number;
  lastSeen: number;
  windowStart: number;
  windowCount: number;
  rateLow: boolean;
  pendingSince: number;
  notRecovered: boolean;
  version: string;
}

const fresh = (e: InferenceEvent): Device => ({
  ring: [false, false, false, false, false],
  next: 0,
  hits: 0,
  below: 0,
  persistent: false,
  xs: new Float64Array(60),
  ys: new Float64Array(60),
  head: 0,
  points: 0,
  origin: e.ts,
  sx: 0,
  sy: 0,
  sxx: 0,
  sxy: 0,
  rulLow: false,
  phN: 0,
  phMean: 0,
  phSum: 0,
  phMin: 0,
  lastSeen: 0,
  windowStart: -1,
  windowCount: 0,
  rateLow: false,
  pendingSince: -1,
  notRecovered: false,
  version: e.model.version,
});

/** Returns a step that counts the transitions it would signal. */
export function handFusedTemplates(now: () => number): { step: (e: InferenceEvent) => void; signals: () => number } {
  const devices = new Map<string, Device>();
  let signals = 0;
  const step = (e: InferenceEvent): void => {
    let d = devices.get(e.device);
    if (d === undefined) devices.set(e.device, (d = fresh(e)));
    const a = e.anomaly ?? 0;
    // anomaly-persistence: 3 of 5 ≥ 0.7, clear after 5 below
    const hit = a >= 0.7;
    if (d.ring[d.next]) d.hits--;
    d.ring[d.next] = hit;
    if (hit) d.hits++;
    d.next = (d.next + 1) % 5;
    d.below = hit ? 0 : d.below + 1;
    if (!d.persistent && d.hits >= 3) ((d.persistent = true), signals++);
    else if (d.persistent && d.below >= 5) ((d.persistent = false), d.ring.fill(false), (d.hits = 0), signals++);
    // anomaly-trend-rul: least squares over 60 points, time to 0.9, hysteresis on it
    const x = (e.ts - d.origin) / 1000;
    if (d.points === 60) {
      const ox = d.xs[d.head]!;
      const oy = d.ys[d.head]!;
      d.sx -= ox;
      d.sy -= oy;
      d.sxx -= ox * ox;
      d.sxy -= ox * oy;
    } else d.points++;
    d.xs[d.head] = x;
    d.ys[d.head] = a;
    d.head = (d.head + 1) % 60;
    d.sx += x;
    d.sy += a;
    d.sxx += x * x;
    d.sxy += x * a;
    const den = d.points * d.sxx - d.sx * d.sx;
    if (d.points >= 2 && den > 1e-12) {
      const slope = (d.points * d.sxy - d.sx * d.sy) / den;
      const fitted = (d.sy - slope * d.sx) / d.points + slope * x;
      const rul = fitted >= 0.9 ? 0 : slope <= 0 ? Infinity : (0.9 - fitted) / slope;
      if (!d.rulLow && rul <= 600) ((d.rulLow = true), signals++);
      else if (d.rulLow && rul >= 1800) ((d.rulLow = false), signals++);
    }
    // confidence-drift: Page-Hinkley on the top class, downwards
    const c = -(e.scores?.[e.label ?? ''] ?? 0);
    d.phN++;
    d.phMean += (c - d.phMean) / d.phN;
    d.phSum += c - d.phMean - 0.005;
    if (d.phSum < d.phMin) d.phMin = d.phSum;
    if (d.phN >= 30 && d.phSum - d.phMin > 1) ((d.phN = d.phMean = d.phSum = d.phMin = 0), signals++);
    // device-silent: last seen, in processing time
    d.lastSeen = now();
    // inference-rate-slo: tumbling 1 min count, rate hysteresis
    const start = Math.floor(e.ts / 60_000) * 60_000;
    if (d.windowStart !== start) {
      if (d.windowStart >= 0) {
        const rate = d.windowCount / 60;
        if (!d.rateLow && rate <= 0.5) ((d.rateLow = true), signals++);
        else if (d.rateLow && rate >= 0.8) ((d.rateLow = false), signals++);
      }
      d.windowStart = start;
      d.windowCount = 0;
    }
    d.windowCount++;
    // anomaly-no-recovery: ≥ 0.8 not followed by < 0.3 within 10 min
    if (d.notRecovered && a < 0.3) ((d.notRecovered = false), signals++);
    if (d.pendingSince >= 0) {
      if (e.ts - d.pendingSince > 600_000) ((d.pendingSince = -1), (d.notRecovered = true), signals++);
      else if (a < 0.3) d.pendingSince = -1;
    }
    if (d.pendingSince < 0 && a >= 0.8) d.pendingSince = e.ts;
    // model-version-mismatch: only a changed version touches the group
    if (d.version !== e.model.version) ((d.version = e.model.version), signals++);
  };
  return { step, signals: () => signals };
}
