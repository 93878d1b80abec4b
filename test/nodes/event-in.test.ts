import t from 'tap';
import { inferenceEvent, runningGateway, testConfig } from '../helpers/gateway-config.js';
import { Gateway } from '../../src/daemon/gateway.js';
import { testLogger } from '../helpers/test-log.js';
import { mqttClient } from '../helpers/clients.js';
import { waitFor } from '../helpers/ports.js';
import { collect, errorsOf, gatewayNode, helper, NODES, sleep, statusOf, useHelper, waitForStatus } from './helper.js';

t.setTimeout(90_000);

const publish = async (mqtt: Awaited<ReturnType<typeof mqttClient>>, device: string, anomaly: number, seq: number, extra = {}) =>
  mqtt.publishAsync(`tinyml/${device}/inference`, JSON.stringify(inferenceEvent(device, anomaly, seq, extra)), { qos: 1 });

t.test('tinyml-event-in passes the events its filters match, from the real gateway', async (t) => {
  const { ports } = await runningGateway(t, { opcua: { enabled: false }, modbus: { enabled: false } });
  await useHelper(t);
  const flow = [
    gatewayNode(ports),
    {
      id: 'in',
      type: 'tinyml-event-in',
      gateway: 'gw',
      devices: 'press-0*',
      models: 'motor-anomaly@2.*',
      labels: '',
      minAnomaly: '0.5',
      wires: [['out']],
    },
    { id: 'labels', type: 'tinyml-event-in', gateway: 'gw', devices: '*', labels: 'normal', wires: [['normal']] },
    { id: 'out', type: 'helper' },
    { id: 'normal', type: 'helper' },
  ];
  await helper.load(NODES, flow);
  const got = collect('out');
  const normal = collect('normal');
  const node = helper.getNode('in');
  t.match(await waitForStatus(node, /^connected$/), { fill: 'green', shape: 'dot' }, 'status shows the shared connection');

  const mqtt = await mqttClient(ports.mqtt);
  t.teardown(() => mqtt.endAsync());
  await sleep(200); // the subscription is made on connect
  await publish(mqtt, 'press-01', 0.9, 1); // passes
  await publish(mqtt, 'press-01', 0.2, 2); // below the minimum anomaly
  await publish(mqtt, 'press-02', 0.8, 3, { model: { name: 'motor-anomaly', version: '3.0.0' } }); // other model version
  await publish(mqtt, 'fan-01', 0.95, 4); // other device
  await publish(mqtt, 'press-02', 0.75, 5); // passes
  await waitFor(() => got.length >= 2 || undefined, 'two events');
  await waitFor(() => normal.length >= 1 || undefined, 'the normal event');
  await sleep(300);
  t.same(
    got.map((m) => [m.topic, (m.payload as { seq: number }).seq, m.kind]),
    [
      ['press-01', 1, 'inference'],
      ['press-02', 5, 'inference'],
    ],
  );
  t.match(got[0]?.payload, { device: 'press-01', anomaly: 0.9, model: { name: 'motor-anomaly', version: '2.3.1' }, ts: 1_700_000_000_010 });
  t.same(
    normal.map((m) => (m.payload as { seq: number }).seq),
    [2],
    'the label filter passes only label normal',
  );

  // Redeploy with another filter: the old subscription is gone, the new one works.
  await helper.setFlows([
    gatewayNode(ports),
    { id: 'in2', type: 'tinyml-event-in', gateway: 'gw', devices: 'fan-01', wires: [['out2']] },
    { id: 'out2', type: 'helper' },
  ]);
  const after = collect('out2');
  await waitForStatus(helper.getNode('in2'), /^connected$/);
  await sleep(200);
  await publish(mqtt, 'fan-01', 0.1, 6);
  await publish(mqtt, 'press-01', 0.9, 7);
  await waitFor(() => after.length >= 1 || undefined, 'the fan event after redeploy');
  await sleep(300);
  t.same(
    after.map((m) => m.topic),
    ['fan-01'],
  );
  t.equal(got.length, 2, 'the removed node sends nothing more');
});

t.test('tinyml-event-in without a gateway shows a red status and logs an error', async (t) => {
  await useHelper(t);
  await helper.load(NODES, [{ id: 'in', type: 'tinyml-event-in', gateway: '', wires: [] }]);
  const node = helper.getNode('in');
  t.match(statusOf(node), { fill: 'red', text: 'no gateway configured' });
});

t.test('tinyml-event-in refuses a filter the editor would have refused (flows deployed over the API)', async (t) => {
  await useHelper(t);
  await helper.load(NODES, [
    gatewayNode({ mqtt: 1, http: 1 }),
    { id: 'in', type: 'tinyml-event-in', gateway: 'gw', devices: 'press/01', wires: [] },
  ]);
  const node = helper.getNode('in');
  t.match(statusOf(node), { fill: 'red', text: 'bad devices filter' });
  t.match(errorsOf(node), [/devices: 'press\/01' is not a name or glob/]);
});

t.test('tinyml-event-in shows reconnecting while the gateway is down and resumes after', async (t) => {
  const { config, ports } = await testConfig(t, { opcua: { enabled: false }, modbus: { enabled: false } });
  const first = new Gateway(config, { log: testLogger() });
  await first.start();
  t.teardown(() => first.stop());
  await useHelper(t);
  await helper.load(NODES, [
    { ...gatewayNode(ports) },
    { id: 'in', type: 'tinyml-event-in', gateway: 'gw', devices: '*', wires: [['out']] },
    { id: 'out', type: 'helper' },
  ]);
  const got = collect('out');
  const node = helper.getNode('in');
  await waitForStatus(node, /^connected$/);
  await first.stop();
  t.match(await waitForStatus(node, /reconnecting|ECONNREFUSED/), { fill: /yellow|red/ });
  // The daemon restarted: a new process on the same ports.
  const second = new Gateway(config, { log: testLogger() });
  await second.start();
  t.teardown(() => second.stop());
  await waitForStatus(node, /^connected$/, 15_000);
  const mqtt = await mqttClient(ports.mqtt);
  t.teardown(() => mqtt.endAsync());
  await sleep(300);
  await publish(mqtt, 'press-01', 0.3, 9);
  await waitFor(() => got.length >= 1 || undefined, 'an event after the gateway came back');
  t.equal(got[0]?.topic, 'press-01');
});
