import { filter, map, type Observable, type OperatorFunction, type SchedulerLike } from 'rxjs';
import { absence, type Silence } from '../operators/absence.js';
import { cusum, pageHinkley, type ChangePoint } from '../operators/change-detection.js';
import { hysteresis, type LevelChange } from '../operators/hysteresis.js';
import { intervalJoin, latestJoin, type Joined } from '../operators/join.js';
import type { EvictionReason, KeyLimits } from '../operators/keyed-step.js';
import { mismatch } from '../operators/mismatch.js';
import { debounceByKey, dedupe } from '../operators/noise.js';
import { nfa, nfaAnyOf, type NfaOutput, type NfaStep, type SkipStrategy, type Taken } from '../operators/nfa.js';
import { persistence } from '../operators/persistence.js';
import { shiftSeen } from '../operators/quiet-keys.js';
import { trend } from '../operators/trend.js';
import { window, type WindowKeyState, type WindowOutput } from '../operators/window.js';
import type { WindowSpec } from '../operators/window-assign.js';
import { aggregateSet } from './aggregate-set.js';
import { chain, direct, each, fromOperator, keyed, rxOnly, type Staged } from './staged.js';
import { SlotMap, type DeviceTable } from './device-table.js';
import { patternSequences, type PatternStepConfig, type RuleSpec, type Stage } from './language.js';
import { compileEventFilter, compilePredicate } from './predicate.js';
import { numberReader, rowReader, stringReader, type DeviceAttributes, type FieldValue, type Row } from './row.js';

/** What a rule's pipeline decides: a level change, or a one-off event (pattern match, drift, a row). */
export interface Signal {
  key: string;
  device: string;
  ts: number;
  state: 'raised' | 'cleared' | 'event';
  value: number;
  /** The row behind the signal (its fields feed templates and derived events). */
  row: Row;
  /** What the detector adds, e.g. `pattern: timeout`. */
  fields?: Record<string, FieldValue>;
}

/**
 * A rule's keyed state, one map per stage, owned by the engine so that a rule whose state shape
 * is unchanged by a reload hands it to its new pipeline. With a table (rules keyed by device),
 * the maps are slots of the engine's DeviceTable.
 */
export class RuleState {
  private readonly maps = new Map<string, { map: Map<unknown, unknown>; byKey: boolean }>();

  constructor(private readonly table?: DeviceTable) {}

  /** The map of stage `i` (`part` names a second map of the same stage); `byKey` false for a map keyed otherwise. */
  of<K, V>(i: number, part = '', byKey = true): Map<K, V> {
    return this.map(`${i}${part}`, byKey) as Map<K, V>;
  }

  private map(id: string, byKey: boolean): Map<unknown, unknown> {
    let m = this.maps.get(id);
    if (!m) this.maps.set(id, (m = { map: byKey && this.table ? this.table.map() : new Map(), byKey }));
    return m.map;
  }

  /** Every map's entries as plain data, for a checkpoint: taken between two events, so it is consistent. */
  capture(): StateMaps {
    return [...this.maps].map(([id, { map, byKey }]) => {
      const keys: unknown[] = [];
      const values: unknown[] = [];
      for (const [key, value] of map) (keys.push(key), values.push(value));
      return { id, byKey, keys, values };
    });
  }

  /**
   * Fills the maps from a checkpoint, before the rule's pipeline subscribes and adopts them; its
   * deadlines move `delta` ms later (the time since the checkpoint), so time stood still meanwhile.
   */
  restore(maps: StateMaps, delta = 0): void {
    for (const { id, byKey, keys, values } of maps) {
      const map = this.map(id, byKey);
      for (let i = 0; i < keys.length; i++) map.set(keys[i], values[i]);
      if (delta !== 0) shiftSeen(map, delta);
    }
  }

  /** Gives the table slots back: the rule restarted or went away. */
  release(): void {
    for (const { map } of this.maps.values()) if (map instanceof SlotMap) this.table?.release(map.slot);
    this.maps.clear();
  }

  /** Keys held: the largest stage map, since every stage keys by the same field. */
  get keys(): number {
    let n = 0;
    for (const { map } of this.maps.values()) n = Math.max(n, map.size);
    return n;
  }

  /** Entries across all stage maps: a proxy for memory held. */
  get size(): number {
    let n = 0;
    for (const { map } of this.maps.values()) n += map.size;
    return n;
  }

