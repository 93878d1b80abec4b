import { asyncScheduler, type SchedulerLike } from 'rxjs';
import { directOperator, type DirectOperator } from './direct-operator.js';
import { QuietKeys, type Seen } from './quiet-keys.js';

/** How a step's first event follows the previous step's last: Flink's next, followedBy, followedByAny. */
export type Contiguity = 'next' | 'followedBy' | 'followedByAny';
/** How a looping step's events follow each other: Flink's consecutive(), the default, allowCombinations(). */
export type LoopContiguity = 'consecutive' | 'relaxed' | 'combinations';

/** After a match, which partial matches are discarded (Flink's AfterMatchSkipStrategy). */
export type SkipStrategy = { to: 'noSkip' | 'skipToNext' | 'skipPastLastEvent' } | { to: 'skipToFirst' | 'skipToLast'; step: string };

/** The events a partial match took so far, by step: what a condition on earlier steps reads. */
export interface Taken<T> {
  all(step: string): T[];
  first(step: string): T | undefined;
  last(step: string): T | undefined;
}

export interface NfaStep<T> {
  name: string;
  where: (event: T, taken: Taken<T>) => boolean;
  /** How the step follows the one before it; default followedBy. Ignored on the first step. */
  contiguity?: Contiguity;
  /** Events the step takes: default 1..1; oneOrMore is max Infinity; min 0 is optional with min 1. */
  min?: number;
  max?: number;
  /** The step may take no event at all (Flink's optional(): times(2, 4).optional() is 0, 2, 3 or 4). */
  optional?: boolean;
  /** Between the events of a looping step; default relaxed. */
  loop?: LoopContiguity;
  /** A looping step keeps every event it can take instead of also letting the next step have it. */
  greedy?: boolean;
  /** A looping step takes no more events from the first one for which this holds. */
  until?: (event: T, taken: Taken<T>) => boolean;
  /** A negative step: notNext (contiguity next) or notFollowedBy (otherwise) of events matching `where`. */
  negative?: boolean;
  /** The step's first event at most this long after the previous step's last. */
  withinMs?: number;
}

export interface NfaOptions<T> {
  keyOf: (event: T) => string;
  /** Event time, ms. */
  timeOf: (event: T) => number;
  /** The whole match within this long of its first event; needed when the pattern ends with a negative step. */
  withinMs?: number;
  skip?: SkipStrategy;
  /** Partial matches kept per key; past it the oldest go, counted by `onOverflow`. */
  maxPartials?: number;
  onOverflow?: (key: string, dropped: number) => void;
  /** An event older than its key's newest by more than `withinMs` is late: ignored, counted here. */
  onLate?: (key: string, event: T) => void;
  /** Scheduler time ends the partial matches of keys that go quiet for `withinMs`. */
  scheduler?: SchedulerLike;
  /** Per-key state and deadlines, carried across re-subscription (rule hot swap). */
  shared?: { keys: Map<string, KeyRuns<T>>; deadlines: Seen<undefined> };
}

export type NfaOutput<T> =
  | { type: 'match'; key: string; start: number; end: number; events: Record<string, T[]> }
  | { type: 'timeout'; key: string; start: number; events: Record<string, T[]>; waitingFor: string };

/** One taken event; partial matches that share a prefix share its links (the shared buffer). */
interface Link<T> {
  event: T;
  step: number;
  seq: number;
  prev: Link<T> | undefined;
}

/** A partial match: waiting for step `step` (count 0), or inside looping step `step` having taken `count`. */
interface Run<T> {
  step: number;
  count: number;
  link: Link<T>;
  start: number;
  startSeq: number;
  lastTs: number;
  /** A greedy loop this waiting run defers to: while it can take an event, this run cannot. */
  guard?: Run<T>;
  /**
   * Negative steps, by index: notNext conditions the very next event must not meet; notFollowedBy
   * conditions no event may meet. Indices, not the steps, so partial matches are plain data that a
   * checkpoint can write.
   */
  notNext?: number[];
  notAfter?: number[];
  dead: boolean;
}

/** Every run with the same fields in the same order, so the loop over a key's runs stays monomorphic. */
function newRun<T>(
  start: number,
  startSeq: number,
  step: number,
  count: number,
  link: Link<T>,
  lastTs: number,
  guard: Run<T> | undefined,
  notNext: number[] | undefined,
  notAfter: number[] | undefined,
): Run<T> {
  return { step, count, link, start, startSeq, lastTs, guard, notNext, notAfter, dead: false };
}

export interface KeyRuns<T> {
  runs: Run<T>[];
  seq: number;
  newest: number;
  /** Event time of the key's armed wake-up (its earliest deadline), so it is re-armed only when that moves. */
  due?: number;
}

