import { Observable, type OperatorFunction, type Subscriber, type TeardownLogic } from 'rxjs';

export interface LatestJoinOptions<T, U> {
  keyOf: (event: T) => string;
  otherKeyOf: (other: U) => string;
  /** Without a value of the other stream for the key yet: pass the event on alone, or drop it. */
  requireOther?: boolean;
  shared?: Map<string, U>;
}

export interface Joined<T, U> {
  event: T;
  other?: U;
}

/** Each event with the latest value the other stream had for the same key (a lookup, not a window). */
export function latestJoin<T, U>(other$: Observable<U>, o: LatestJoinOptions<T, U>): OperatorFunction<T, Joined<T, U>> {
  return (source) =>
    new Observable<Joined<T, U>>((subscriber) => {
      const latest = o.shared ?? new Map<string, U>();
      return subscribeBoth(source, other$, subscriber, {
        left(event) {
          const other = latest.get(o.keyOf(event));
          if (other === undefined && o.requireOther) return;
          subscriber.next(other === undefined ? { event } : { event, other });
        },
        right: (u) => void latest.set(o.otherKeyOf(u), u),
      });
    });
}

/**
 * The frame both joins share: subscribes the other stream and the source, turns a throwing
 * callback into an error notification, passes errors on, completes with the source, and
 * unsubscribes both.
 */
function subscribeBoth<T, U, R>(
  source: Observable<T>,
  other$: Observable<U>,
  subscriber: Subscriber<R>,
  on: { left(event: T): void; right(other: U): void },
): TeardownLogic {
  const guard =
    <V>(fn: (v: V) => void) =>
    (v: V): void => {
      try {
        fn(v);
      } catch (err) {
        subscriber.error(err);
      }
    };
  const onError = (err: unknown): void => subscriber.error(err);
  const otherSub = other$.subscribe({ next: guard(on.right), error: onError });
  const sub = source.subscribe({ next: guard(on.left), error: onError, complete: () => subscriber.complete() });
  return () => {
    sub.unsubscribe();
    otherSub.unsubscribe();
  };
}

export interface IntervalJoinOptions<T, U> {
  keyOf: (event: T) => string;
  otherKeyOf: (other: U) => string;
  timeOf: (event: T) => number;
  otherTimeOf: (other: U) => number;
  /** Pairs whose event times differ by at most this much join. */
  withinMs: number;
  /** How far either stream may run behind the other; buffered items older than that are dropped. */
  outOfOrderMs?: number;
}

interface Buffers<T, U> {
  left: T[];
  right: U[];
  newest: number;
}

/**
 * Interval join: every (event, other) pair of the same key with |t(event) − t(other)| ≤ T, emitted
 * when its second half arrives. Each key buffers only what a future item could still join:
 * items older than the key's newest time − T − outOfOrder are pruned.
 */
export function intervalJoin<T, U>(other$: Observable<U>, o: IntervalJoinOptions<T, U>): OperatorFunction<T, Joined<T, U> & { other: U }> {
  const horizon = o.withinMs + (o.outOfOrderMs ?? 0);
  return (source) =>
    new Observable<Joined<T, U> & { other: U }>((subscriber) => {
      const keys = new Map<string, Buffers<T, U>>();
      const buffersOf = (key: string, ts: number): Buffers<T, U> => {
        let b = keys.get(key);
        if (!b) keys.set(key, (b = { left: [], right: [], newest: ts }));
        b.newest = Math.max(b.newest, ts);
        const oldest = b.newest - horizon;
        if (b.left.length > 0 && o.timeOf(b.left[0]!) < oldest) b.left = b.left.filter((e) => o.timeOf(e) >= oldest);
        if (b.right.length > 0 && o.otherTimeOf(b.right[0]!) < oldest) b.right = b.right.filter((u) => o.otherTimeOf(u) >= oldest);
        return b;
      };
      const near = (a: number, b: number): boolean => Math.abs(a - b) <= o.withinMs;
      return subscribeBoth(source, other$, subscriber, {
        left(event) {
          const ts = o.timeOf(event);
          const b = buffersOf(o.keyOf(event), ts);
          b.left.push(event);
          for (const u of b.right) if (near(o.otherTimeOf(u), ts)) subscriber.next({ event, other: u });
        },
        right(u) {
          const ts = o.otherTimeOf(u);
          const b = buffersOf(o.otherKeyOf(u), ts);
          b.right.push(u);
          for (const event of b.left) if (near(o.timeOf(event), ts)) subscriber.next({ event, other: u });
        },
      });
    });
}
