import t from 'tap';
import { inferenceEvent, runningGateway } from '../helpers/gateway-config.js';
import { mqttClient } from '../helpers/clients.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { collect, errorsOf, gatewayNode, helper, NODES, sleep, useHelper, waitForStatus, type Msg } from './helper.js';

t.setTimeout(90_000);

type Alarm = {
  device: string;
  rule: string;
  state?: string;
  active: boolean;
  acked: boolean;
  confirmed: boolean;
  severity: number;
  by?: string;
};

async function raise(ports: { mqtt: number }, device: string, seq: number): Promise<void> {
  const mqtt = await mqttClient(ports.mqtt);
  for (const s of [seq, seq + 1])
    await mqtt.publishAsync(`tinyml/${device}/inference`, JSON.stringify(inferenceEvent(device, 0.9, s)), { qos: 1 });
  await mqtt.endAsync();
}

t.test('tinyml-alarm-in, tinyml-alarm-ack against the real gateway', async (t) => {
  const { ports } = await runningGateway(t, { opcua: { enabled: false }, modbus: { enabled: false } });
  await useHelper(t);
  // press-02's alarm exists before the flow is deployed: list mode must load it from GET /alarms.
  await raise(ports, 'press-02', 1);
  await helper.load(NODES, [
    gatewayNode(ports),
    { id: 'all', type: 'tinyml-alarm-in', gateway: 'gw', devices: '*', output: 'transitions', wires: [['n-transitions']] },
    {
      id: 'p1raised',
      type: 'tinyml-alarm-in',
      gateway: 'gw',
      devices: 'press-01',
      rules: 'pers*',
      minSeverity: '500',
      raised: true,
      acknowledged: false,
      confirmed: false,
      cleared: false,
      wires: [['n-raisedOnly']],
    },
    { id: 'severe', type: 'tinyml-alarm-in', gateway: 'gw', devices: '*', minSeverity: '900', wires: [['n-severeOnly']] },
    { id: 'n-list', type: 'tinyml-alarm-in', gateway: 'gw', devices: '*', output: 'list', wires: [['n-lists']] },
    { id: 'ack', type: 'tinyml-alarm-ack', gateway: 'gw', command: 'acknowledge', comment: 'seen on the dashboard', wires: [['n-acked']] },
    { id: 'n-catch', type: 'catch', scope: ['ack'], wires: [['n-caught']] },
    { id: 'n-transitions', type: 'helper' },
    { id: 'n-raisedOnly', type: 'helper' },
    { id: 'n-severeOnly', type: 'helper' },
    { id: 'n-lists', type: 'helper' },
    { id: 'n-acked', type: 'helper' },
    { id: 'n-caught', type: 'helper' },
  ]);
  const transitions = collect('n-transitions');
  const raisedOnly = collect('n-raisedOnly');
  const severeOnly = collect('n-severeOnly');
  const lists = collect('n-lists');
  const acked = collect('n-acked');
  const caught = collect('n-caught');
  await waitForStatus(helper.getNode('all'), /^connected$/);
  const first = await waitFor(() => lists[0], 'the alarm list loaded at connect');
  t.same(
    (first.payload as Alarm[]).map((a) => [a.device, a.rule, a.active]),
    [['press-02', 'persist', true]],
    'list mode starts with the alarm raised before deploy',
  );
  t.equal(first.kind, 'alarm-list');
  await sleep(200);

  await raise(ports, 'press-01', 10);
  await waitFor(() => transitions.some((m) => m.topic === 'press-01') || undefined, 'press-01 raised');
  t.match(transitions.at(-1)?.payload, { device: 'press-01', rule: 'persist', state: 'raised', severity: 800, active: true, acked: false });
  await waitFor(() => (lists.at(-1)?.payload as Alarm[]).length === 2 || undefined, 'the list to hold both alarms');

  helper.getNode('ack').receive({ payload: { device: 'press-01', rule: 'persist' } });
  const ackMsg = await waitFor(() => acked[0], 'the acknowledge answer');
  t.equal(ackMsg.statusCode, 200);
  t.match((ackMsg.payload as Alarm[])[0], { device: 'press-01', rule: 'persist', acked: true, by: /^http:/ });
  await waitFor(() => transitions.some((m) => (m.payload as Alarm).state === 'acknowledged') || undefined, 'the acknowledged transition');
  await waitFor(
    () => (lists.at(-1)?.payload as Alarm[]).find((a) => a.device === 'press-01')?.acked || undefined,
    'the list to show press-01 acknowledged',
  );

  // Acknowledging again is a conflict; an unknown device is not found; both reach the Catch node.
  helper.getNode('ack').receive({ payload: { device: 'press-01', rule: 'persist' }, _msgid: 'again' });
  helper.getNode('ack').receive({ topic: 'nope', rule: 'persist', payload: 'click', _msgid: 'unknown' });
  helper.getNode('ack').receive({ payload: { device: 'press-01', command: 'explode' }, _msgid: 'bad-command' });
  await waitFor(() => caught.length >= 3 || undefined, 'three errors caught');
  const byId = (id: string): Msg | undefined => caught.find((m) => m._msgid === id);
  t.equal(byId('again')?.statusCode, 409);
  t.match((byId('again')?.error as { message: string }).message, /409/);
  t.equal(byId('unknown')?.statusCode, 404);
  t.match((byId('bad-command')?.error as { message: string }).message, /unknown command 'explode'/);
  t.equal(acked.length, 1, 'failed commands send nothing');

  await sleep(300);
  t.same(
    raisedOnly.map((m) => [m.topic, (m.payload as Alarm).state]),
    [['press-01', 'raised']],
    'device, rule, severity and state filters',
  );
  t.equal(severeOnly.length, 0, 'severity 800 is below the minimum 900');
});

t.test('tinyml-alarm-ack reports an unreachable gateway to Catch with statusCode 0', async (t) => {
  await useHelper(t);
  const port = await freePort();
  await helper.load(NODES, [
    gatewayNode({ mqtt: port, http: port }),
    { id: 'ack', type: 'tinyml-alarm-ack', gateway: 'gw', command: 'confirm', device: 'press-01', rule: 'persist', wires: [[]] },
    { id: 'n-catch', type: 'catch', scope: ['ack'], wires: [['n-caught']] },
    { id: 'n-caught', type: 'helper' },
  ]);
  const caught = collect('n-caught');
  helper.getNode('ack').receive({ payload: 'go' });
  const msg = await waitFor(() => caught[0], 'the error');
  t.equal(msg.statusCode, 0);
  t.match((msg.error as { message: string }).message, /POST \/alarms\/confirm: gateway unreachable/);
  t.match(errorsOf(helper.getNode('ack')), [/gateway unreachable/]);
});
