import t from 'tap';
import { Subject, VirtualTimeScheduler } from 'rxjs';
import { checkedRule } from '../../src/cep/rules/check-fields.js';
import { RuleEngine } from '../../src/cep/rules/engine.js';
import { AGGREGATES, type RuleSpec } from '../../src/cep/rules/language.js';
import type { AlarmTransition } from '../../src/core/alarm.js';
import type { InferenceEvent } from '../../src/normalise/inference-event.js';

/**
 * Random rules that pass `check` must not throw at run time: each batch runs beside a healthy
 * rule, which must still raise and clear its alarm, and none may end stopped-by-error. A rule that
 * does is printed as JSON: tighten the schema (check-fields.ts, language.ts) until it is refused.
 */

const BATCHES = 50;
const RULES_PER_BATCH = 15;
const EVENTS_PER_BATCH = 300;
/** A batch normally takes well under 0.5 s; much longer means a rule runs away (e.g. thousands of windows per event). */
const SLOW_BATCH_S = 3;

/** mulberry32: a tiny seeded generator, so a failing seed replays exactly. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

class Random {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  /** Some of the items, in a random order, without repeats. */
  some<T>(items: readonly T[], lo: number, hi: number): T[] {
    const pool = [...items];
    return Array.from({ length: Math.min(pool.length, this.int(lo, hi)) }, () => pool.splice(Math.floor(this.next() * pool.length), 1)[0]!);
  }
}

type Raw = Record<string, unknown>;

const EVENT_FIELDS = [
  'anomaly',
  'confidence',
  'label',
  'model.version',
  'seq',
  'model.name',
  'values.temp_c',
  'scores.wear',
  'device',
  'ts',
];
const COMPUTED = ['slope', 'fitted', 'rul', 'avg', 'max', 'min', 'count', 'p95', 'ewma', 'rate', 'delta', 'window.count'];
const COMPUTED_TEXT = ['direction', 'pattern', 'waitingFor', 'majority', 'other.anomaly', 'vib.values.temp_c', 'histogram.wear', 'nope'];
const NUMERIC_FIELDS = ['anomaly', 'confidence', 'seq', 'values.temp_c', 'scores.wear', 'ts'];
const TEXT_FIELDS = ['label', 'model.version', 'model.name', 'device'];
const TEXT = ['normal', 'wear', 'imbalance', '1', '2', 'ad', ''];

/** Numbers with the edges: 0, negative, tiny, huge. */
const number = (r: Random): number =>
  r.pick([0, -1, 1e-9, 0.1, 0.2, 0.5, 0.7, 0.8, 0.9, 1, 2, 3, 10, 1000, 1e6, 1e12, 1e300, -1e300, r.next(), r.next() * 100 - 50]);
const integer = (r: Random): number => (r.chance(0.7) ? r.int(1, 6) : r.pick([0, 1, 2, 3, 5, 20, 30, 1000, 1001, 100_000, 100_001, -1]));
const field = (r: Random): string =>
  r.chance(0.6) ? r.pick(EVENT_FIELDS) : r.chance(0.6) ? r.pick(COMPUTED) : r.pick([...COMPUTED_TEXT, ...EVENT_FIELDS]);
const GOOD_DURATIONS = ['1ms', '5ms', '250ms', '1s', '1.5s', '2s', '10s', '30s', '1m', '5m', '1h', '1d', '24d', 1, 100, 2_147_483_647];
const BAD_DURATIONS = ['0s', '0ms', '25d', '3650d', '9999999d', `${'9'.repeat(400)}d`, 0, 1e-9, 0.5, 2_147_483_648, -5, 'soon'];
/** Durations: numbers of ms and strings, with '0s', '1ms', sub-ms, past a timer's limit, not finite, not a duration. */
const duration = (r: Random): number | string =>
  r.chance(0.2) ? r.pick(BAD_DURATIONS) : r.chance(0.2) ? r.int(1, 120_000) : r.pick(GOOD_DURATIONS);

