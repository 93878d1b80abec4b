import t, { type Test } from 'tap';
import { Subject, VirtualTimeScheduler } from 'rxjs';
import { checkedRule, MAX_TIMER_MS } from '../../src/cep/rules/check-fields.js';
import { ruleSchema } from '../../src/cep/rules/language.js';
import { RuleEngine } from '../../src/cep/rules/engine.js';
import { parseRules } from '../../src/config/load.js';
import type { InferenceEvent } from '../../src/normalise/inference-event.js';
import { ConfigError } from '../../src/core/errors.js';

type Raw = Record<string, unknown>;

/** A rule around one stage; detectors get an alarm, transforms a derived output. */
const ruleWith = (stage: Raw, outputs: Raw = { alarm: {} }, extra: Raw = {}): Raw => ({ id: 'r', pipeline: [stage], outputs, ...extra });
const derived = { derived: {} };

const issues = (rule: Raw) => {
  const r = checkedRule.safeParse(rule);
  return r.success ? [] : r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
};

/** `bad` is refused with this problem at `path` (among others it may have), and `good`, its nearest valid neighbour, is accepted. */
function refusedAndNeighbour(name: string, bad: Raw, good: Raw, path: string, message: RegExp): void {
  t.test(name, async (t: Test) => {
    const found = issues(bad);
    t.ok(
      found.some((i) => i.path === path && message.test(i.message)),
      `refused at ${path}: ${JSON.stringify(found)}`,
    );
    t.same(issues(good), [], 'its neighbour is accepted');
  });
}

t.test('the two rules of the fault campaign are refused by check; the operators still refuse them at run time', async (t) => {
  const zeroWindow = ruleWith({ window: { type: 'tumbling', size: '0s' } }, derived, { id: 'zero-window' });
  const optionalFirst = ruleWith(
    {
      pattern: {
        seq: [
          { name: 'maybe', where: { field: 'label', eq: 'a' }, optional: true },
          { name: 'then', where: { field: 'label', eq: 'b' } },
        ],
        within: '1m',
      },
    },
    derived,
    { id: 'optional-first' },
  );
  t.same(issues(zeroWindow), [{ path: 'pipeline.0.window.size', message: 'size must be at least 1ms' }]);
  t.same(issues(optionalFirst), [
    { path: 'pipeline.0.pattern.seq.0.optional', message: 'the first step of a sequence cannot be optional' },
  ]);

  // Past the schema alone (as before this check), each stops by an error when it starts: defence in depth.
  const engine = new RuleEngine([ruleSchema.parse(zeroWindow), ruleSchema.parse(optionalFirst)], {}, new VirtualTimeScheduler());
  engine.connect(new Subject<InferenceEvent>()).subscribe().unsubscribe();
  t.match(engine.status(), [
    { id: 'zero-window', state: 'stopped-by-error', error: 'tumbling window: sizeMs must be > 0' },
    { id: 'optional-first', state: 'stopped-by-error', error: 'the first step of a sequence cannot be optional' },
  ]);
});

t.test('`check` prints file, line, column and the YAML path', async (t) => {
  const text = [
    'rules:',
    '  - id: zero-window',
    '    pipeline:',
    '      - window: { type: tumbling, size: 0s }',
    '    outputs: { derived: {} }',
  ].join('\n');
  const err = t.throws(() => parseRules(text, 'rules.yaml')) as ConfigError;
  t.ok(err instanceof ConfigError);
  t.match(err.message, /rules\.yaml:4:\d+: rules\.0\.pipeline\.0\.window\.size: size must be at least 1ms/);
});

const seq = (steps: Raw[]) => ({ pattern: { seq: steps, within: '1m' } });
const step = (name: string, o: Raw = {}) => ({ name, where: { field: 'label', eq: name }, ...o });