type Step<T> = Required<Pick<NfaStep<T>, 'name' | 'where' | 'contiguity' | 'min' | 'max' | 'optional' | 'loop' | 'greedy' | 'negative'>> &
  Pick<NfaStep<T>, 'until' | 'withinMs'>;

class TakenView<T> implements Taken<T> {
  constructor(
    /** Step name by step index; a link chain lies in one alternative, so a name picks one step. */
    private readonly names: readonly (string | undefined)[],
    public link: Link<T> | undefined,
  ) {}
  all(step: string): T[] {
    const out: T[] = [];
    for (let l = this.link; l; l = l.prev) if (this.names[l.step] === step) out.push(l.event);
    return out.reverse();
  }
  first(step: string): T | undefined {
    return this.all(step)[0];
  }
  last(step: string): T | undefined {
    for (let l = this.link; l; l = l.prev) if (this.names[l.step] === step) return l.event;
    return undefined;
  }
}

function normalise<T>(steps: NfaStep<T>[], o: NfaOptions<T>): Step<T>[] {
  if (steps.length === 0) throw new RangeError('a pattern needs at least one step');
  const out = steps.map(
    (s): Step<T> => ({
      name: s.name,
      where: s.where,
      contiguity: s.contiguity ?? 'followedBy',
      min: Math.max(s.min ?? 1, 1),
      max: s.max ?? Math.max(s.min ?? 1, 1),
      optional: (s.optional ?? false) || s.min === 0,
      loop: s.loop ?? 'relaxed',
      greedy: s.greedy ?? false,
      negative: s.negative ?? false,
      until: s.until,
      withinMs: s.withinMs,
    }),
  );
  const names = new Set(out.map((s) => s.name));
  if (names.size !== out.length) throw new RangeError('step names must be unique');
  out.forEach((s, i) => {
    if (s.max < Math.max(1, s.min)) throw new RangeError(`step ${s.name}: max must be ≥ min and ≥ 1`);
    if (i === 0 && s.optional) throw new RangeError('the first step of a sequence cannot be optional');
    if (i === 0 && s.negative) throw new RangeError('a sequence cannot begin with a negative step');
    if (s.negative && (s.min !== 1 || s.max !== 1 || s.optional))
      throw new RangeError(`step ${s.name}: a negative step takes no quantifier`);
    if (s.negative && out[i - 1]!.optional) throw new RangeError(`step ${s.name}: a negative step cannot follow an optional one`);
    if (s.negative && i === out.length - 1 && (s.contiguity === 'next' || o.withinMs === undefined))
      throw new RangeError('a pattern can end with notFollowedBy only, and only with within');
  });
  return out;
}

/**
 * A pattern as an NFA per key, with Flink CEP's semantics: many partial matches per key (bounded),
 * contiguity per step, quantifiers with greedy / consecutive / combinations loops, `until`,
 * negative steps inside the sequence, conditions on the events taken by earlier steps, `within`
 * on the whole match and per step, after-match skip strategies, and timed-out partial matches as
 * their own output. Events are taken in arrival order (see docs/rules.md); partial matches that
 * share a prefix share its links. A throwing condition errors the stream.
 */
export function nfa<T>(definition: NfaStep<T>[], o: NfaOptions<T>): DirectOperator<T, NfaOutput<T>> {
  return nfaAnyOf([definition], o);
}

/**
 * Alternatives (`or` of sequences) as one NFA: an event may begin a partial match of each, and a
 * match of any discards partial matches of all of them by the skip strategy. The steps of all
 * alternatives lie in one array, each alternative followed by an end slot (undefined) that a
 * complete partial match points at.
 */