  /** Partial matches held by the rule's patterns (the `runs` maps of its NFA stages). */
  get partialMatches(): number {
    let n = 0;
    for (const [id, { map }] of this.maps)
      if (id.endsWith('runs')) for (const k of map.values()) n += (k as { runs: unknown[] }).runs.length;
    return n;
  }
}

/** A rule state's maps as data, keys and values side by side (one array fewer per entry to encode): what a checkpoint holds. */
export type StateMaps = { id: string; byKey: boolean; keys: unknown[]; values: unknown[] }[];

export interface PlanContext {
  /** Every event the engine sees, before the rule's input filter: the other side of joins. */
  all$: Observable<Row>;
  scheduler: SchedulerLike;
  state: RuleState;
  /** An event too late for the stage (behind its watermark, or its pattern's within). */
  onLate?: (row: Row) => void;
  onEvict?: (reason: EvictionReason) => void;
  /** A device's attributes from the config, for rows a stage builds (windows). */
  attributesOf?: (device: string) => DeviceAttributes | undefined;
}

/** A rule built for one run of it: its stages as RxJS, and as direct calls when every stage has that form. */
export type CompiledRule = (ctx: PlanContext) => Staged<Row, Signal>;

/** Turns a validated rule into its stages, from rows to signals. */
export function compileRule(rule: RuleSpec): CompiledRule {
  const keyOf = keyReader(rule.key);
  return (ctx) => {
    const limits: KeyLimits = {
      maxKeys: rule.state?.maxKeys,
      overflow: rule.state?.overflow,
      ttlMs: rule.state?.ttl,
      scheduler: ctx.scheduler,
      onEvict: (_key, reason) => ctx.onEvict?.(reason),
    };
    const last = rule.pipeline.length - 1;
    let rows: Staged<Row, Row> | undefined;
    for (let i = 0; i < last; i++) rows = chain(rows, transform(rule.pipeline[i]!, i, { keyOf, ctx }));
    const final = rule.pipeline[last]!;
    const detect = detector(final, last, { keyOf, ctx, limits });
    if (detect) return chain(rows, detect);
    return chain(
      chain(rows, transform(final, last, { keyOf, ctx })),
      each<Row, Signal>((row, emit) => emit(rowSignal(row, keyOf(row)))),
    );
  };
}

/** A field as a state key: the device fast, any other field as text ('' when absent). */
function keyReader(field: string): (r: Row) => string {
  if (field === 'device') return (r) => r.device;
  if (field === 'none') return () => 'all';
  const read = stringReader(field);
  return (r) => read(r) ?? '';
}

interface StageContext {
  keyOf: (r: Row) => string;
  ctx: PlanContext;
  limits?: KeyLimits;
}

function rowSignal(row: Row, key: string): Signal {
  let value = 0;
  for (const v of Object.values(row.fields ?? {})) {
    if (typeof v === 'number') {
      value = v;
      break;
    }
  }
  return { key, device: row.device, ts: row.ts, state: 'event', value, row };
}

/** A row with more fields. Built field by field: object spread of rows is a slow path in V8 and this runs per event. */
function withFields(row: Row, fields: Record<string, FieldValue>): Row {
  const merged = row.fields === undefined ? fields : Object.assign({}, row.fields, fields);
  return { device: row.device, ts: row.ts, event: row.event, fields: merged, attrs: row.attrs };
}