function predicate(r: Random, depth = 0): Raw {
  if (depth < 2 && r.chance(0.25)) {
    const kind = r.pick(['any', 'all', 'not']);
    if (kind === 'not') return { not: predicate(r, depth + 1) };
    return { [kind]: Array.from({ length: r.int(0, 3) }, () => predicate(r, depth + 1)) };
  }
  const numeric = r.chance(0.6);
  const p: Raw = { field: r.chance(0.8) ? r.pick(numeric ? NUMERIC_FIELDS : TEXT_FIELDS) : field(r) };
  for (const op of r.some(numeric ? ['gt', 'gte', 'lt', 'lte', 'exists'] : ['eq', 'ne', 'in', 'exists'], 0, 2)) {
    if (op === 'eq' || op === 'ne') p[op] = r.chance(0.7) ? r.pick(TEXT) : number(r);
    else if (op === 'in') p.in = Array.from({ length: r.int(0, 3) }, () => (r.chance(0.7) ? r.pick(TEXT) : number(r)));
    else if (op === 'exists') p.exists = r.chance(0.5);
    else p[op] = number(r);
  }
  return p;
}

const maybe = (r: Random, o: Raw, p = 0.5): Raw => Object.fromEntries(Object.entries(o).filter(() => r.chance(p)));

const step = (r: Random, quantified: boolean): Raw => ({
  name: r.pick(['a', 'b', 'c', 'd', 'wear', 'a']),
  where: predicate(r),
  ...(quantified
    ? maybe(r, { times: r.chance(0.8) ? r.int(1, 3) : r.pick([0, 1000, 1001]), oneOrMore: r.chance(0.5), optional: r.chance(0.5) }, 0.3)
    : {}),
});

const TRANSFORMS: Record<string, (r: Random) => Raw> = {
  filter: (r) => ({ filter: predicate(r) }),
  dedupe: (r) => ({ dedupe: maybe(r, { by: field(r), within: duration(r), maxIds: r.pick([0, 1, 10, 100_000, 10_000_001]) }) }),
  debounce: (r) => ({ debounce: { quiet: duration(r) } }),
  window: (r) => {
    const type = r.pick(['tumbling', 'sliding', 'session', 'count', 'time-or-count']);
    const needs = { size: type !== 'session' && type !== 'count', slide: type === 'sliding', gap: type === 'session' };
    const w: Raw = { type, ...maybe(r, { size: duration(r), slide: duration(r), gap: duration(r), count: integer(r) }, 0.15) };
    for (const [key, needed] of Object.entries(needs)) if (needed && r.chance(0.9)) w[key] = duration(r);
    if ((type === 'count' || type === 'time-or-count') && r.chance(0.9)) w.count = integer(r);
    const aggregates = r.some(AGGREGATES, 0, 4);
    Object.assign(
      w,
      maybe(r, { field: r.pick(['anomaly', 'confidence', ...EVENT_FIELDS]), aggregates, ewmaAlpha: r.pick([0, 1e-9, 0.3, 1, 2]) }),
    );
    Object.assign(
      w,
      maybe(r, { emit: r.pick(['close', 'update']), outOfOrder: duration(r), lateness: duration(r), idle: duration(r) }, 0.25),
    );
    return { window: w };
  },
  trend: (r) => ({ trend: maybe(r, { field: field(r), points: r.pick([0, 1, 2, 3, 5, 20, 10_000, 10_001]), threshold: number(r) }) }),
  join: (r) => ({
    join: {
      with: r.chance(0.7) ? { models: [r.pick(['thermo', 'ad'])] } : { where: predicate(r) },
      fields: r.some(['anomaly', 'values.temp_c', 'label', 'seq', 'nope'], 0, 2),
      ...maybe(r, { on: r.pick(['device', 'label', 'nope']), within: duration(r), as: r.pick(['other', 'vib', '9bad']) }),
    },
  }),
};

