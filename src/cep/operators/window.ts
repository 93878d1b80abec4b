import { asyncScheduler, type SchedulerLike } from 'rxjs';
import { directOperator, type DirectOperator } from './direct-operator.js';
import type { Aggregator } from './aggregates.js';
import { QuietKeys, type Seen } from './quiet-keys.js';
import { alignedWindows, validateSpec, type Span, type WindowSpec } from './window-assign.js';

export interface WindowOptions<T, A, R> {
  spec: WindowSpec;
  keyOf: (event: T) => string;
  /** Event time, ms. */
  timeOf: (event: T) => number;
  /** The value aggregated; undefined skips the event. */
  readingOf: (event: T) => number | string | undefined;
  aggregate: Aggregator<A, R>;
  /** 'close' emits each window once, when it closes; 'update' also emits it after every event it takes. */
  emit?: 'close' | 'update';
  /** Per-key watermark = newest event time − outOfOrderMs: how late events may arrive and still count. */
  outOfOrderMs?: number;
  /** A window stays open this long after the watermark passes its end. */
  latenessMs?: number;
  /** Processing time after which a silent key's open windows are closed, so they do not wait forever. */
  idleMs?: number;
  scheduler?: SchedulerLike;
  /** Open windows carried across re-subscription (rule hot swap). */
  shared?: Map<string, WindowKeyState<A>>;
  /** Idle deadlines carried across re-subscription. */
  sharedIdle?: Seen<undefined>;
}

export type WindowOutput<T, R> =
  | { type: 'window'; key: string; start: number; end: number; value: R; count: number; final: boolean }
  | { type: 'late'; key: string; event: T };

interface Open<A> extends Span {
  acc: A;
  count: number;
  /** Newest event time in the window: the reported end of a count window (whose end is open). */
  lastTs: number;
}

export interface WindowKeyState<A> {
  watermark: number;
  windows: Open<A>[];
  /** Newest event time of the windows `idle` closed: an event no newer is late, a newer one opens windows afresh. */
  idleClosed?: number;
}

/**
 * Keyed event-time windows with incremental aggregates. Events too late for every window they
 * belong to come out as `{ type: 'late' }` (a side output to count). When the source completes,
 * every open window closes, so replays are deterministic.
 */
export function window<T, A, R>(o: WindowOptions<T, A, R>): DirectOperator<T, WindowOutput<T, R>> {
  validateSpec(o.spec);
  const scheduler = o.scheduler ?? asyncScheduler;
  const outOfOrder = o.outOfOrderMs ?? 0;
  const lateness = o.latenessMs ?? 0;
  const limit = countLimit(o.spec);
  return directOperator<T, WindowOutput<T, R>>((emit) => {
    const subscriber = { next: emit };
    const keys = o.shared ?? new Map<string, WindowKeyState<A>>();

    const emitWindow = (key: string, w: Open<A>, final: boolean): void => {
      const end = w.end === Infinity ? w.lastTs : w.end;
      const value = o.aggregate.result(w.acc, end - w.start);
      subscriber.next({ type: 'window', key, start: w.start, end, value, count: w.count, final });
    };

    const close = (key: string, state: WindowKeyState<A>, until: number): void => {
      // The common case, nothing due, must not allocate: this runs after every event.
      if (!anyDue(state.windows, until - lateness)) return;
      const remaining: Open<A>[] = [];
      for (const w of state.windows.sort((a, b) => a.end - b.end || a.start - b.start)) {
        if (w.end + lateness <= until) emitWindow(key, w, true);
        else remaining.push(w);
      }
      state.windows = remaining;
    };

    const idle = new QuietKeys<undefined>(
      scheduler,
      o.idleMs,
      (key) => {
        const state = keys.get(key);
        if (!state) return;
        // Close everything; a straggler older than what they held cannot reopen them, the next event in order can.
        const newest = Math.max(state.idleClosed ?? -Infinity, ...state.windows.map((w) => w.lastTs));
        close(key, state, Infinity);
        state.idleClosed = newest;
      },
      o.sharedIdle,
    );

    const take = (key: string, state: WindowKeyState<A>, w: Open<A>, value: number | string, ts: number): void => {
      const acc = o.aggregate.add(w.acc, value, ts);
      if (acc !== w.acc) w.acc = acc;
      w.count++;
      w.lastTs = Math.max(w.lastTs, ts);
      if (limit !== undefined && w.count >= limit) {
        emitWindow(key, w, true);
        state.windows = state.windows.filter((x) => x !== w);
      } else if (o.emit === 'update') emitWindow(key, w, false);
    };

    const onEvent = (event: T): void => {
      const value = o.readingOf(event);
      if (value === undefined) return;
      const key = o.keyOf(event);
      const ts = o.timeOf(event);
      let state = keys.get(key);
      if (!state) keys.set(key, (state = { watermark: -Infinity, windows: [] }));
      if (state.idleClosed !== undefined && ts <= state.idleClosed) {
        subscriber.next({ type: 'late', key, event });
        if (o.idleMs !== undefined) idle.touch(key, undefined);
        return;
      }
      state.watermark = Math.max(state.watermark, ts - outOfOrder);
      // Tumbling windows, the usual case, take one window without building a list per event.
      const spec = o.spec;
      if (spec.kind === 'tumbling') {
        const w = tumbling(spec.sizeMs, o.aggregate, state, ts, lateness);
        if (w === undefined) subscriber.next({ type: 'late', key, event });
        else take(key, state, w, value, ts);
      } else {
        const touched = place(spec, o.aggregate, state, ts, lateness);
        if (touched.length === 0) subscriber.next({ type: 'late', key, event });
        for (const w of touched) take(key, state, w, value, ts);
      }
      close(key, state, state.watermark);
      if (o.idleMs !== undefined) idle.touch(key, undefined);
    };

    return {
      push: onEvent,
      complete() {
        for (const [key, state] of keys) close(key, state, Infinity);
      },
      dispose: () => idle.dispose(),
    };
  });
}