// Windows: the operator refuses sizes ≤ 0 (validateSpec); a duration string '0s' is 0 ms.
const windows: [string, Raw, Raw][] = [
  ['size', { type: 'tumbling', size: '0s' }, { type: 'tumbling', size: '1ms' }],
  ['size', { type: 'sliding', size: '0s', slide: '1ms' }, { type: 'sliding', size: '1ms', slide: '1ms' }],
  ['slide', { type: 'sliding', size: '10s', slide: '0s' }, { type: 'sliding', size: '10s', slide: '10ms' }],
  ['gap', { type: 'session', gap: '0s' }, { type: 'session', gap: '1ms' }],
  ['size', { type: 'time-or-count', size: '0s', count: 10 }, { type: 'time-or-count', size: '1ms', count: 10 }],
];
for (const [key, bad, good] of windows) {
  refusedAndNeighbour(
    `a ${String(bad.type)} window needs ${key} ≥ 1ms`,
    ruleWith({ window: bad }, derived),
    ruleWith({ window: good }, derived),
    `pipeline.0.window.${key}`,
    new RegExp(`^${key} must be at least 1ms$`),
  );
}
refusedAndNeighbour(
  'sub-millisecond durations are refused too (ts has millisecond resolution)',
  ruleWith({ window: { type: 'tumbling', size: 1e-9 } }, derived),
  ruleWith({ window: { type: 'tumbling', size: 1 } }, derived),
  'pipeline.0.window.size',
  /size must be at least 1ms/,
);
refusedAndNeighbour(
  'a duration too large to be a number is refused',
  ruleWith({ window: { type: 'tumbling', size: `${'9'.repeat(400)}d` } }, derived),
  ruleWith({ window: { type: 'tumbling', size: '3650d' } }, derived),
  'pipeline.0.window.size',
  /size must be at most 3650d/,
);
refusedAndNeighbour(
  'a sliding window puts an event into at most 1000 windows',
  ruleWith({ window: { type: 'sliding', size: '1001ms', slide: '1ms' } }, derived),
  ruleWith({ window: { type: 'sliding', size: '1000ms', slide: '1ms' } }, derived),
  'pipeline.0.window.slide',
  /an event goes into size\/slide = 1001 windows; at most 1000/,
);
refusedAndNeighbour(
  'lateness and outOfOrder may not make a key hold more than 1000 open windows',
  ruleWith({ window: { type: 'tumbling', size: '1s', lateness: '999s', outOfOrder: '1s' } }, derived),
  ruleWith({ window: { type: 'tumbling', size: '1s', lateness: '998s', outOfOrder: '1s' } }, derived),
  'pipeline.0.window.lateness',
  /a key would hold up to 1001 open windows \(\(size \+ outOfOrder \+ lateness\) \/ size\); at most 1000/,
);
refusedAndNeighbour(
  'outOfOrder alone counts as well',
  ruleWith({ window: { type: 'sliding', size: '10s', slide: '1s', outOfOrder: '991s' } }, derived),
  ruleWith({ window: { type: 'sliding', size: '10s', slide: '1s', outOfOrder: '990s' } }, derived),
  'pipeline.0.window.outOfOrder',
  /up to 1001 open windows .* \/ slide\)/,
);
t.test('lateness and outOfOrder may be 0 (their default)', async (t) => {
  t.same(issues(ruleWith({ window: { type: 'tumbling', size: '10s', lateness: '0s', outOfOrder: '0ms' } }, derived)), []);
});