const DETECTORS: Record<string, (r: Random) => Raw> = {
  persistence: (r) => ({
    persistence: { atLeast: number(r), n: integer(r), m: integer(r), clearAfter: integer(r), ...maybe(r, { field: field(r) }) },
  }),
  threshold: (r) => ({
    threshold: {
      ...maybe(r, { field: field(r) }),
      ...(r.chance(0.5)
        ? maybe(r, { above: number(r), clearBelow: number(r) }, 0.85)
        : maybe(r, { below: number(r), clearAbove: number(r) }, 0.85)),
      ...maybe(r, { above: number(r), clearBelow: number(r), below: number(r), clearAbove: number(r) }, 0.1),
    },
  }),
  absence: (r) => ({ absence: { timeout: duration(r) } }),
  drift: (r) => ({
    drift: maybe(r, {
      field: field(r),
      method: r.pick(['page-hinkley', 'cusum']),
      direction: r.pick(['up', 'down']),
      delta: number(r),
      lambda: number(r),
      minPoints: integer(r),
      slack: number(r),
      limit: number(r),
      warmup: integer(r),
    }),
  }),
  pattern: (r) => ({
    pattern: {
      ...(r.chance(0.7)
        ? { seq: Array.from({ length: r.int(1, 4) }, () => step(r, true)) }
        : { and: Array.from({ length: r.int(r.chance(0.9) ? 2 : 1, 3) }, () => step(r, false)) }),
      within: duration(r),
      ...maybe(r, { contiguity: r.pick(['relaxed', 'strict']), emit: r.pick(['match', 'timeout', 'both']) }),
    },
  }),
  notFollowedBy: (r) => ({ notFollowedBy: { first: predicate(r), then: predicate(r), within: duration(r) } }),
  mismatch: (r) => ({ mismatch: maybe(r, { field: field(r), group: r.pick(['model.name', 'label', 'device', 'nope']) }) }),
};
const PULSE = new Set(['drift', 'pattern']);

const template = (r: Random): string =>
  r
    .some(['{device}', '{value:2}', '{time}', '{ts}', '{rule}', '{state}', '{rul:0}', '{avg}', '{anomaly:9}', '{nope}', 'text'], 1, 3)
    .join(' ');

function outputs(r: Random, detector: string | undefined): Raw {
  const o: Raw = {};
  if (detector !== undefined && r.chance(0.75)) {
    o.alarm = maybe(r, {
      severity: r.pick([0, 1, 500, 1000, 1001]),
      message: template(r),
      clearAfter: duration(r),
    });
    if (PULSE.has(detector) && r.chance(0.8)) (o.alarm as Raw).clearAfter = duration(r);
  }
  if (r.chance(0.5))
    o.derived = maybe(r, { name: r.pick(['x', 'derived-1', 'bad name']), fields: r.some([...EVENT_FIELDS, ...COMPUTED], 0, 3) });
  if (r.chance(0.35)) {
    o.actions = Array.from({ length: r.int(1, 2) }, () =>
      r.chance(0.7)
        ? {
            ...maybe(r, { on: r.pick(['raised', 'cleared', 'event', 'any']) }, 0.7),
            mqtt: { topic: `plant/${template(r)}`, ...maybe(r, { payload: template(r) }) },
          }
        : { modbusCoil: r.pick([0, 12, 65_535, 65_536]) },
    );
  }
  return o;
}