function findOrOpen<A, R>(state: WindowKeyState<A>, agg: Aggregator<A, R>, start: number, end: number, ts: number): Open<A> {
  const windows = state.windows;
  for (let i = windows.length - 1; i >= 0; i--) {
    const w = windows[i]!;
    if (w.start === start && w.end === end) return w;
  }
  const w: Open<A> = { start, end, acc: agg.init(), count: 0, lastTs: ts };
  windows.push(w);
  return w;
}

/** The tumbling window an event at `ts` goes into, if still open: no span objects, no closures. */
function tumbling<A, R>(
  sizeMs: number,
  agg: Aggregator<A, R>,
  state: WindowKeyState<A>,
  ts: number,
  lateness: number,
): Open<A> | undefined {
  const start = Math.floor(ts / sizeMs) * sizeMs;
  const end = start + sizeMs;
  if (end + lateness <= state.watermark) return undefined;
  return findOrOpen(state, agg, start, end, ts);
}

function anyDue<A>(windows: Open<A>[], until: number): boolean {
  for (let i = 0; i < windows.length; i++) if (windows[i]!.end <= until) return true;
  return false;
}

function countLimit(spec: WindowSpec): number | undefined {
  return spec.kind === 'count' || spec.kind === 'time-or-count' ? spec.size : undefined;
}

/** Finds or opens the windows an event at `ts` goes into; none when all of them have closed. */
function place<A, R>(
  spec: Exclude<WindowSpec, { kind: 'tumbling' }>,
  agg: Aggregator<A, R>,
  state: WindowKeyState<A>,
  ts: number,
  lateness: number,
): Open<A>[] {
  const tooLate = (end: number): boolean => end + lateness <= state.watermark;
  switch (spec.kind) {
    case 'sliding': {
      const out: Open<A>[] = [];
      for (const span of alignedWindows(spec, ts)) {
        if (!tooLate(span.end)) out.push(findOrOpen(state, agg, span.start, span.end, ts));
      }
      return out;
    }
    case 'session': {
      if (tooLate(ts + spec.gapMs)) return [];
      // As Flink: sessions that touch merge, so an event exactly `gap` after the last one extends the session.
      const overlapping = state.windows.filter((w) => ts <= w.end && w.start <= ts + spec.gapMs);
      const merged: Open<A> = { start: ts, end: ts + spec.gapMs, acc: agg.init(), count: 0, lastTs: ts };
      for (const w of overlapping) {
        merged.start = Math.min(merged.start, w.start);
        merged.end = Math.max(merged.end, w.end);
        merged.acc = agg.merge(merged.acc, w.acc);
        merged.count += w.count;
        merged.lastTs = Math.max(merged.lastTs, w.lastTs);
      }
      state.windows = state.windows.filter((w) => !overlapping.includes(w)).concat(merged);
      return [merged];
    }
    case 'count':
    case 'time-or-count': {
      const duration = spec.kind === 'count' ? Infinity : spec.sizeMs;
      let w = state.windows.at(-1);
      if (w && ts >= w.end) w = undefined;
      if (!w) {
        if (tooLate(ts + duration)) return [];
        state.windows.push((w = { start: ts, end: ts + duration, acc: agg.init(), count: 0, lastTs: ts }));
      }
      return [w];
    }
  }
}
