import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { modbusMapCommand } from '../../src/cli/commands.js';
import { decode } from '../../src/core/register-codec.js';
import { startInfluxd } from '../helpers/influxd.js';
import { runningGateway, inferenceEvent } from '../helpers/gateway-config.js';
import { waitFor } from '../helpers/ports.js';
import {
  conditionState,
  organized,
  modbusClient,
  modbusExceptionOf,
  monitorValues,
  mqttClient,
  opcuaSession,
  readValue,
} from '../helpers/clients.js';
import { collect, gatewayNode, helper, NODES, useHelper, waitForStatus } from '../nodes/helper.js';

t.setTimeout(180_000);

t.test('one event path: MQTT → rule → OPC UA, Modbus TCP, InfluxDB and Node-RED', async (t) => {
  const influx = await startInfluxd();
  t.teardown(() => influx.stop());
  const { gateway, config, ports, raw } = await runningGateway(t, {
    influx: { enabled: true, url: influx.url, database: 'e2e', flushIntervalMs: 100, batchSize: 100 },
  });

  // Node-RED: the real runtime through the test helper, our nodes wired to a helper node.
  await useHelper(t);
  await helper.load(NODES, [
    gatewayNode(ports),
    { id: 'in', type: 'tinyml-event-in', gateway: 'gw', devices: '*', wires: [['out']] },
    { id: 'alarms', type: 'tinyml-alarm-in', gateway: 'gw', devices: '*', acknowledged: false, confirmed: false, wires: [['out']] },
    { id: 'out', type: 'helper' },
  ]);
  const nodeRedMsgs = collect('out') as { topic: string; kind: string; payload: Record<string, unknown> }[];
  await waitForStatus(helper.getNode('in'), /^connected$/);
  await waitForStatus(helper.getNode('alarms'), /^connected$/);

  const opc = await opcuaSession(ports.opcua, config.gateway.dataDir);
  t.teardown(() => opc.close());
  const node = (v: string) => `ns=${opc.ns};s=Devices/press-01/${v}`;
  t.ok(opc.ns > 0, 'namespace urn:tinyml-gateway is registered');
  t.same((await organized(opc.session, `ns=${opc.ns};s=Devices`)).sort(), ['press-01', 'press-02'], 'Devices holds one object per device');
  const anomalyWatch = await monitorValues(opc.session, node('AnomalyScore'));

  const mqtt = await mqttClient(ports.mqtt);
  t.teardown(() => mqtt.endAsync());
  const publish = (payload: unknown, device = 'press-01') =>
    mqtt.publishAsync(`tinyml/${device}/inference`, typeof payload === 'string' ? payload : JSON.stringify(payload), { qos: 1 });

  // Each value is published once the subscription has seen the previous one: a subscription
  // samples, so changes inside one sampling interval would be folded into the latest.
  const publishSeen = async (seq: number, anomaly: number) => {
    await publish(inferenceEvent('press-01', anomaly, seq));
    await waitFor(() => anomalyWatch.values.includes(anomaly), `subscription to see ${anomaly}`);
  };
  await publish('{not json');
  await publish(inferenceEvent('press-02', 0.1, 1), 'press-02');
  await publish(inferenceEvent('press-02', 0.1, 2), 'press-01');
  for (const [seq, anomaly] of [
    [1, 0.2],
    [2, 0.9],
    [3, 0.95],
  ] as const)
    await publishSeen(seq, anomaly);

  // Raised: every view agrees.
  await waitFor(() => gateway.state.get('press-01')?.alarms.size === 1, 'alarm raised in state');
  t.equal(await readValue(opc.session, node('AlarmActive')), true, 'OPC UA AlarmActive');
  t.equal(
    await readValue(opc.session, await conditionState(opc, 'press-01', 'persist', 'ActiveState/Id')),
    true,
    'OPC UA condition active',
  );
  const modbus = await modbusClient(ports.modbus);
  t.teardown(() => new Promise<void>((r) => modbus.close(() => r())));
  t.same(
    (await modbus.readDiscreteInputs(0, 17)).data.slice(0, 17),
    [true, true, ...new Array(14).fill(false), false],
    'Modbus discrete input 0 = press-01 alarm (1 = unacknowledged), 16 = press-02 alarm',
  );

  for (const [seq, anomaly] of [
    [4, 0.1],
    [5, 0.15],
  ] as const)
    await publishSeen(seq, anomaly);
  await waitFor(() => gateway.state.get('press-01')?.alarms.size === 0, 'alarm cleared in state');

  // OPC UA: values read back and seen by a subscription.
  t.equal(await readValue(opc.session, node('AnomalyScore')), 0.15);
  t.equal(await readValue(opc.session, node('Label')), 'normal');
  t.equal(await readValue(opc.session, node('Confidence')), 0.9);
  t.equal(await readValue(opc.session, node('Model/Name')), 'motor-anomaly');
  t.equal(await readValue(opc.session, node('Model/Version')), '2.3.1');
  t.equal(await readValue(opc.session, node('Online')), true);
  t.equal(await readValue(opc.session, node('AlarmActive')), false);
  t.type(await readValue(opc.session, node('LastSeen')), Date);
  t.same(anomalyWatch.values.slice(-5), [0.2, 0.9, 0.95, 0.1, 0.15], 'the subscription saw every value');
  await anomalyWatch.stop();

  // Modbus: every press-01 field at the address `modbus-map` prints.
  const file = join(config.gateway.dataDir, 'gateway.yaml');
  writeFileSync(file, stringify(raw));
  let csv = '';
  t.equal(modbusMapCommand(file, { out: (s) => (csv += s), err: () => undefined }), 0);
  const rows = csv
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(','));
  // Columns: unit, device, field, table, address, …
  const address = (field: string) => Number(rows.find((r) => r[1] === 'press-01' && r[2] === field)?.[4]);
  const read32 = async (field: string, type: 'float32' | 'uint32') => {
    const { data } = await modbus.readInputRegisters(address(field), 2);
    return decode(data, { type, order: 'ABCD' });
  };
  t.equal(await read32('anomaly', 'float32'), Math.fround(0.15));
  t.equal(await read32('confidence', 'float32'), Math.fround(0.9));
  t.equal((await modbus.readInputRegisters(address('label_index'), 1)).data[0], 0, 'label normal is index 0');
  t.same((await modbus.readInputRegisters(address('model_version_major'), 3)).data, [2, 3, 1]);
  t.equal(await read32('seq', 'uint32'), 5);
  t.ok(((await read32('seconds_since_last_seen', 'uint32')) as number) < 5);
  t.equal((await modbus.readInputRegisters(address('online'), 1)).data[0], 1);
  t.equal(await read32('events_total', 'uint32'), 5);
  t.equal((await modbus.readDiscreteInputs(0, 1)).data[0], false, 'alarm cleared on Modbus');
  t.equal(await modbusExceptionOf(modbus.readInputRegisters(31, 2)), 2, 'a read past the map is exception 02');
  t.equal(await modbusExceptionOf(modbus.readHoldingRegisters(0, 1)), 2, 'holding registers are not mapped');
  t.equal(await modbusExceptionOf(modbus.readInputRegisters(0, 126)), 3, 'more than 125 registers is exception 03');
  t.equal(await modbusExceptionOf(modbus.readInputRegisters(0, 200)), 3, '200 registers is exception 03, not the library 04');
  t.equal(await modbusExceptionOf(modbus.readHoldingRegisters(0, 300)), 3, 'the limit holds for holding registers too');
  t.equal(await modbusExceptionOf(modbus.readDiscreteInputs(0, 2001)), 3, 'more than 2000 bits is exception 03');

  // InfluxDB: every accepted event and both transitions, as points.
  await waitFor(async () => {
    const rows = await influx.query('e2e', 'SELECT count(anomaly) AS n FROM inference');
    return rows[0]?.n === 6 ? true : undefined;
  }, 'six inference points in InfluxDB');
  const points = await influx.query(
    'e2e',
    "SELECT anomaly, label, confidence, model_version, seq FROM inference WHERE device = 'press-01'",
  );
  t.same(
    points.map((p) => p.anomaly),
    [0.2, 0.9, 0.95, 0.1, 0.15],
  );
  t.same(
    points.map((p) => p.seq),
    [1, 2, 3, 4, 5],
  );
  t.equal(points[0]?.model_version, '2.3.1');
  const alarms = await waitFor(async () => {
    const rows = await influx.query('e2e', "SELECT state, severity, value FROM alarm WHERE device = 'press-01' AND rule = 'persist'");
    return rows.length === 2 ? rows : undefined;
  }, 'two alarm points');
  t.same(
    alarms.map((a) => [a.state, a.severity, a.value]),
    [
      ['raised', 800, 0.95],
      ['cleared', 800, 0.15],
    ],
  );

  // Node-RED: one msg per inference event and per alarm transition.
  await waitFor(() => nodeRedMsgs.filter((m) => m.kind === 'alarm').length === 2, 'Node-RED alarm msgs');
  await waitFor(() => nodeRedMsgs.filter((m) => m.kind === 'inference').length === 6, 'Node-RED inference msgs');
  const seen = nodeRedMsgs.filter((m) => m.kind === 'inference' && m.topic === 'press-01').map((m) => m.payload.seq);
  t.same(seen, [1, 2, 3, 4, 5], 'every accepted press-01 event, including those that raised and cleared the alarm');
  t.same(
    nodeRedMsgs.filter((m) => m.kind === 'alarm').map((m) => [m.topic, m.payload.state, m.payload.rule]),
    [
      ['press-01', 'raised', 'persist'],
      ['press-01', 'cleared', 'persist'],
    ],
  );
  t.match(
    nodeRedMsgs.find((m) => m.kind === 'inference' && m.topic === 'press-01'),
    { payload: { device: 'press-01', anomaly: 0.2, ts: 1_700_000_000_010 } },
  );
  t.notOk(
    nodeRedMsgs.some((m) => m.payload.seq === 2 && m.payload.device === 'press-02'),
    'the event the gateway rejected (device mismatch) never reaches the flow',
  );

  // Device ids that look like node-id paths or folder names get their own objects, no crash.
  for (const device of ['Devices', 'pump', 'pump.Label', 'Alarms']) await publish(inferenceEvent(device, 0.3, 1), device);
  await waitFor(() => gateway.state.get('Alarms')?.events === 1, 'odd device ids in state');
  t.equal(await readValue(opc.session, `ns=${opc.ns};s=Devices/pump.Label/AnomalyScore`), 0.3);
  t.equal(await readValue(opc.session, `ns=${opc.ns};s=Devices/Devices/AnomalyScore`), 0.3);
  t.same((await organized(opc.session, `ns=${opc.ns};s=Devices`)).length, 6, 'six device objects');

  // Health and metrics over HTTP.
  const health = await fetch(`http://127.0.0.1:${ports.http}/health`);
  t.equal(health.status, 200);
  const metrics = await (await fetch(`http://127.0.0.1:${ports.http}/metrics`)).text();
  t.match(metrics, /tinyml_gateway_events_accepted_total 10/);
  t.match(metrics, /tinyml_gateway_events_rejected_total\{reason="bad_json"\} 1/);
  t.match(metrics, /tinyml_gateway_events_rejected_total\{reason="device_mismatch"\} 1/);
  t.match(metrics, /tinyml_gateway_events_received_total\{source="mqtt"\} 12/);
  t.match(metrics, /tinyml_gateway_rule_events_in_total\{rule="persist"\} 10/);
  t.match(metrics, /tinyml_gateway_alarms_active 0/);
  t.match(metrics, /tinyml_gateway_alarm_transitions_total\{state="raised"\} 1/);
  const written = Number(/tinyml_gateway_sink_points_written_total\{sink="influx"\} (\d+)/.exec(metrics)?.[1]);
  t.ok(written >= 8, `influx points written: ${written}`);
});