/** One random rule from the language's pieces: transforms, then (usually) a detector; sometimes in any order. */
function randomRule(r: Random, id: string): Raw {
  const stages: Raw[] = Array.from({ length: r.int(0, 2) }, () => r.pick(Object.values(TRANSFORMS))(r));
  let detector: string | undefined;
  if (r.chance(0.75)) {
    // Patterns have the most ways to be refused (step names, quantifiers, within), so they are drawn more often.
    detector = r.pick([...Object.keys(DETECTORS), 'pattern', 'pattern', 'pattern']);
    const stage = DETECTORS[detector]!(r);
    if (r.chance(0.1)) stages.unshift(stage);
    else stages.push(stage);
  }
  if (stages.length === 0) stages.push(TRANSFORMS.window!(r));
  const rule: Raw = { id, pipeline: stages, outputs: outputs(r, detector) };
  if (r.chance(0.2)) rule.key = r.pick(['label', 'model.version', 'anomaly', 'seq', 'nope']);
  if (r.chance(0.2)) rule.time = 'processing';
  if (r.chance(0.2))
    rule.state = maybe(r, { maxKeys: r.pick([0, 1, 2, 1000]), overflow: r.pick(['evict-oldest', 'drop-new']), ttl: duration(r) });
  if (r.chance(0.2)) rule.input = maybe(r, { models: [r.pick(['ad', 'thermo'])], devices: r.some(DEVICES, 1, 3), where: predicate(r) });
  return rule;
}

const DEVICES = ['hot', 'd1', 'd2', 'd3', 'd4'];
const LABELS = ['normal', 'wear', 'imbalance'];
const T0 = 1_700_000_000_000;

/**
 * Varied events over several devices, with the time steps between them (short, longer, and gaps
 * of minutes so timers fire). Device `hot` crosses 0.8 once in the middle and falls below 0.2 at
 * the end: what the healthy rule must see.
 */
function randomEvents(r: Random): InferenceEvent[] {
  const events: InferenceEvent[] = [];
  const seqs = new Map<string, number>();
  let ts = T0 + r.int(0, 1_000_000);
  for (let i = 0; i < EVENTS_PER_BATCH; i++) {
    ts += r.chance(0.7) ? r.int(0, 2000) : r.chance(0.7) ? r.int(2000, 30_000) : r.int(60_000, 1_200_000);
    const forced = i === 0 || i === 150 || i === EVENTS_PER_BATCH - 1;
    const device = forced ? 'hot' : r.pick(DEVICES);
    const seq = (seqs.get(device) ?? 0) + (r.chance(0.1) ? 0 : 1);
    seqs.set(device, seq);
    if (!forced && r.chance(0.15)) {
      events.push({ device, ts, seq, model: { name: 'thermo', version: '1' }, values: { temp_c: r.int(-20, 120) } });
      continue;
    }
    const label = r.pick(LABELS);
    let anomaly = r.pick([0, 1e-9, 0.5, 0.85, 1, 100, r.next(), r.next()]);
    if (device === 'hot') anomaly = i === 150 ? 0.95 : i === EVENTS_PER_BATCH - 1 ? 0.1 : 0.3 + 0.4 * r.next();
    const event: InferenceEvent = { device, ts, seq, model: { name: 'ad', version: r.chance(0.8) ? '1' : '2' }, label, anomaly };
    if (r.chance(0.7)) event.scores = { [label]: r.next(), [r.pick(LABELS)]: r.next() };
    if (r.chance(0.3)) event.timing = { dsp_ms: r.int(0, 50), inference_ms: r.int(0, 50) };
    if (r.chance(0.2)) event.values = { temp_c: r.int(-20, 120) };
    events.push(event);
  }
  return events;
}

const HEALTHY: RuleSpec = checkedRule.parse({
  id: 'healthy',
  pipeline: [{ threshold: { field: 'anomaly', above: 0.8, clearBelow: 0.2 } }],
  outputs: { alarm: {} },
});

interface Batch {
  alarms: AlarmTransition[];
  stopped: { rule: Raw; error: string }[];
  healthyRunning: boolean;
}

