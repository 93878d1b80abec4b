import t from 'tap';
import { inferenceEvent, runningGateway } from '../helpers/gateway-config.js';
import { mqttClient } from '../helpers/clients.js';
import { waitFor } from '../helpers/ports.js';
import {
  collect,
  errorsOf,
  helper,
  gatewayNode,
  NODES,
  handlesAddedSince,
  openHandles,
  sleep,
  statusOf,
  useHelper,
  type Msg,
} from './helper.js';

t.setTimeout(90_000);

t.test('tinyml-device reads one device or all of them, and reports unknown ones to Catch', async (t) => {
  const { ports } = await runningGateway(t, { opcua: { enabled: false }, modbus: { enabled: false } });
  const mqtt = await mqttClient(ports.mqtt);
  await mqtt.publishAsync('tinyml/press-01/inference', JSON.stringify(inferenceEvent('press-01', 0.3, 4)), { qos: 1 });
  await mqtt.endAsync();
  await useHelper(t);
  await helper.load(NODES, [
    gatewayNode(ports),
    { id: 'one', type: 'tinyml-device', gateway: 'gw', device: '', wires: [['n-out']] },
    { id: 'fixed', type: 'tinyml-device', gateway: 'gw', device: 'press-02', wires: [['n-out']] },
    { id: 'n-catch', type: 'catch', scope: ['one'], wires: [['n-caught']] },
    { id: 'n-out', type: 'helper' },
    { id: 'n-caught', type: 'helper' },
  ]);
  const out = collect('n-out');
  const caught = collect('n-caught');
  const one = helper.getNode('one');

  one.receive({ device: 'press-01', _msgid: 'by-msg' });
  const got = await waitFor(() => out.find((m) => m._msgid === 'by-msg'), 'press-01');
  t.equal(got.topic, 'press-01');
  t.match(got.payload, {
    id: 'press-01',
    online: true,
    model: { name: 'motor-anomaly', version: '2.3.1' },
    anomaly: 0.3,
    seq: 4,
    events: 1,
  });

  one.receive({ payload: '', _msgid: 'all' });
  const all = await waitFor(() => out.find((m) => m._msgid === 'all'), 'every device');
  t.same(
    (all.payload as { id: string }[]).map((d) => d.id),
    ['press-01', 'press-02'],
  );

  helper.getNode('fixed').receive({ device: 'ignored', _msgid: 'fixed' });
  t.match(await waitFor(() => out.find((m) => m._msgid === 'fixed'), 'press-02'), {
    topic: 'press-02',
    payload: { id: 'press-02', online: false },
  });

  one.receive({ payload: 'nope', _msgid: 'unknown' });
  const err = await waitFor(() => caught[0], 'the 404');
  t.equal(err.statusCode, 404);
  t.match((err.error as { message: string }).message, /GET \/devices\/nope: 404 no device nope/);
});

const PERSIST_RULE = `
id: hot
pipeline:
  - persistence: { field: anomaly, atLeast: 0.7, n: 2, m: 3, clearAfter: 2 }
outputs:
  alarm: { severity: 700, message: '{device} hot {value:2}' }
  derived: { name: hot }
`;

