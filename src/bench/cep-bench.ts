// npm run bench:cep — throughput of CEP stages against a bare keyed scan, in one process.
import { Subject, scan, tap, type Observable, type OperatorFunction } from 'rxjs';
import { RuleEngine } from '../cep/rules/engine.js';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseRules } from '../config/load.js';
import { ruleSchema, type RuleSpec } from '../cep/rules/language.js';
import { hysteresis } from '../cep/operators/hysteresis.js';
import { trend } from '../cep/operators/trend.js';
import { pageHinkley } from '../cep/operators/change-detection.js';
import { absence } from '../cep/operators/absence.js';
import { window } from '../cep/operators/window.js';
import { avg } from '../cep/operators/aggregates.js';
import type { InferenceEvent } from '../normalise/inference-event.js';
import { seededRandom } from '../sim/device-model.js';
import { median } from './bench-util.js';
import { handFusedTemplates } from './fused-reference.js';
import { handAbsence, handHysteresis, handPageHinkley, handPersistence, handTrend, handTumblingAvg } from './stage-references.js';
import { decodeSnapshot, encodeSnapshot } from '../state/rule-snapshot.js';

const DEVICES = 10_000;
const EVENTS_PER_RUN = 2_000_000;
const RUNS = 5;
const BATCH = 1000;

const rand = seededRandom(42);
const pool: InferenceEvent[] = Array.from({ length: 200_000 }, (_, i) => ({
  device: `dev-${i % DEVICES}`,
  ts: 1_763_800_000_000 + Math.floor(i / DEVICES) * 500,
  seq: i,
  // One device in 500 lags a model version behind, so the mismatch rule has work to do.
  model: { name: 'motor-anomaly', version: (i % DEVICES) % 500 === 7 ? '1.1.0' : '1.2.0' },
  label: 'normal',
  scores: { normal: 0.85 + rand() * 0.1, bearing_wear: 0.05 },
  anomaly: rand() < 0.02 ? 0.9 : rand() * 0.3,
}));

type Stage = () => OperatorFunction<InferenceEvent, unknown>;

/** The pool's devices and times, each device's 20th event anomalous, so every key's partial matches end regularly. */
const patternPool: InferenceEvent[] = pool.map((e, i) => ({ ...e, anomaly: Math.floor(i / DEVICES) % 20 === 19 ? 0.95 : 0.1 }));

const TEMPLATES = 'gateway-config/rules';
// The seven per-device predictive-maintenance templates (clogging correlates devices of a line, which these have not).
const templates = readdirSync(TEMPLATES)
  .filter((f) => f.endsWith('.yaml') && f !== 'clogging.yaml')
  .sort()
  .flatMap((f) => parseRules(readFileSync(join(TEMPLATES, f), 'utf8'), f));
const [rule] = templates.filter((r) => r.id === 'anomaly-persistence');
if (!rule || templates.length !== 7) throw new Error(`expected the 7 templates in ${TEMPLATES} (run from the repository root)`);

/**
 * A pattern with many partial matches per key: on its own events (`patternPool`) every event
 * begins one (a: anomaly < 0.5) and every 20th of a device ends them (b: ≥ 0.9), so each key
 * holds up to 19 partial matches at once.
 */
const patternRule = (skip: 'skipPastLastEvent' | 'noSkip', maxPartials: number, begins = 0.5, ends = 0.9): RuleSpec =>
  ruleSchema.parse({
    id: `pattern-${skip}`,
    pipeline: [
      {
        pattern: {
          seq: [
            { name: 'a', where: { field: 'anomaly', lt: begins } },
            { name: 'b', where: { field: 'anomaly', gte: ends } },
          ],
          within: '1m',
          skip,
          maxPartials,
          emit: 'match',
        },
      },
    ],
    outputs: { derived: {} },
  });
const byDevice = (e: InferenceEvent): string => e.device;
const anomalyOf = (e: InferenceEvent): number | undefined => e.anomaly;

