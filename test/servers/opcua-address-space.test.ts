import t from 'tap';
import {
  AttributeIds,
  BrowseDirection,
  TimestampsToReturn,
  constructEventFilter,
  type ModelChangeStructureDataType,
  type Variant,
} from 'node-opcua';
import { configSchema } from '../../src/config/schema.js';
import { DEVICE_VARIABLES } from '../../src/servers/opcua/device-type.js';
import { GATEWAY_VARIABLES } from '../../src/servers/opcua/gateway-nodes.js';
import { RULE_VARIABLES } from '../../src/servers/opcua/rule-nodes.js';
import { inferenceEvent, runningGateway } from '../helpers/gateway-config.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { fastSubscription, monitorValues, mqttClient, nodeAt, opcuaSession, organized, readValue } from '../helpers/clients.js';

t.setTimeout(120_000);

/** Every GeneralModelChangeEvent the server raises: its Changes as [verb, affected node id]. */
async function watchModelChanges(session: Parameters<typeof fastSubscription>[0]): Promise<[number, string][][]> {
  const subscription = await fastSubscription(session);
  const item = await subscription.monitor(
    { nodeId: 'i=2253', attributeId: AttributeIds.EventNotifier },
    { samplingInterval: 0, queueSize: 100, discardOldest: false, filter: constructEventFilter(['EventType', 'Changes']) },
    TimestampsToReturn.Neither,
  );
  const seen: [number, string][][] = [];
  item.on('changed', (values: Variant[]) => {
    const changes = values[1]?.value as ModelChangeStructureDataType[] | null;
    if (changes) seen.push(changes.map((c) => [c.verb, c.affected.toString()]));
  });
  return seen;
}