t.test('tinyml-cep runs a rule over the msgs flowing in, with no gateway', async (t) => {
  await useHelper(t);
  await helper.load(NODES, [
    { id: 'cep', type: 'tinyml-cep', rule: PERSIST_RULE, wires: [['n-alarms'], ['n-derived']] },
    { id: 'n-catch', type: 'catch', scope: ['cep'], wires: [['n-caught']] },
    { id: 'n-alarms', type: 'helper' },
    { id: 'n-derived', type: 'helper' },
    { id: 'n-caught', type: 'helper' },
  ]);
  const alarms = collect('n-alarms');
  const derived = collect('n-derived');
  const caught = collect('n-caught');
  const cep = helper.getNode('cep');
  t.match(statusOf(cep), { fill: 'green', text: 'hot' });

  const model = { name: 'acme-vibration', version: '1' };
  // A third-party device: no device field, the id comes from msg.topic.
  for (const [i, anomaly] of [0.2, 0.8, 0.9, 0.1, 0.1, 0.1].entries()) {
    cep.receive({ topic: 'pump-3', payload: { model, anomaly, ts: 1_700_000_000_000 + i * 1000 }, _msgid: `m${i}` });
  }
  await waitFor(() => alarms.length >= 2 || undefined, 'raised and cleared');
  t.same(
    alarms.map((m) => [m.topic, m.kind, (m.payload as { state: string }).state]),
    [
      ['pump-3', 'alarm', 'raised'],
      ['pump-3', 'alarm', 'cleared'],
    ],
  );
  t.match(alarms[0]?.payload, { rule: 'hot', severity: 700, message: 'pump-3 hot 0.90', value: 0.9 });
  t.equal(alarms[0]?._msgid, 'm2', 'the output carries the msg that caused it');
  t.match(
    derived.map((m) => m.payload),
    [{ rule: 'hot', name: 'hot', state: 'raised' }, { state: 'cleared' }],
  );

  cep.receive({ topic: 'pump-3', payload: { anomaly: 0.5 }, _msgid: 'no-model' });
  cep.receive({ payload: 'not an object', _msgid: 'text' });
  await waitFor(() => caught.length >= 2 || undefined, 'two errors caught');
  t.match((caught.find((m: Msg) => m._msgid === 'no-model')?.error as { message: string }).message, /not an inference event: model/);
  t.ok(caught.some((m: Msg) => m._msgid === 'text'));
});

t.test('tinyml-cep: a wrong rule shows red and refuses input; the editor check names the line', async (t) => {
  await useHelper(t);
  await helper.load(NODES, [
    { id: 'cep', type: 'tinyml-cep', rule: 'id: x\npipeline:\n  - persistance: { field: anomaly }\n', wires: [[], []] },
    { id: 'n-catch', type: 'catch', scope: ['cep'], wires: [['n-caught']] },
    { id: 'n-caught', type: 'helper' },
  ]);
  const caught = collect('n-caught');
  const cep = helper.getNode('cep');
  t.match(statusOf(cep), { fill: 'red', text: 'rule invalid' });
  t.match(errorsOf(cep), [/^rule invalid: rule: 2 config error[\s\S]*rule:3:5: pipeline.0.persistance/]);
  cep.receive({ payload: { anomaly: 1 } });
  await waitFor(() => caught[0], 'the refusal');
  t.match((caught[0]?.error as { message: string }).message, /rule invalid: fix it/);

  const bad = await helper.request().post('/tinyml-cep/check').send({ rule: 'id: x\npipeline:\n  - persistance: { field: anomaly }\n' });
  t.equal(bad.status, 200);
  t.match(bad.body, { ok: false, errors: [/^rule:3:5: pipeline\.0\.persistance: unknown operator/] });
  const good = await helper.request().post('/tinyml-cep/check').send({ rule: PERSIST_RULE });
  t.same(good.body, { ok: true, rules: ['hot'] });
  const file = await helper
    .request()
    .post('/tinyml-cep/check')
    .send({ rule: `rules:\n  - ${PERSIST_RULE.trim().replace(/\n/g, '\n    ')}\n` });
  t.same(file.body, { ok: true, rules: ['hot'] }, 'a rules: list works too');
});

t.test('tinyml-cep stops its timers on redeploy and close', async (t) => {
  const absence = `
id: silent
pipeline:
  - absence: { timeout: 300ms }
outputs:
  alarm: { severity: 500 }
`;
  await useHelper(t);
  const before = openHandles();
  await helper.load(NODES, [
    { id: 'cep', type: 'tinyml-cep', rule: absence, wires: [['n-alarms'], []] },
    { id: 'n-alarms', type: 'helper' },
  ]);
  const alarms = collect('n-alarms');
  helper.getNode('cep').receive({ topic: 'm-1', payload: { model: { name: 'x', version: '1' }, anomaly: 0 } });
  await waitFor(() => alarms[0], 'the absence alarm');
  t.match(alarms[0]?.payload, { device: 'm-1', rule: 'silent', state: 'raised' });
  helper.getNode('cep').receive({ topic: 'm-2', payload: { model: { name: 'x', version: '1' }, anomaly: 0 } });
  await helper.unload();
  await sleep(600);
  t.equal(alarms.length, 1, 'no alarm after close: the pending deadline was cancelled');
  t.same(handlesAddedSince(before), {}, 'no timer or socket left');
});