// Timers: scheduled on the gateway's clock; Node fires a delay over 2^31 − 1 ms after 1 ms.
const timers: [string, (v: unknown) => Raw, Raw?, Raw?][] = [
  ['dedupe.within', (v) => ({ dedupe: { within: v } }), derived],
  ['debounce.quiet', (v) => ({ debounce: { quiet: v } }), derived],
  ['window.idle', (v) => ({ window: { type: 'tumbling', size: '10s', idle: v } }), derived],
  ['absence.timeout', (v) => ({ absence: { timeout: v } })],
  ['pattern.within', (v) => ({ pattern: { seq: [step('a')], within: v } }), derived],
  [
    'notFollowedBy.within',
    (v) => ({ notFollowedBy: { first: { field: 'anomaly', gt: 0.8 }, then: { field: 'anomaly', lt: 0.2 }, within: v } }),
  ],
];
for (const [key, stage, outputs] of timers) {
  const name = key.split('.')[1]!;
  refusedAndNeighbour(
    `${key} is at least 1ms`,
    ruleWith(stage('0s'), outputs),
    ruleWith(stage('1ms'), outputs),
    `pipeline.0.${key}`,
    new RegExp(`^${name} must be at least 1ms$`),
  );
  refusedAndNeighbour(
    `${key} is at most 2^31 − 1 ms`,
    ruleWith(stage(MAX_TIMER_MS + 1), outputs),
    ruleWith(stage(MAX_TIMER_MS), outputs),
    `pipeline.0.${key}`,
    new RegExp(`^${name} must be at most 2147483647ms \\(about 24.8 days\\), the longest a timer can wait$`),
  );
}
refusedAndNeighbour(
  'join.within is at least 1ms',
  ruleWith({ join: { with: { models: ['thermo'] }, within: '0s', fields: ['anomaly'] } }, derived),
  ruleWith({ join: { with: { models: ['thermo'] }, within: '1ms', fields: ['anomaly'] } }, derived),
  'pipeline.0.join.within',
  /^within must be at least 1ms$/,
);
const persist = { persistence: { atLeast: 0.7, n: 1, m: 1, clearAfter: 1 } };
refusedAndNeighbour(
  'state.ttl is a timer',
  ruleWith(persist, { alarm: {} }, { state: { ttl: '0s' } }),
  ruleWith(persist, { alarm: {} }, { state: { ttl: '1h' } }),
  'state.ttl',
  /^ttl must be at least 1ms$/,
);
refusedAndNeighbour(
  'state.ttl over 24.8 days would spin the timer',
  ruleWith(persist, { alarm: {} }, { state: { ttl: '25d' } }),
  ruleWith(persist, { alarm: {} }, { state: { ttl: '24d' } }),
  'state.ttl',
  /^ttl must be at most 2147483647ms/,
);
const drift = { drift: { field: 'confidence' } };
refusedAndNeighbour(
  'outputs.alarm.clearAfter is a timer',
  ruleWith(drift, { alarm: { clearAfter: '0s' } }),
  ruleWith(drift, { alarm: { clearAfter: '1ms' } }),
  'outputs.alarm.clearAfter',
  /^clearAfter must be at least 1ms$/,
);

// Patterns: seq refuses an optional first step (min 0); step names key the match.
refusedAndNeighbour(
  'the first step of a sequence cannot be optional, even with oneOrMore or times',
  ruleWith(seq([step('a', { optional: true, oneOrMore: true }), step('b')]), derived),
  ruleWith(seq([step('a', { oneOrMore: true }), step('b', { optional: true })]), derived),
  'pipeline.0.pattern.seq.0.optional',
  /the first step of a sequence cannot be optional/,
);
refusedAndNeighbour(
  'step names are unique in a seq',
  ruleWith(seq([step('a'), step('b'), step('a')]), derived),
  ruleWith(seq([step('a'), step('b'), step('c')]), derived),
  'pipeline.0.pattern.seq.2.name',
  /step name 'a' is used twice/,
);
refusedAndNeighbour(
  'step names are unique in an and',
  ruleWith({ pattern: { and: [step('a'), step('a')], within: '1m' } }, derived),
  ruleWith({ pattern: { and: [step('a'), step('b')], within: '1m' } }, derived),
  'pipeline.0.pattern.and.1.name',
  /step name 'a' is used twice/,
);

// Threshold: hysteresis refuses clearAt ≥ raiseAt; the planner takes the direction from `above`.
const threshold = /give above with clearBelow < above, or below with clearAbove > below/;
refusedAndNeighbour(
  'a threshold with `above` and a complete `below` pair is refused (the planner would use above without clearBelow)',
  ruleWith({ threshold: { above: 0.8, below: 0.1, clearAbove: 0.3 } }),
  ruleWith({ threshold: { below: 0.1, clearAbove: 0.3 } }),
  'pipeline.0.threshold',
  threshold,
);
refusedAndNeighbour(
  'a threshold with a stray clearBelow beside a below pair is refused',
  ruleWith({ threshold: { clearBelow: 0.2, below: 0.1, clearAbove: 0.3 } }),
  ruleWith({ threshold: { below: 0.1, clearAbove: 0.3 } }),
  'pipeline.0.threshold',
  threshold,
);
refusedAndNeighbour(
  'clearBelow must be below above',
  ruleWith({ threshold: { above: 0.5, clearBelow: 0.5 } }),
  ruleWith({ threshold: { above: 0.5, clearBelow: 0.49 } }),
  'pipeline.0.threshold',
  threshold,
);