/** The baseline's work for one event: one keyed state, updated in place. */
function keyedCount(): (acc: Map<string, { n: number; sum: number }>, e: InferenceEvent) => Map<string, { n: number; sum: number }> {
  return (acc, e) => {
    const s = acc.get(e.device);
    if (s) {
      s.n++;
      s.sum += e.anomaly ?? 0;
    } else acc.set(e.device, { n: 1, sum: e.anomaly ?? 0 });
    return acc;
  };
}

const STAGES: Record<string, Stage> = {
  'baseline: keyed scan': () => scan(keyedCount(), new Map()),
  // As many keyed states as the engine keeps for the templates: the floor for seven stateful rules.
  [`${templates.length} keyed scans (one per template)`]: () => (source) =>
    templates.reduce<Observable<unknown>>(
      (o) =>
        o.pipe(
          tap(
            (
              (step, acc) => (e: unknown) =>
                step(acc, e as InferenceEvent)
            )(keyedCount(), new Map()),
          ),
        ),
      source,
    ),
  // The ceiling: the templates' work by hand in one function, one record per device, no engine.
  [`hand-fused ${templates.length} templates (no engine)`]: () => (source) => source.pipe(tap(handFusedTemplates(Date.now).step)),
  [`engine: the ${templates.length} templates`]: () => (source) => new RuleEngine(templates).connect(source),
  'engine: anomaly-persistence template': () => (source) => new RuleEngine([rule]).connect(source),
  'same rule, state cap 20k + ttl 1h': () => (source) =>
    new RuleEngine([{ ...rule, state: { maxKeys: 20_000, overflow: 'evict-oldest', ttl: 3_600_000 } }]).connect(source),
  'engine: pattern a → b, up to 19 partial matches per key': () => (source) =>
    new RuleEngine([patternRule('skipPastLastEvent', 1000)]).connect(source),
  'engine: pattern, noSkip (every partial match matches)': () => (source) => new RuleEngine([patternRule('noSkip', 1000)]).connect(source),
  'hand-written: anomaly-persistence': () => (source) => source.pipe(tap(handPersistence())),
  hysteresis: () => hysteresis({ raiseAt: 0.7, clearAt: 0.3, keyOf: byDevice, readingOf: anomalyOf }),
  'hand-written: hysteresis': () => (source) => source.pipe(tap(handHysteresis())),
  'trend (window 20)': () => trend({ window: 20, keyOf: byDevice, readingOf: anomalyOf, timeOf: (e) => e.ts, threshold: 0.8 }),
  'hand-written: trend (window 20)': () => (source) => source.pipe(tap(handTrend(20))),
  'page-hinkley': () => pageHinkley({ delta: 0.02, lambda: 5, keyOf: byDevice, readingOf: anomalyOf }),
  'hand-written: page-hinkley': () => (source) => source.pipe(tap(handPageHinkley())),
  'absence (30 s)': () => absence({ timeoutMs: 30_000, keyOf: byDevice }),
  'hand-written: absence (30 s)': () => (source) => source.pipe(tap(handAbsence(Date.now))),
  'tumbling window 10 s, avg': () =>
    window({
      spec: { kind: 'tumbling', sizeMs: 10_000 },
      keyOf: byDevice,
      timeOf: (e) => e.ts,
      readingOf: anomalyOf,
      aggregate: avg,
      outOfOrderMs: 1000,
    }),
  'hand-written: tumbling window 10 s, avg': () => (source) => source.pipe(tap(handTumblingAvg())),
};

/** The hand-written kernel each single-stage row is measured against. */
const REFERENCE: Record<string, string> = {
  'engine: anomaly-persistence template': 'hand-written: anomaly-persistence',
  'same rule, state cap 20k + ttl 1h': 'hand-written: anomaly-persistence',
  hysteresis: 'hand-written: hysteresis',
  'trend (window 20)': 'hand-written: trend (window 20)',
  'page-hinkley': 'hand-written: page-hinkley',
  'absence (30 s)': 'hand-written: absence (30 s)',
  'tumbling window 10 s, avg': 'hand-written: tumbling window 10 s, avg',
  [`engine: the ${templates.length} templates`]: `hand-fused ${templates.length} templates (no engine)`,
};