/** Runs the rules over the events in virtual time, as `replay` does, then lets the timers of the last hour fire. */
function run(rules: { raw: Raw; spec: RuleSpec }[], events: InferenceEvent[]): Batch {
  const scheduler = new VirtualTimeScheduler();
  scheduler.frame = events[0]!.ts;
  const errors = new Map<string, string>();
  const engine = new RuleEngine(
    [...rules.map((x) => x.spec), HEALTHY],
    { failed: (id, err) => errors.set(id, err instanceof Error ? (err.stack ?? err.message) : String(err)) },
    scheduler,
  );
  const input = new Subject<InferenceEvent>();
  const alarms: AlarmTransition[] = [];
  const sub = engine.connect(input).subscribe((o) => {
    if (o.type === 'alarm') alarms.push(o.alarm);
  });
  const advance = (to: number): void => {
    scheduler.maxFrames = to;
    scheduler.flush();
    scheduler.frame = Math.max(scheduler.frame, to);
  };
  for (const event of events) {
    advance(event.ts);
    input.next(event);
  }
  advance(events.at(-1)!.ts + 3_600_000);
  input.complete();
  const status = engine.status();
  sub.unsubscribe();
  const byId = new Map(rules.map((x) => [x.spec.id, x.raw]));
  return {
    alarms,
    healthyRunning: status.find((s) => s.id === 'healthy')?.state === 'running',
    stopped: status
      .filter((s) => s.state === 'stopped-by-error' && s.id !== 'healthy')
      .map((s) => ({ rule: byId.get(s.id)!, error: errors.get(s.id) ?? s.error ?? '' })),
  };
}

t.test('random rules that pass check never stop by an error, and a healthy rule beside them still alarms', async (t) => {
  let generated = 0;
  let accepted = 0;
  const kinds = new Map<string, number>();
  for (let batch = 0; batch < BATCHES; batch++) {
    const seed = 0x5eed0000 + batch;
    const r = new Random(seed);
    const rules: { raw: Raw; spec: RuleSpec }[] = [];
    while (rules.length < RULES_PER_BATCH && generated < BATCHES * 2000) {
      const raw = randomRule(r, `r${batch}-${generated++}`);
      const parsed = checkedRule.safeParse(raw);
      if (!parsed.success) continue;
      rules.push({ raw, spec: parsed.data });
      for (const stage of parsed.data.pipeline) {
        const kind = Object.keys(stage).find((k) => stage[k as keyof typeof stage] !== undefined)!;
        kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      }
    }
    accepted += rules.length;
    const events = randomEvents(r);
    // A rule that loops for good cannot be reported from here: PROPERTY_TRACE=1 prints each batch before it runs.
    if (process.env.PROPERTY_TRACE) process.stderr.write(`seed ${seed}\n${rules.map((x) => JSON.stringify(x.raw)).join('\n')}\n`);
    const started = performance.now();
    const result = run(rules, events);
    const seconds = (performance.now() - started) / 1000;
    if (seconds > SLOW_BATCH_S) {
      t.fail(
        `seed ${seed}: the batch took ${seconds.toFixed(1)} s, a runaway rule is among:\n${rules.map((x) => JSON.stringify(x.raw)).join('\n')}`,
      );
    }
    for (const s of result.stopped) {
      t.fail(`seed ${seed}: a rule that passes check stopped by an error: ${s.error.split('\n')[0]}\n${JSON.stringify(s.rule)}`, {
        stack: s.error,
      });
    }
    const hot = result.alarms.filter((a) => a.rule === 'healthy' && a.device === 'hot').map((a) => `${a.state}@${a.ts}`);
    t.same(hot, [`raised@${events[150]!.ts}`, `cleared@${events.at(-1)!.ts}`], `seed ${seed}: the healthy rule raised and cleared for hot`);
    t.ok(result.healthyRunning, `seed ${seed}: the healthy rule is running`);
  }
  t.ok(accepted >= 300, `${accepted} of ${generated} random rules passed check (at least 300, so the test is not vacuous)`);
  for (const kind of [...Object.keys(TRANSFORMS), ...Object.keys(DETECTORS)]) {
    t.ok((kinds.get(kind) ?? 0) >= 20, `${kind}: ${kinds.get(kind) ?? 0} accepted stages`);
  }
});
