/**
 * How long an offline device waits before its next poll: the interval doubled per poll it
 * missed past the offline threshold, up to `maxMs`. A silent device costs the bus one timeout per
 * retry instead of one per cycle, so the others keep their cadence.
 */
export function retryDelay(missesPastOffline: number, intervalMs: number, maxMs: number): number {
  return Math.min(maxMs, intervalMs * 2 ** Math.min(30, missesPastOffline + 1));
}

/** Delay before reopening a bus after `failures` failed opens: 250 ms doubling, up to `maxMs`. */
export function reopenDelay(failures: number, maxMs: number): number {
  return Math.min(maxMs, 250 * 2 ** Math.min(30, failures));
}