interface Run {
  eventsPerSecond: number;
  batchNs: number[];
}

/** Stages that run on their own events rather than the pool. */
const POOLS: Record<string, InferenceEvent[]> = {
  'engine: pattern a → b, up to 19 partial matches per key': patternPool,
  'engine: pattern, noSkip (every partial match matches)': patternPool,
};

function runOnce(stage: Stage, events: InferenceEvent[]): Run {
  const input = new Subject<InferenceEvent>();
  const sub = input.pipe(stage()).subscribe(() => undefined);
  const batchNs: number[] = [];
  const start = process.hrtime.bigint();
  for (let done = 0; done < EVENTS_PER_RUN; ) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < BATCH; i++, done++) input.next(events[done % events.length]!);
    batchNs.push(Number(process.hrtime.bigint() - t0));
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  sub.unsubscribe();
  return { eventsPerSecond: EVENTS_PER_RUN / seconds, batchNs };
}

function heapPerDevice(stage: Stage, events: InferenceEvent[]): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const before = process.memoryUsage().heapUsed;
  const input = new Subject<InferenceEvent>();
  const sub = input.pipe(stage()).subscribe(() => undefined);
  for (let i = 0; i < DEVICES * 5; i++) input.next(events[i]!);
  gc?.();
  const bytes = (process.memoryUsage().heapUsed - before) / DEVICES;
  sub.unsubscribe();
  return bytes;
}

const percentile = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;

const rows: Record<string, string | number>[] = [];
let baseline = 0;
// `npm run bench:cep -- pattern`: the baseline and the stages whose name has that word (`-- partials`: the partial-match memory alone; `-- snapshot`: snapshot and restore times).
const only = process.argv[2];
const chosen = Object.entries(STAGES).filter(
  ([name], i) =>
    i === 0 ||
    only === undefined ||
    name.includes(only) ||
    (REFERENCE[name] === undefined && Object.entries(REFERENCE).some(([stage, ref]) => ref === name && stage.includes(only))),
);
const measured = new Map<string, number>();
for (const [name, stage] of chosen) {
  const events = POOLS[name] ?? pool;
  runOnce(stage, events); // warm-up: JIT and inline caches
  const runs = Array.from({ length: RUNS }, () => runOnce(stage, events));
  const all = runs.map((r) => r.eventsPerSecond);
  const eps = median(all);
  if (baseline === 0) baseline = eps;
  measured.set(name, eps);
  const perEventNs = runs.flatMap((r) => r.batchNs).map((ns) => ns / BATCH);
  rows.push({
    stage: name,
    'events/s (median)': Math.round(eps),
    'min / max': `${(Math.min(...all) / 1e6).toFixed(2)}–${(Math.max(...all) / 1e6).toFixed(2)} M`,
    'vs baseline': `${((eps / baseline) * 100).toFixed(0)}%`,
    'vs hand-written': '',
    'p50 ns/event': Math.round(percentile(perEventNs, 0.5)),
    'p99 ns/event': Math.round(percentile(perEventNs, 0.99)),
    'heap B/device': Math.round(heapPerDevice(stage, events)),
  });
  console.error(`${name}: ${Math.round(eps)} events/s`);
}
// Rows and their references may come in either order: the ratio is filled in once both are measured.
for (const row of rows) {
  const reference = measured.get(REFERENCE[row.stage as string] ?? '');
  if (reference !== undefined) row['vs hand-written'] = `${((row['events/s (median)'] as number) / reference).toFixed(2)}×`;
}
console.log(`node ${process.version}, ${DEVICES} devices, ${EVENTS_PER_RUN} pre-parsed events per run, median of ${RUNS} runs;`);
console.log('latency is per event, averaged over batches of 1000 synchronous events\n');
console.table(rows);
// Snapshot times before the partial-match memory, which leaves the heap at 400 MB for the collector.
if (only === undefined || only === 'snapshot') snapshotTimes();
if (only === undefined || only === 'pattern' || only === 'partials') partialMatchMemory();
if (!(globalThis as { gc?: unknown }).gc) console.log('(run with --expose-gc for exact heap figures)');