export function nfaAnyOf<T>(alternatives: NfaStep<T>[][], o: NfaOptions<T>): DirectOperator<T, NfaOutput<T>> {
  if (alternatives.length === 0) throw new RangeError('a pattern needs at least one alternative');
  const steps: (Step<T> | undefined)[] = [];
  const firsts: number[] = [];
  /** The first step and the end slot of each step's alternative. */
  const startOf: number[] = [];
  const endOf: number[] = [];
  for (const alternative of alternatives) {
    firsts.push(steps.length);
    const normalised = normalise(alternative, o);
    const end = steps.length + normalised.length;
    const start = steps.length;
    for (const s of [...normalised, undefined]) (steps.push(s), startOf.push(start), endOf.push(end));
  }
  const names = steps.map((s) => s?.name);
  /** Each step's own within, Infinity for none and for the end slots. */
  const stepWithin = steps.map((s) => s?.withinMs ?? Infinity);
  if (o.skip && 'step' in o.skip && !names.includes(o.skip.step))
    throw new RangeError(`skip strategy names an unknown step ${o.skip.step}`);
  const view = new TakenView<T>(names, undefined);
  const scheduler = o.scheduler ?? asyncScheduler;
  const cap = o.maxPartials ?? 10_000;
  const skip: SkipStrategy = o.skip ?? { to: 'noSkip' };
  const within = o.withinMs ?? Infinity;

  const events = (link: Link<T> | undefined): Record<string, T[]> => {
    const taken: Link<T>[] = [];
    for (let l = link; l; l = l.prev) taken.push(l);
    const from = startOf[taken[0]?.step ?? 0]!;
    const out: Record<string, T[]> = {};
    for (let i = from; steps[i] !== undefined; i++) if (!steps[i]!.negative) out[steps[i]!.name] = [];
    for (let i = taken.length - 1; i >= 0; i--) out[steps[taken[i]!.step]!.name]!.push(taken[i]!.event);
    return out;
  };
  const waitingFor = (r: Run<T>): string =>
    steps[Math.min(r.count > 0 && r.count >= steps[r.step]!.min ? r.step + 1 : r.step, endOf[r.step]! - 1)]!.name;
  const holds = (test: (e: T, t: Taken<T>) => boolean, e: T, link: Link<T> | undefined): boolean => {
    view.link = link;
    return test(e, view);
  };
  const loopTakes = (r: Run<T>, e: T): boolean => {
    const s = steps[r.step]!;
    return r.count < s.max && !(s.until && holds(s.until, e, r.link)) && holds(s.where, e, r.link);
  };

  return directOperator<T, NfaOutput<T>>((emit) => {
    const subscriber = { next: emit };
    const keys = o.shared?.keys ?? new Map<string, KeyRuns<T>>();
    const flush = (key: string, state: KeyRuns<T>, due: (r: Run<T>) => boolean): Run<T>[] => {
      // The usual case, nothing due, allocates nothing.
      if (!state.runs.some(due)) return state.runs;
      const kept: Run<T>[] = [];
      const told = new Set<Link<T>>();
      for (const r of state.runs) {
        if (!due(r)) {
          kept.push(r);
          continue;
        }
        r.dead = true;
        if (told.has(r.link)) continue;
        told.add(r.link);
        if (steps[r.step] === undefined)
          subscriber.next({ type: 'match', key, start: r.start, end: r.start + within, events: events(r.link) });
        else subscriber.next({ type: 'timeout', key, start: r.start, events: events(r.link), waitingFor: waitingFor(r) });
      }
      return kept;
    };
    /** Event time a partial match runs out at: the whole pattern's within, or the step it waits for. */
    const dueAt = (r: Run<T>): number => Math.min(r.start + within, r.count === 0 ? r.lastTs + stepWithin[r.step]! : Infinity);
    /** One wake-up per key, at the earliest deadline of its partial matches (event time read as scheduler time from the newest event on). */
    const arm = (key: string, state: KeyRuns<T>): void => {
      let due = Infinity;
      for (const r of state.runs) due = Math.min(due, dueAt(r));
      if (due === state.due) return;
      state.due = due;
      // An event exactly at the deadline still belongs to the match, so the wake-up comes 1 ms after.
      if (Number.isFinite(due)) deadlines.touch(key, undefined, Math.max(0, due - state.newest) + 1);
      else deadlines.forget(key);
    };
    const deadlines = new QuietKeys<undefined>(
      scheduler,
      // Any finite timeout makes it schedule wake-ups; `arm` gives each its own delay.
      Number.isFinite(within) || stepWithin.some(Number.isFinite) ? 0 : undefined,
      (key, _none, at) => {
        const state = keys.get(key);
        if (!state) return;
        state.newest += scheduler.now() - at;
        state.due = undefined;
        state.runs = flush(key, state, (r) => dueAt(r) < state.newest);
        if (state.runs.length === 0) keys.delete(key);
        else arm(key, state);
      },
      o.shared?.deadlines,
    );

    /** Emits the event's matches oldest first, each discarding what its skip strategy names. */
    const prune = (runs: Run<T>[], matches: Run<T>[], key: string, ts: number): Run<T>[] => {
      matches.sort((a, b) => a.startSeq - b.startSeq);
      let kept = runs;
      const discarded = new Set<Run<T>>();
      for (const m of matches) {
        if (discarded.has(m)) continue;
        subscriber.next({ type: 'match', key, start: m.start, end: ts, events: events(m.link) });
        const until = skipTarget(m);
        if (until <= m.startSeq) continue;
        const inRange = (r: Run<T>): boolean => r.startSeq >= m.startSeq && r.startSeq < until;
        for (const other of matches) if (inRange(other)) discarded.add(other);
        kept = kept.filter((r) => {
          if (!inRange(r)) return true;
          r.dead = true;
          return false;
        });
      }
      return kept;
    };
    const skipTarget = (m: Run<T>): number => {
      if (skip.to === 'noSkip') return -Infinity;
      if (skip.to === 'skipToNext') return m.startSeq + 1;
      if (skip.to === 'skipPastLastEvent') return m.link.seq + 1;
      if (!('step' in skip)) return -Infinity;
      let first: number | undefined;
      let lastSeq: number | undefined;
      for (let l: Link<T> | undefined = m.link; l; l = l.prev) {
        if (names[l.step] !== skip.step) continue;
        first = l.seq;
        lastSeq ??= l.seq;
      }
      // Flink: no event of the named step is NO_SKIP.
      return (skip.to === 'skipToFirst' ? first : lastSeq) ?? -Infinity;
    };

    return {
      push(event) {
        const key = o.keyOf(event);
        const ts = o.timeOf(event);
        let state = keys.get(key);
        if (!state) {
          // A key with no partial match that this event cannot begin one for would only be made and dropped again.
          if (!firsts.some((first) => holds(steps[first]!.where, event, undefined))) return;
          keys.set(key, (state = { runs: [], seq: 0, newest: ts }));
        }
        if (ts < state.newest - within) return o.onLate?.(key, event);
        state.newest = Math.max(state.newest, ts);
        const seq = state.seq++;
        // Partial matches past their time (none before the key's earliest deadline), then the event through every one left.
        if (!(ts <= (state.due ?? -Infinity))) state.runs = flush(key, state, (r) => ts > dueAt(r));
        const next: Run<T>[] = [];
        const matches: Run<T>[] = [];
        const proceed = (from: Run<T>, link: Link<T>, step: number, guard: Run<T> | undefined, extra: Partial<Run<T>>): void => {
          const base = newRun(from.start, from.startSeq, step, 0, link, ts, guard, extra.notNext, extra.notAfter);
          const s = steps[step];
          if (s === undefined) return void (base.notAfter ? next.push(base) : matches.push(base));
          if (s.negative) {
            const add =
              s.contiguity === 'next' ? { notNext: [...(extra.notNext ?? []), step] } : { notAfter: [...(extra.notAfter ?? []), step] };
            return proceed(from, link, step + 1, guard, { ...extra, ...add });
          }
          next.push(base);
          if (s.optional) proceed(from, link, step + 1, guard, extra);
        };
        /** The event taken as the `count + 1`th of `step` into the partial match `r` (a new one when it has no link). */
        const take = (r: Pick<Run<T>, 'start' | 'startSeq'> & { link?: Link<T> }, step: number, count: number): void => {
          const link: Link<T> = { event, step, seq, prev: r.link };
          const s = steps[step]!;
          const fresh = newRun(r.start, r.startSeq, step, count + 1, link, ts, undefined, undefined, undefined);
          let loop: Run<T> | undefined;
          if (count + 1 < s.max) next.push((loop = fresh));
          if (count + 1 >= s.min) proceed(fresh, link, step + 1, s.greedy ? loop : undefined, {});
        };
        for (const r of state.runs) {
          const s = steps[r.step];
          if (s === undefined) {
            // Complete but for a final notFollowedBy: only its time can end it now.
            if (!r.notAfter!.some((n) => holds(steps[n]!.where, event, r.link))) next.push(r);
            continue;
          }
          if (r.count > 0) {
            const takes = loopTakes(r, event);
            const stopped = s.until !== undefined && holds(s.until, event, r.link);
            if (takes) take(r, r.step, r.count);
            if (!stopped && ((!takes && s.loop !== 'consecutive') || (takes && s.loop === 'combinations'))) next.push(r);
            continue;
          }
          if (r.notNext?.some((n) => holds(steps[n]!.where, event, r.link))) continue;
          const blocked = r.guard !== undefined && !r.guard.dead && loopTakes(r.guard, event);
          if (blocked) continue;
          const takes = holds(s.where, event, r.link);
          if (takes) take(r, r.step, 0);
          const forbidden = r.notAfter?.some((n) => holds(steps[n]!.where, event, r.link)) ?? false;
          const stays = takes ? s.contiguity === 'followedByAny' : s.contiguity !== 'next';
          if (stays && !forbidden)
            next.push(r.notNext ? newRun(r.start, r.startSeq, r.step, r.count, r.link, r.lastTs, undefined, undefined, r.notAfter) : r);
        }
        for (const first of firsts) if (holds(steps[first]!.where, event, undefined)) take({ start: ts, startSeq: seq }, first, 0);
        for (const r of state.runs) r.dead = true;
        for (const r of next) r.dead = false;
        state.runs = prune(next, matches, key, ts);
        if (state.runs.length > cap) {
          const dropped = state.runs.length - cap;
          for (const r of state.runs.splice(0, dropped)) r.dead = true;
          o.onOverflow?.(key, dropped);
        }
        if (state.runs.length === 0) {
          keys.delete(key);
          deadlines.forget(key);
        } else arm(key, state);
      },
      dispose: () => deadlines.dispose(),
    };
  });
}