function transform(stage: Stage, i: number, s: StageContext): Staged<Row, Row> {
  const { keyOf, ctx } = s;
  const state = ctx.state;
  if (stage.filter) {
    const keeps = compilePredicate(stage.filter);
    return each<Row, Row>((r, emit) => {
      if (keeps(r)) emit(r);
    });
  }
  if (stage.trend) {
    const t = stage.trend;
    const fits = trend(
      { window: t.points, keyOf, readingOf: numberReader(t.field), timeOf: (r: Row) => r.ts, threshold: t.threshold },
      state.of(i),
    );
    return keyed(fits, (fit, emit: (r: Row) => void) =>
      emit(
        withFields(fit.event, {
          slope: fit.slopePerSecond,
          fitted: fit.fitted,
          // Never reaching the threshold is an infinite remaining life, so a `below` threshold on rul clears.
          rul: t.threshold === undefined ? undefined : fit.timeToThresholdMs !== undefined ? fit.timeToThresholdMs / 1000 : Infinity,
        }),
      ),
    );
  }
  if (stage.window) {
    const w = stage.window;
    const spec: WindowSpec =
      w.type === 'tumbling'
        ? { kind: 'tumbling', sizeMs: w.size! }
        : w.type === 'sliding'
          ? { kind: 'sliding', sizeMs: w.size!, slideMs: w.slide! }
          : w.type === 'session'
            ? { kind: 'session', gapMs: w.gap! }
            : w.type === 'count'
              ? { kind: 'count', size: w.count! }
              : { kind: 'time-or-count', sizeMs: w.size!, size: w.count! };
    const windows = window({
      spec,
      keyOf,
      timeOf: (r: Row) => r.ts,
      readingOf: rowReader(w.field),
      aggregate: aggregateSet(w.aggregates, w.ewmaAlpha),
      emit: w.emit,
      outOfOrderMs: w.outOfOrder,
      latenessMs: w.lateness,
      idleMs: w.idle,
      scheduler: ctx.scheduler,
      shared: state.of<string, WindowKeyState<unknown[]>>(i),
      sharedIdle: state.of(i, 'idle'),
    });
    return chain(
      fromOperator(windows),
      each<WindowOutput<Row, Record<string, FieldValue>>, Row>((out, emit) => {
        if (out.type === 'late') return ctx.onLate?.(out.event);
        emit({
          device: out.key,
          ts: out.end,
          fields: { ...out.value, 'window.start': out.start, 'window.end': out.end, 'window.count': out.count },
          attrs: ctx.attributesOf?.(out.key),
        });
      }),
    );
  }
  return rxOnly(transformOperator(stage, i, s));
}

/** The transforms that run as RxJS only. */
function transformOperator(stage: Stage, i: number, s: StageContext): OperatorFunction<Row, Row> {
  const { keyOf, ctx } = s;
  const state = ctx.state;
  if (stage.dedupe) {
    const d = stage.dedupe;
    const idOf = rowReader(d.by);
    return dedupe({ keyOf, idOf, withinMs: d.within, maxIds: d.maxIds, scheduler: ctx.scheduler, shared: state.of(i) });
  }
  if (stage.debounce) return debounceByKey({ keyOf, quietMs: stage.debounce.quiet, scheduler: ctx.scheduler, shared: state.of(i) });
  if (stage.join) {
    const j = stage.join;
    const accepts = compileEventFilter(j.with);
    const other$ = accepts ? ctx.all$.pipe(filter(accepts)) : ctx.all$;
    const otherKeyOf = keyReader(j.on);
    const byKey = j.by === undefined ? keyOf : keyReader(j.by);
    const readers = j.fields.map((f) => [`${j.as}.${f}`, rowReader(f)] as const);
    const joined = (p: Joined<Row, Row>): Row => {
      const fields: Record<string, FieldValue> = {};
      for (const [name, read] of readers) fields[name] = p.other ? read(p.other) : undefined;
      const row = withFields(p.event, fields);
      // A pair is known once its later half arrives: that is its time.
      if (p.other && p.other.ts > row.ts) row.ts = p.other.ts;
      return row;
    };
    if (j.within === undefined)
      return (rows) => rows.pipe(latestJoin(other$, { keyOf: byKey, otherKeyOf, shared: state.of(i) }), map(joined));
    const timeOf = (r: Row): number => r.ts;
    const o = { keyOf: byKey, otherKeyOf, timeOf, otherTimeOf: timeOf, withinMs: j.within, outOfOrderMs: j.outOfOrder };
    return (rows) => rows.pipe(intervalJoin(other$, o), map(joined));
  }
  throw new Error(`stage ${i}: not a transform`);
}

function level(c: LevelChange<Row>, value = c.value): Signal {
  return {
    key: c.key,
    device: c.event.device,
    ts: c.event.ts,
    state: c.state,
    value,
    row: c.event,
    ...(c.evicted ? { fields: { evicted: c.evicted } } : {}),
  };
}

