import type { OperatorFunction } from 'rxjs';
import { keyedStep, type KeyLimits } from './keyed-step.js';
import type { AlarmTransition } from '../../core/alarm.js';
import type { InferenceEvent } from '../../normalise/inference-event.js';

export interface PersistenceOptions {
  rule: string;
  threshold: number;
  n: number;
  m: number;
  clearAfter: number;
  severity: number;
  message?: string;
}

/** Per-key window: the last `m` hit flags in a ring, their count, and the alarm latch. */
export interface PersistenceWindow {
  ring: boolean[];
  next: number;
  hits: number;
  belowStreak: number;
  active: boolean;
  /** Event time of the key's newest event: the time of a clear caused by forgetting the key. */
  lastTs: number;
}

export type PersistenceState = Map<string, PersistenceWindow>;

/**
 * Keyed by device: raises when anomaly ≥ threshold in `n` of the last `m` events, clears after
 * `clearAfter` consecutive events below it. Events without an anomaly score are ignored.
 * `state` is passed in so a reloaded, unchanged rule keeps its open windows and latched alarms.
 */
export function anomalyPersistence(
  options: PersistenceOptions,
  state?: PersistenceState,
  limits?: KeyLimits,
): OperatorFunction<InferenceEvent, AlarmTransition> {
  return keyedStep<InferenceEvent, PersistenceWindow, AlarmTransition>(
    {
      keyOf: (e) => e.device,
      init: (e) => ({ ring: new Array<boolean>(options.m).fill(false), next: 0, hits: 0, belowStreak: 0, active: false, lastTs: e.ts }),
      step: (window, event) => step(options, window, event),
      evicted: (w, device, reason) =>
        w.active
          ? {
              device,
              rule: options.rule,
              state: 'cleared',
              severity: options.severity,
              value: 0,
              ts: w.lastTs,
              message: `rule state for the device dropped (${reason}); alarm reset`,
            }
          : undefined,
    },
    state,
    limits,
  );
}

function step(o: PersistenceOptions, w: PersistenceWindow, event: InferenceEvent): AlarmTransition | undefined {
  w.lastTs = Math.max(w.lastTs, event.ts);
  if (event.anomaly === undefined) return undefined;
  const hit = event.anomaly >= o.threshold;
  if (w.ring[w.next]) w.hits--;
  w.ring[w.next] = hit;
  if (hit) w.hits++;
  w.next = (w.next + 1) % o.m;
  w.belowStreak = hit ? 0 : w.belowStreak + 1;

  if (!w.active && w.hits >= o.n) {
    w.active = true;
    return transition(o, event, 'raised');
  }
  if (w.active && w.belowStreak >= o.clearAfter) {
    w.active = false;
    w.ring.fill(false);
    w.hits = 0;
    return transition(o, event, 'cleared');
  }
  return undefined;
}

function transition(o: PersistenceOptions, event: InferenceEvent, state: 'raised' | 'cleared'): AlarmTransition {
  const value = event.anomaly ?? 0;
  const message =
    state === 'raised'
      ? (o.message ?? `anomaly ≥ ${o.threshold} in ${o.n} of the last ${o.m} events`)
      : `anomaly below ${o.threshold} for ${o.clearAfter} consecutive events`;
  return { device: event.device, rule: o.rule, state, severity: o.severity, value, ts: event.ts, message };
}
