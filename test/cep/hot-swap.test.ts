import t from 'tap';
import { Subject, VirtualTimeScheduler } from 'rxjs';
import { RuleEngine } from '../../src/cep/rules/engine.js';
import { rule } from '../../src/cep/rules/builder.js';
import type { RuleSpec } from '../../src/cep/rules/language.js';
import type { RuleOutput } from '../../src/core/rule-output.js';
import type { InferenceEvent } from '../../src/normalise/inference-event.js';
import { seededRandom } from '../../src/sim/device-model.js';

const EVENTS = 100_000;
const SWAPS = 10;
const DEVICES = 50;

const random = seededRandom(7);
const events: InferenceEvent[] = Array.from({ length: EVENTS }, (_, i) => ({
  device: `d${i % DEVICES}`,
  ts: 1_000_000 + i * 10,
  seq: i,
  model: { name: 'm', version: '1' },
  anomaly: random() < 0.3 ? 0.9 : 0.1,
}));

/** Rules whose state shape never changes across the swaps: only their messages and names do. */
function stable(generation: number): RuleSpec[] {
  return [
    rule('persist')
      .persistence({ atLeast: 0.7, n: 3, m: 5, clearAfter: 3 })
      .alarm({ message: `generation ${generation}: {device}` })
      .build(),
    rule('windows')
      .window({ type: 'tumbling', size: '2s', aggregates: ['count', 'max'] })
      .derived({ name: `count-${generation}` })
      .build(),
    rule('pairs')
      .pattern({
        seq: [
          { name: 'hi', where: { field: 'anomaly', gte: 0.7 } },
          { name: 'lo', where: { field: 'anomaly', lt: 0.3 } },
        ],
        within: '1s',
      })
      .derived({ name: `pair-${generation}` })
      .build(),
  ];
}
/** A rule whose threshold changes with every swap, so it restarts each time. */
const changing = (generation: number): RuleSpec =>
  rule('changing')
    .threshold({ above: 0.5 + generation / 100, clearBelow: 0.2 })
    .alarm()
    .build();

/** Outputs with what the swaps change (message, name) taken out, in order, one line each. */
function run(swapAt: Set<number>): { lines: Record<string, string[]>; changing: RuleOutput[]; engine: RuleEngine } {
  const scheduler = new VirtualTimeScheduler();
  const engine = new RuleEngine([...stable(0), changing(0)], {}, scheduler);
  const input = new Subject<InferenceEvent>();
  const lines: Record<string, string[]> = { persist: [], windows: [], pairs: [] };
  const changingOut: RuleOutput[] = [];
  engine.connect(input).subscribe((o) => {
    if (o.type === 'alarm' && o.alarm.rule === 'changing') return changingOut.push(o);
    if (o.type === 'alarm') lines[o.alarm.rule]!.push(JSON.stringify({ ...o.alarm, message: undefined }));
    if (o.type === 'derived') lines[o.event.rule]!.push(JSON.stringify({ ...o.event, name: undefined }));
  });
  let generation = 0;
  events.forEach((e, i) => {
    if (swapAt.has(i)) {
      generation++;
      const report = engine.replaceRules([...stable(generation), changing(generation)]);
      if (report.kept.length !== 3 || report.restarted.join() !== 'changing')
        throw new Error(`unexpected swap report ${JSON.stringify(report)}`);
    }
    scheduler.maxFrames = e.ts;
    scheduler.flush();
    scheduler.frame = e.ts;
    input.next(e);
  });
  input.complete();
  return { lines, changing: changingOut, engine };
}

t.test(`${EVENTS} events across ${SWAPS} swaps: the kept rules' outputs equal a run without swaps, none lost or doubled`, async (t) => {
  const reference = run(new Set());
  const swapAt = new Set(Array.from({ length: SWAPS }, (_, k) => Math.floor(((k + 1) * EVENTS) / (SWAPS + 1)) + k * 7));
  const swapped = run(swapAt);
  for (const id of ['persist', 'windows', 'pairs']) {
    t.ok(reference.lines[id]!.length > 100, `${id}: ${reference.lines[id]!.length} outputs`);
    t.same(swapped.lines[id], reference.lines[id], `${id}: identical outputs`);
  }
  for (const s of swapped.engine.status()) t.equal(s.eventsIn, EVENTS, `${s.id} saw every event exactly once`);
  // The restarted rule: per device, raised and cleared strictly alternate (a reset clears, nothing is raised twice).
  const held = new Map<string, boolean>();
  let resets = 0;
  const broken: string[] = [];
  for (const o of swapped.changing) {
    if (o.type !== 'alarm') continue;
    const raised = o.alarm.state === 'raised';
    if ((held.get(o.alarm.device) ?? false) === raised) broken.push(`${o.alarm.device} ${o.alarm.state} twice at ${o.alarm.ts}`);
    held.set(o.alarm.device, raised);
    if (/alarm reset/.test(o.alarm.message)) resets++;
  }
  t.same(broken, [], `changing: raised and cleared alternate per device over ${swapped.changing.length} transitions`);
  t.ok(resets > 0, `restarts cleared ${resets} held alarms`);
});
