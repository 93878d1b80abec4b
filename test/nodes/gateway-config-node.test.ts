import t from 'tap';
import { secretHash } from '../helpers/test-log.js';
import { connectAsync } from 'mqtt';
import { execFileSync } from 'node:child_process';
import { inferenceEvent, runningGateway } from '../helpers/gateway-config.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { waitFor } from '../helpers/ports.js';
import { mqttClient } from '../helpers/clients.js';
import { collect, handlesAddedSince, helper, NODES, openHandles, sleep, useHelper, waitForStatus } from './helper.js';

t.setTimeout(90_000);

/** Established TCP connections to a local port, as the kernel counts them. */
const mqttConnectionsTo = (port: number): number =>
  execFileSync('ss', ['-Htn', 'state', 'established', `( dport = :${port} )`], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.trim() !== '').length;

t.test('the config node logs in to a broker that asks for credentials, and refuses wrong ones visibly', async (t) => {
  const broker = await startMosquitto(t, 'nodered', 'right-password');
  await useHelper(t);
  const flow = (id: string) => [
    { id, type: 'tinyml-gateway', mqttUrl: broker.url, httpUrl: 'http://127.0.0.1:1' },
    { id: `${id}-in`, type: 'tinyml-event-in', gateway: id, devices: '*', wires: [['n-out']] },
  ];
  await helper.load(NODES, [...flow('good'), ...flow('bad'), { id: 'n-out', type: 'helper' }], {
    good: { username: 'nodered', password: 'right-password' },
    bad: { username: 'nodered', password: 'wrong' },
  });
  const out = collect('n-out');
  await waitForStatus(helper.getNode('good-in'), /^connected$/);
  t.match(
    await waitForStatus(helper.getNode('bad-in'), /Not authori[sz]ed/i),
    { fill: 'red' },
    'wrong password: red status with the reason',
  );

  const publisher = await connectAsync(broker.url, { username: 'nodered', password: 'right-password', reconnectPeriod: 0 });
  t.teardown(() => publisher.endAsync());
  await sleep(200);
  await publisher.publishAsync('tinyml/dev-9/event', JSON.stringify(inferenceEvent('dev-9', 0.4, 1)), { qos: 1 });
  await publisher.publishAsync('tinyml/dev-9/event', 'not json', { qos: 1 });
  const msg = await waitFor(() => out[0], 'the event through the authenticated connection');
  t.equal(msg.topic, 'dev-9');
  await sleep(200);
  t.equal(out.length, 1, 'a payload that is not JSON is dropped');
  t.match(
    helper
      .getNode('good-in')
      .warn.getCalls()
      .map((c) => String(c.args[0])),
    [/non-JSON payload on tinyml\/dev-9\/event/],
  );
});

t.test('the API token goes with every HTTP request: a gateway that asks for one answers the node that has it', async (t) => {
  const { ports } = await runningGateway(t, {
    opcua: { enabled: false },
    modbus: { enabled: false },
    http: { apiTokens: [{ name: 'node-red', tokenHash: await secretHash('s3cret') }] },
  });
  await useHelper(t);
  const gw = (id: string) => ({
    id,
    type: 'tinyml-gateway',
    mqttUrl: `mqtt://127.0.0.1:${ports.mqtt}`,
    httpUrl: `http://127.0.0.1:${ports.http}/`,
  });
  await helper.load(
    NODES,
    [
      gw('with'),
      gw('without'),
      { id: 'ack', type: 'tinyml-alarm-ack', gateway: 'with', command: 'acknowledge', device: 'press-01', wires: [['n-out']] },
      { id: 'ack2', type: 'tinyml-alarm-ack', gateway: 'without', command: 'acknowledge', device: 'press-01', wires: [['n-out']] },
      { id: 'n-catch', type: 'catch', scope: ['ack2'], wires: [['n-caught']] },
      { id: 'n-out', type: 'helper' },
      { id: 'n-caught', type: 'helper' },
    ],
    { with: { token: 's3cret' } },
  );
  const out = collect('n-out');
  const caught = collect('n-caught');
  helper.getNode('ack').receive({});
  t.match(await waitFor(() => out[0], 'the answer'), { statusCode: 200 }, 'the token lets the node in');
  helper.getNode('ack2').receive({});
  const refused = await waitFor(() => caught[0], 'the refusal');
  t.equal(refused.statusCode, 401, 'no token: 401 to Catch');
  t.match((refused.error as { message: string }).message, /needs an API token/);
});

t.test('nodes of one config node share one connection, and closing releases it', async (t) => {
  const { ports } = await runningGateway(t, {
    opcua: { enabled: false },
    modbus: { enabled: false },
    // The gateway's own idle keep-alive connections (the nodes' GET /alarms) close at once, so what is left is the nodes'.
    http: { limits: { idleTimeout: 50 } },
  });
  await useHelper(t);
  const before = openHandles();
  await helper.load(NODES, [
    { id: 'gw', type: 'tinyml-gateway', mqttUrl: `mqtt://127.0.0.1:${ports.mqtt}`, httpUrl: `http://127.0.0.1:${ports.http}` },
    { id: 'a', type: 'tinyml-event-in', gateway: 'gw', devices: '*', wires: [['n-a']] },
    { id: 'b', type: 'tinyml-event-in', gateway: 'gw', devices: 'press-01', wires: [['n-b']] },
    { id: 'c', type: 'tinyml-alarm-in', gateway: 'gw', output: 'list', wires: [[]] },
    { id: 'n-a', type: 'helper' },
    { id: 'n-b', type: 'helper' },
  ]);
  const a = collect('n-a');
  const b = collect('n-b');
  for (const id of ['a', 'b', 'c']) await waitForStatus(helper.getNode(id), /^connected$/);
  t.equal(mqttConnectionsTo(ports.mqtt), 1, 'three nodes, one MQTT connection to the broker');
  const mqtt = await mqttClient(ports.mqtt);
  t.teardown(() => mqtt.endAsync());
  await sleep(200);
  await mqtt.publishAsync('tinyml/press-01/inference', JSON.stringify(inferenceEvent('press-01', 0.1, 1)), { qos: 1 });
  await waitFor(() => (a.length === 1 && b.length === 1) || undefined, 'both nodes to get the event');

  await mqtt.endAsync();
  await helper.unload();
  await waitFor(() => mqttConnectionsTo(ports.mqtt) === 0 || undefined, 'the connection to close');
  await sleep(300);
  t.same(handlesAddedSince(before), {}, 'no socket or timer left after the flow is stopped');
});