function detector(stage: Stage, i: number, s: StageContext): Staged<Row, Signal> | undefined {
  const { keyOf, ctx, limits } = s;
  const state = ctx.state;
  if (stage.persistence) {
    const p = stage.persistence;
    const o = { keyOf, readingOf: numberReader(p.field), threshold: p.atLeast, n: p.n, m: p.m, clearAfter: p.clearAfter };
    return keyed(persistence(o, state.of(i), limits), (c, emit: (sig: Signal) => void) => emit(level(c)));
  }
  if (stage.threshold) {
    const h = stage.threshold;
    const read = numberReader(h.field);
    const up = h.above !== undefined;
    const readingOf = up ? read : (r: Row) => ((v) => (v === undefined ? undefined : -v))(read(r));
    const [raiseAt, clearAt] = up ? [h.above!, h.clearBelow!] : [-h.below!, -h.clearAbove!];
    return keyed(hysteresis({ keyOf, readingOf, raiseAt, clearAt }, state.of(i), limits), (c, emit: (sig: Signal) => void) =>
      emit(level(c, up ? c.value : -c.value)),
    );
  }
  if (stage.drift) {
    const d = stage.drift;
    const common = { keyOf, readingOf: numberReader(d.field), direction: d.direction };
    const detect =
      d.method === 'page-hinkley'
        ? pageHinkley({ ...common, delta: d.delta, lambda: d.lambda, minPoints: d.minPoints }, state.of(i), limits)
        : cusum({ ...common, slack: d.slack, threshold: d.limit, warmup: d.warmup }, state.of(i), limits);
    return keyed(detect, (c: ChangePoint<Row>, emit: (sig: Signal) => void) =>
      emit({
        key: c.key,
        device: c.event.device,
        ts: c.event.ts,
        state: 'event',
        value: c.statistic,
        row: c.event,
        fields: { direction: c.direction, detector: c.detector, points: c.points },
      }),
    );
  }
  if (stage.mismatch) {
    const m = stage.mismatch;
    const detect = mismatch(
      { groupOf: keyReader(m.group), memberOf: keyOf, valueOf: stringReader(m.field) },
      state.of(i, '', false),
      state.of(i, 'member'),
    );
    return keyed(detect, (changes, emit: (sig: Signal) => void) => {
      for (const c of changes)
        emit({
          key: c.key,
          device: c.key,
          ts: c.event.ts,
          state: c.state,
          value: 0,
          row: { device: c.key, ts: c.event.ts },
          fields: { [m.field]: c.value, majority: c.majority },
        });
    });
  }
  if (stage.absence) {
    const timeoutMs = stage.absence.timeout;
    const silences = fromOperator(absence<Row>({ timeoutMs, keyOf, scheduler: ctx.scheduler, shared: state.of(i) }));
    return latched(
      state.of(i, 'silent'),
      keyOf,
      () => true,
      chain(
        silences,
        each<Silence<Row>, Signal>((q, emit) =>
          emit({ key: q.key, device: q.last.device, ts: q.last.ts + timeoutMs, state: 'raised', value: timeoutMs / 1000, row: q.last }),
        ),
      ),
    );
  }
  /** Pattern options over rows, with partial matches and their deadlines kept in the rule state. */
  const patternOptions = (withinMs: number) => ({
    keyOf,
    timeOf: (r: Row) => r.ts,
    withinMs,
    scheduler: ctx.scheduler,
    onLate: ctx.onLate && ((_key: string, r: Row) => ctx.onLate!(r)),
    shared: { keys: state.of<string, never>(i, 'runs'), deadlines: state.of<string, never>(i, 'deadlines') },
  });
  if (stage.pattern) {
    const p = stage.pattern;
    const o = patternOptions(p.within);
    const sequences = patternSequences(p).map(({ steps }) => steps.map((step) => nfaStep(step, p.contiguity)));
    const anchor = sequences[0]![0]!.name;
    const matched = { max: p.matched.max, fields: p.matched.fields.map((f) => [f, rowReader(f)] as const) };
    const detect = nfaAnyOf(p.and ? permutations(sequences).map((order) => order.flat()) : sequences, {
      ...o,
      skip: skipStrategy(p.skip),
      maxPartials: p.maxPartials,
      onOverflow: () => ctx.onEvict?.('partials'),
    });
    return chain(
      fromOperator(detect),
      each<NfaOutput<Row>, Signal>((m, emit) => {
        if (p.emit === 'both' || p.emit === m.type) emit(patternSignal(m, p.within, anchor, matched));
      }),
    );
  }
  if (stage.notFollowedBy) {
    const n = stage.notFollowedBy;
    const then = compilePredicate(n.then);
    const steps = [
      { name: 'first', where: compilePredicate(n.first) },
      { name: 'then', where: then },
    ];
    const o = patternOptions(n.within);
    const timeouts = chain(
      fromOperator(nfa(steps, { ...o, skip: { to: 'skipPastLastEvent' } })),
      each<NfaOutput<Row>, Signal>((m, emit) => {
        if (m.type === 'timeout') emit({ ...patternSignal(m, n.within, 'first'), state: 'raised' });
      }),
    );
    return latched(state.of(i, 'late'), keyOf, then, timeouts);
  }
  return undefined;
}

