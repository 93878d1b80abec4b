// Device attributes from the config as fields: rules filter, key and print them.
import t from 'tap';
import { Subject } from 'rxjs';
import { RuleEngine } from '../../src/cep/rules/engine.js';
import { ruleSchema, type RuleSpec } from '../../src/cep/rules/language.js';
import { checkRule } from '../../src/cep/rules/check-fields.js';
import { parseConfig } from '../../src/config/load.js';
import { deviceAttributes } from '../../src/config/device-attributes.js';
import { ConfigError } from '../../src/core/errors.js';
import type { RuleOutput } from '../../src/core/rule-output.js';
import type { InferenceEvent } from '../../src/normalise/inference-event.js';

const { devices } = parseConfig(
  [
    'version: 1',
    'devices:',
    '  - { id: a1, line: L1, cell: C1, site: S, group: g1, tags: { role: conveyor } }',
    '  - { id: a2, line: L1, tags: { role: presence } }',
    '  - { id: b1, line: L2 }',
    '  - { id: plain }',
  ].join('\n'),
);
const rule = (spec: Record<string, unknown>): RuleSpec => ruleSchema.parse({ id: 'r', outputs: { derived: {} }, ...spec });
const ev = (device: string, ts: number, anomaly = 0.9): InferenceEvent => ({ device, ts, model: { name: 'm', version: '1' }, anomaly });

function run(spec: RuleSpec, events: InferenceEvent[], attributes = deviceAttributes(devices)) {
  t.same(checkRule(spec), [], `${spec.id} passes check`);
  const engine = new RuleEngine([spec], {}, undefined, attributes);
  const input = new Subject<InferenceEvent>();
  const out: RuleOutput[] = [];
  const sub = engine.connect(input).subscribe((o) => out.push(o));
  for (const e of events) input.next(e);
  input.complete();
  sub.unsubscribe();
  return { engine, derived: out.flatMap((o) => (o.type === 'derived' ? [o.event] : [])) };
}

t.test('deviceAttributes: group, line, cell, site and tags.<name>; devices without any are left out', async (t) => {
  t.same(Object.fromEntries(deviceAttributes(devices)), {
    a1: { group: 'g1', line: 'L1', cell: 'C1', site: 'S', 'tags.role': 'conveyor' },
    a2: { line: 'L1', 'tags.role': 'presence' },
    b1: { line: 'L2' },
  });
  t.throws(() => parseConfig('version: 1\ndevices:\n  - { id: x, tags: { "bad name": y } }'), ConfigError);
});

t.test('key: line shares one state between the devices of a line; key: none between all', async (t) => {
  const persistence = { persistence: { atLeast: 0.5, n: 2, m: 2, clearAfter: 1 } };
  const events = [ev('a1', 1), ev('b1', 2), ev('a2', 3), ev('plain', 4)];
  const byLine = run(rule({ key: 'line', pipeline: [persistence] }), events);
  t.same(
    byLine.derived.map((d) => `${d.key}:${d.device}:${d.state}`),
    ['L1:a2:raised'],
    'a1 and a2 make two hits on L1; b1 is alone on L2; plain has no line',
  );
  const all = run(rule({ key: 'none', pipeline: [persistence] }), events);
  t.same(
    all.derived.map((d) => `${d.device}:${d.state}`),
    ['b1:raised'],
  );
  t.equal(all.engine.status()[0]!.keys, 1);
});

t.test('input filters and prints attributes, and a window row keeps them', async (t) => {
  const filtered = run(
    rule({
      input: { where: { field: 'tags.role', eq: 'conveyor' } },
      pipeline: [{ filter: { field: 'anomaly', gt: 0 } }],
      outputs: { derived: { fields: ['line', 'cell', 'site', 'group', 'tags.role'] } },
    }),
    [ev('a1', 1), ev('a2', 2)],
  );
  t.same(
    filtered.derived.map((d) => d.fields),
    [{ line: 'L1', cell: 'C1', site: 'S', group: 'g1', 'tags.role': 'conveyor' }],
  );
  const windowed = run(
    rule({
      pipeline: [{ window: { type: 'tumbling', size: '10s', field: 'anomaly', aggregates: ['count'] } }],
      outputs: { derived: { fields: ['count', 'line'] } },
    }),
    [ev('a1', 1), ev('b1', 2), ev('a1', 3)],
  );
  t.same(
    windowed.derived.map((d) => `${d.device}:${JSON.stringify(d.fields)}`),
    ['a1:{"count":2,"line":"L1"}', 'b1:{"count":1,"line":"L2"}'],
  );
});

t.test('a reload brings new attributes; check knows them and names a typo', async (t) => {
  const engine = new RuleEngine([rule({ key: 'line', pipeline: [{ filter: { field: 'line', eq: 'L9' } }] })], {}, undefined, new Map());
  const out: RuleOutput[] = [];
  const input = new Subject<InferenceEvent>();
  engine.connect(input).subscribe((o) => out.push(o));
  input.next(ev('a1', 1));
  engine.setAttributes(new Map([['a1', { line: 'L9' }]]));
  input.next(ev('a1', 2));
  t.same(
    out.map((o) => o.type === 'derived' && o.event.key),
    ['L9'],
  );
  t.match(checkRule(rule({ key: 'lien', pipeline: [{ filter: { field: 'anomaly', gt: 0 } }] })), [
    { path: ['key'], message: /no field 'lien' here/ },
  ]);
});