t.test('the address space: TinyMLDeviceType per device, Rules, Gateway; devices come and go with model change events', async (t) => {
  // An InfluxDB nobody listens on: the sink buffers, and its depth shows on Gateway/Sinks.
  const deadInflux = `http://127.0.0.1:${await freePort()}`;
  const { gateway, config, ports, raw } = await runningGateway(t, {
    devices: [
      { id: 'press-01', labels: ['normal', 'imbalance', 'bearing_wear'], anomalyRange: { low: 0, high: 5 } },
      { id: 'press-02', labels: ['normal'] },
    ],
    influx: { enabled: true, url: deadInflux, flushIntervalMs: 50 },
  });
  const opc = await opcuaSession(ports.opcua, config.gateway.dataDir);
  t.teardown(() => opc.close());
  const at = (...path: string[]) => nodeAt(opc.session, opc.ns, path);
  const models = await watchModelChanges(opc.session);

  // The type, defined once; each device is an instance of it.
  const typeDef = await opc.session.browse({
    nodeId: await at('Devices', 'press-01'),
    referenceTypeId: 'HasTypeDefinition',
    browseDirection: BrowseDirection.Forward,
    resultMask: 63,
  });
  t.equal(typeDef.references?.[0]?.browseName.name, 'TinyMLDeviceType');
  for (const v of DEVICE_VARIABLES) {
    t.equal(await at('Devices', 'press-01', ...v.path.split('/')), `ns=${opc.ns};s=Devices/press-01/${v.path}`, `browse path ${v.path}`);
  }
  t.same((await organized(opc.session, `ns=${opc.ns};s=Rules`)).sort(), ['persist'], 'one object per rule');
  for (const v of RULE_VARIABLES) t.ok(await at('Rules', 'persist', v.name), `Rules/persist/${v.name}`);
  for (const v of GATEWAY_VARIABLES) t.ok(await at('Gateway', v.name), `Gateway/${v.name}`);

  const range = async (path: string) =>
    (await readValue(opc.session, await at('Devices', 'press-01', ...path.split('/'), '0:EURange'))) as { low: number; high: number };
  t.match(await range('Confidence'), { low: 0, high: 1 }, 'Confidence: EURange 0..1');
  t.match(await range('AnomalyScore'), { low: 0, high: 5 }, "AnomalyScore: the device's anomalyRange");
  t.match(await range('Scores/bearing_wear'), { low: 0, high: 1 }, 'a score per configured class');
  const units = (await readValue(opc.session, await at('Devices', 'press-01', 'DspTimeMs', '0:EngineeringUnits'))) as {
    displayName: { text: string };
  };
  t.equal(units.displayName.text, 'ms');

  // Live values, watched at a 50 ms publishing interval.
  const label = await monitorValues(opc.session, `ns=${opc.ns};s=Devices/press-01/Label`);
  const mqtt = await mqttClient(ports.mqtt);
  t.teardown(() => mqtt.endAsync());
  const send = (device: string, anomaly: number, seq: number, extra: Record<string, unknown> = {}) =>
    mqtt.publishAsync(`tinyml/${device}/inference`, JSON.stringify(inferenceEvent(device, anomaly, seq, extra)), { qos: 1 });
  await send('press-01', 0.9, 1, { timing: { dsp_ms: 4.5, inference_ms: 11 }, model: { name: 'motor-anomaly', version: '2.4.0' } });
  await send('press-01', 0.2, 2, { timing: { dsp_ms: 4.5, inference_ms: 11 }, model: { name: 'motor-anomaly', version: '2.4.0' } });
  await waitFor(() => label.values.includes('normal'), 'the subscription to see the label');
  t.same(label.values.slice(-2), ['bearing_wear', 'normal']);
  const value = (path: string) => readValue(opc.session, `ns=${opc.ns};s=Devices/press-01/${path}`);
  t.equal(await value('AnomalyScore'), 0.2);
  t.equal(await value('Confidence'), 0.9);
  t.equal(await value('Scores/imbalance'), 0.06);
  t.equal(await value('DspTimeMs'), 4.5);
  t.equal(await value('InferenceTimeMs'), 11);
  t.equal(await value('Model/Name'), 'motor-anomaly');
  t.equal(await value('Model/Version'), '2.4.0');
  t.type(await value('Model/DeployedAt'), Date);
  await waitFor(async () => (await value('InferenceRate')) === 2, 'InferenceRate to count two inferences in the last minute');
  t.equal(await value('Online'), true);

  const gw = (name: string) => readValue(opc.session, `ns=${opc.ns};s=Gateway/${name}`);
  await mqtt.publishAsync('tinyml/press-01/inference', 'not json', { qos: 1 });
  await waitFor(async () => (await gw('EventsRejected')) === 1, 'Gateway/EventsRejected');
  t.equal(await gw('EventsAccepted'), 2);
  t.equal(await gw('Devices'), 2);
  t.ok(((await gw('Uptime')) as number) >= 0);
  await waitFor(
    async () => ((await readValue(opc.session, `ns=${opc.ns};s=Gateway/Sinks/influx/BufferDepth`)) as number) >= 2,
    'the buffered points of the unreachable InfluxDB',
  );
  await waitFor(async () => (await readValue(opc.session, `ns=${opc.ns};s=Rules/persist/EventsIn`)) === 2, 'Rules/persist/EventsIn');
  t.equal(await readValue(opc.session, `ns=${opc.ns};s=Rules/persist/Status`), 'running');
  t.equal(await readValue(opc.session, `ns=${opc.ns};s=Rules/persist/Keys`), 1);

  // A device nobody configured appears with its first event, announced by a model change event.
  await send('lathe-07', 0.1, 1);
  await waitFor(
    () => models.some((c) => c.some(([verb, node]) => verb === 1 && node === `ns=${opc.ns};s=Devices/lathe-07`)),
    'NodeAdded lathe-07',
  );
  t.same((await organized(opc.session, `ns=${opc.ns};s=Devices`)).sort(), ['lathe-07', 'press-01', 'press-02']);

  // A reload that drops press-02 and adds a rule: press-02 disappears, the rule appears.
  const next = configSchema.parse({
    ...raw,
    devices: [{ id: 'press-01', labels: ['normal'] }],
    rules: [
      ...(raw.rules as object[]),
      { id: 'hot', pipeline: [{ threshold: { field: 'anomaly', above: 0.95, clearBelow: 0.5 } }], outputs: { alarm: { severity: 900 } } },
    ],
  });
  await gateway.reload(next);
  await waitFor(
    () => models.some((c) => c.some(([verb, node]) => verb === 2 && node === `ns=${opc.ns};s=Devices/press-02`)),
    'NodeDeleted press-02',
  );
  t.same((await organized(opc.session, `ns=${opc.ns};s=Devices`)).sort(), ['lathe-07', 'press-01'], 'a removed device is gone');
  await waitFor(async () => (await organized(opc.session, `ns=${opc.ns};s=Rules`)).includes('hot'), 'Rules/hot');
});