/** A step of the rule language as an NFA step. */
function nfaStep(step: PatternStepConfig, contiguity: 'relaxed' | 'strict'): NfaStep<Row> {
  const condition = compilePredicate(step.where);
  const from = step.from && compileEventFilter(step.from);
  const where = from ? (r: Row, t?: Taken<Row>) => from(r) && condition(r, t) : condition;
  const [min, max] = Array.isArray(step.times)
    ? step.times
    : step.times !== undefined
      ? [step.times, step.times]
      : step.timesOrMore !== undefined
        ? [step.timesOrMore, Infinity]
        : step.oneOrMore
          ? [1, Infinity]
          : [1, 1];
  const until = step.until && compilePredicate(step.until);
  return {
    name: step.name,
    where,
    contiguity: step.after ?? (contiguity === 'strict' ? 'next' : 'followedBy'),
    min,
    max,
    optional: step.optional ?? false,
    greedy: step.greedy ?? false,
    loop: step.loop ?? 'relaxed',
    negative: step.not ?? false,
    ...(until ? { until } : {}),
    ...(step.within !== undefined ? { withinMs: step.within } : {}),
  };
}

function skipStrategy(skip: NonNullable<Stage['pattern']>['skip']): SkipStrategy {
  if (typeof skip === 'string') return { to: skip };
  return 'skipToFirst' in skip ? { to: 'skipToFirst', step: skip.skipToFirst } : { to: 'skipToLast', step: skip.skipToLast };
}

/** Every order of the items: `and` of n items is the `or` of their n! sequences (n ≤ 4). */
function permutations<X>(items: X[]): X[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((x, k) => permutations([...items.slice(0, k), ...items.slice(k + 1)]).map((rest) => [x, ...rest]));
}

interface MatchedFields {
  max: number;
  fields: (readonly [string, (r: Row) => FieldValue])[];
}

/**
 * A match or timeout as a signal: on the device of the `anchor` step's first event (the pattern's
 * first step as written, whatever order `and` took them in), else of the first event taken.
 */
function patternSignal(m: NfaOutput<Row>, withinMs: number, anchor: string, matched?: MatchedFields): Signal {
  const taken = Object.values(m.events).flat();
  const first = taken[0]!;
  const lastRow = taken[taken.length - 1]!;
  const timedOut = m.type === 'timeout';
  const fields: Record<string, FieldValue> = { pattern: m.type, start: m.start };
  if (timedOut) fields.waitingFor = m.waitingFor;
  if (matched)
    for (const [step, events] of Object.entries(m.events)) {
      fields[`${step}.count`] = events.length;
      for (let k = 0; k < Math.min(events.length, matched.max); k++)
        for (const [name, read] of matched.fields) fields[`${step}.${k}.${name}`] = read(events[k]!);
    }
  return {
    key: m.key,
    device: (m.events[anchor]?.[0] ?? first).device,
    ts: timedOut ? m.start + withinMs : m.end,
    state: 'event',
    value: taken.length,
    row: timedOut ? first : lastRow,
    fields,
  };
}

/**
 * A detector whose raises latch per key until a row for which `clears` holds arrives: absence
 * (any event), not-followed-by (the awaited event). The latch is rule state, so it survives a reload.
 */
function latched(
  raised: Map<string, true>,
  keyOf: (r: Row) => string,
  clears: (r: Row) => boolean,
  detect: Staged<Row, Signal>,
): Staged<Row, Signal> {
  const inner = detect.direct!;
  return direct((emit) => {
    const raises = inner((sig) => {
      if (raised.has(sig.key)) return;
      raised.set(sig.key, true);
      emit(sig);
    });
    return {
      push(r) {
        // The clear goes out before the row reaches the detector, which may raise again on it.
        if (raised.size > 0 && clears(r)) {
          const key = keyOf(r);
          if (raised.delete(key)) emit({ key, device: r.device, ts: r.ts, state: 'cleared', value: 0, row: r });
        }
        raises.push(r);
      },
      complete: () => raises.complete?.(),
      dispose: () => raises.dispose(),
    };
  });
}