// Checks the schema already had, kept as the operators' mirror.
refusedAndNeighbour(
  'persistence needs n ≤ m',
  ruleWith({ persistence: { atLeast: 0.7, n: 4, m: 3, clearAfter: 1 } }),
  ruleWith({ persistence: { atLeast: 0.7, n: 3, m: 3, clearAfter: 1 } }),
  'pipeline.0.persistence.n',
  /n must not exceed m/,
);
refusedAndNeighbour(
  'a sliding slide may not exceed its size',
  ruleWith({ window: { type: 'sliding', size: '5s', slide: '6s' } }, derived),
  ruleWith({ window: { type: 'sliding', size: '5s', slide: '5s' } }, derived),
  'pipeline.0.window.slide',
  /slide must not exceed size/,
);
refusedAndNeighbour(
  'trend needs at least 2 points',
  ruleWith({ trend: { points: 1 } }, derived),
  ruleWith({ trend: { points: 2 } }, derived),
  'pipeline.0.trend.points',
  /./,
);
refusedAndNeighbour(
  'ewma alpha is in (0, 1]',
  ruleWith({ window: { type: 'count', count: 5, aggregates: ['ewma'], ewmaAlpha: 0 } }, derived),
  ruleWith({ window: { type: 'count', count: 5, aggregates: ['ewma'], ewmaAlpha: 1 } }, derived),
  'pipeline.0.window.ewmaAlpha',
  /./,
);
refusedAndNeighbour(
  'a count window needs a count ≥ 1',
  ruleWith({ window: { type: 'count', count: 0 } }, derived),
  ruleWith({ window: { type: 'count', count: 1 } }, derived),
  'pipeline.0.window.count',
  /./,
);

// Outputs that could never fire.
const pattern = seq([step('a'), step('b')]);
refusedAndNeighbour(
  "an mqtt action on raised never runs after a one-off detector (the action's default)",
  ruleWith(pattern, { actions: [{ mqtt: { topic: 'plant/{device}' } }] }),
  ruleWith(pattern, { actions: [{ on: 'event', mqtt: { topic: 'plant/{device}' } }] }),
  'outputs.actions.0.on',
  /'pattern' signals once \(event\), so on: raised never runs/,
);
refusedAndNeighbour(
  'an mqtt action on event never runs after a level detector',
  ruleWith(persist, { actions: [{ on: 'event', mqtt: { topic: 't' } }] }),
  ruleWith(persist, { actions: [{ on: 'cleared', mqtt: { topic: 't' } }] }),
  'outputs.actions.0.on',
  /'persistence' signals raised and cleared, so on: event never runs/,
);
refusedAndNeighbour(
  'without a detector every signal is an event',
  ruleWith({ filter: { field: 'anomaly', gt: 0.5 } }, { actions: [{ on: 'cleared', mqtt: { topic: 't' } }] }),
  ruleWith({ filter: { field: 'anomaly', gt: 0.5 } }, { actions: [{ on: 'any', mqtt: { topic: 't' } }] }),
  'outputs.actions.0.on',
  /without a detector every signal is an event, so on: cleared never runs/,
);
refusedAndNeighbour(
  "a Modbus coil follows the rule's alarm",
  ruleWith(persist, { derived: {}, actions: [{ modbusCoil: 3 }] }),
  ruleWith(persist, { alarm: {}, actions: [{ modbusCoil: 3 }] }),
  'outputs.actions.0.modbusCoil',
  /a coil follows the rule's alarm, so the rule needs outputs.alarm/,
);