/**
 * Partial-match memory, bounded: every event begins a partial match and none ends, so each of
 * 10,000 keys fills up to its cap; past it the oldest go (counted). Heap after GC per partial match.
 */
function partialMatchMemory(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  const cap = 100;
  // Every event begins one (anomaly < 2), none ends one (≥ 2), and 150 events 100 ms apart stay inside the minute of within.
  const spec = patternRule('skipPastLastEvent', cap, 2, 2);
  let dropped = 0;
  const engine = new RuleEngine([spec], { evicted: () => dropped++ });
  const input = new Subject<InferenceEvent>();
  const sub = engine.connect(input).subscribe(() => undefined);
  gc?.();
  const before = process.memoryUsage().heapUsed;
  const perKey = cap * 1.5;
  for (let i = 0; i < DEVICES * perKey; i++) {
    const e = pool[i % pool.length]!;
    input.next({ ...e, ts: 1_763_800_000_000 + Math.floor(i / DEVICES) * 100 });
  }
  gc?.();
  const bytes = process.memoryUsage().heapUsed - before;
  const held = DEVICES * cap;
  console.log(
    `\npartial matches: ${DEVICES} keys × ${perKey} events, cap ${cap} per key: ${held} held, ${dropped} dropped at the cap; ` +
      `heap ${(bytes / 1e6).toFixed(0)} MB, ${Math.round(bytes / held)} B per partial match, ${Math.round(bytes / DEVICES)} B per key`,
  );
  sub.unsubscribe();
}

/**
 * Snapshot and restore of the seven templates over 10,000 devices with 70 events each (the trend's
 * 60 points full): the engine's thread takes the state and encodes it (the gateway then writes it
 * asynchronously); a restart decodes it, restores it into a new engine and connects it (timers re-armed).
 */
function snapshotTimes(): void {
  const engine = new RuleEngine(templates);
  const input = new Subject<InferenceEvent>();
  const sub = engine.connect(input).subscribe(() => undefined);
  for (let i = 0; i < DEVICES * 70; i++) {
    const e = pool[i % pool.length]!;
    input.next({ ...e, ts: 1_763_800_000_000 + Math.floor(i / DEVICES) * 500 });
  }
  const take: number[] = [];
  const restore: number[] = [];
  let bytes = 0;
  let continued = 0;
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let run = 0; run < RUNS + 1; run++) {
    // Each measurement starts from a collected heap, as a periodic snapshot does not pile up on the last one's garbage.
    gc?.();
    const t0 = performance.now();
    const parts = encodeSnapshot({ ...engine.checkpoint(), gateway: 'bench', writtenAt: Date.now() });
    const taken = performance.now() - t0;
    // What a restart reads: the file in one buffer.
    const file = Buffer.concat(parts);
    gc?.();
    const t1 = performance.now();
    const read = decodeSnapshot(file, 'bench');
    if (!read.ok) throw new Error(read.reason);
    const next = new RuleEngine(templates);
    continued = next.restore(read.body).continued.length;
    const s = next.connect(new Subject<InferenceEvent>()).subscribe(() => undefined);
    const t2 = performance.now();
    s.unsubscribe();
    bytes = file.length;
    // The first of each is a warm-up.
    if (run > 0) (take.push(taken), restore.push(t2 - t1));
  }
  sub.unsubscribe();
  const range = (xs: number[]): string =>
    `median ${median(xs).toFixed(0)} ms (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`;
  console.log(
    `\nsnapshot of ${DEVICES} devices × ${templates.length} rules: ${(bytes / 1e6).toFixed(1)} MB; ` +
      `taken and encoded on the engine's thread: ${range(take)}; decoded, restored and connected (${continued} rules continue): ${range(restore)}`,
  );
}
