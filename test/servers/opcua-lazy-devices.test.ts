import t from 'tap';
import { AttributeIds, BrowseDirection, TimestampsToReturn, type DataValue } from 'node-opcua';
import { inferenceEvent, LABELS, runningGateway } from '../helpers/gateway-config.js';
import { waitFor } from '../helpers/ports.js';
import { fastSubscription, nodeAt, opcuaSession, organized, postEvents, readValue, watchEvents } from '../helpers/clients.js';

t.setTimeout(120_000);

t.test('device variables are built when a client first reaches below a device, and then behave as if always there', async (t) => {
  const devices = ['press-01', 'press-02', 'press-03', 'press-04'].map((id) => ({ id, labels: LABELS }));
  const { gateway, config, ports } = await runningGateway(t, { devices, modbus: { enabled: false } });
  const opcua = gateway.opcua!;
  // press-03 reports a class nobody configured: its variable must be there once the device is built.
  await postEvents(ports.http, [
    inferenceEvent('press-01', 0.21, 1),
    inferenceEvent('press-02', 0.32, 1),
    inferenceEvent('press-03', 0.43, 1, { scores: { normal: 0.5, overheat: 0.5 } }),
  ]);
  t.same(opcua.builtDevices(), [], 'events alone build nothing');

  const opc = await opcuaSession(ports.opcua, config.gateway.dataDir);
  t.teardown(() => opc.close());
  const id = (device: string, path: string) => `ns=${opc.ns};s=Devices/${device}/${path}`;
  const devicesFolder = `ns=${opc.ns};s=Devices`;
  t.same(
    (await organized(opc.session, devicesFolder)).sort(),
    ['press-01', 'press-02', 'press-03', 'press-04'],
    'the folder lists every device',
  );
  t.same(opcua.builtDevices(), [], 'browsing the folder builds no device');

  t.equal(await readValue(opc.session, id('press-01', 'AnomalyScore')), 0.21, 'a read by node id gets the current value');
  t.equal(await readValue(opc.session, id('press-01', 'Model/Version')), '2.3.1');
  t.same(opcua.builtDevices(), ['press-01'], 'only the device read is built');

  const browsed = await opc.session.browse({
    nodeId: id('press-03', '').slice(0, -1),
    browseDirection: BrowseDirection.Forward,
    resultMask: 63,
  });
  const names = (browsed.references ?? []).map((r) => r.browseName.name);
  t.ok(
    ['AnomalyScore', 'Label', 'Model', 'Scores', 'ResetAlarms'].every((n) => names.includes(n)),
    `browsing press-03 shows its variables: ${names.join(', ')}`,
  );
  t.same((await organized(opc.session, id('press-03', 'Scores'))).length, 0, 'scores are components, not organized');
  const scores = await opc.session.browse({ nodeId: id('press-03', 'Scores'), browseDirection: BrowseDirection.Forward, resultMask: 63 });
  t.same(
    (scores.references ?? [])
      .map((r) => r.browseName.name)
      .filter((n) => n !== 'BaseObjectType')
      .sort(),
    [...LABELS, 'overheat'].sort(),
    'configured classes and the one seen only in an event',
  );

  const path = await nodeAt(opc.session, opc.ns, ['Devices', 'press-02', 'Confidence']);
  t.equal(path, id('press-02', 'Confidence'), 'a path through an untouched device resolves');
  t.equal(await readValue(opc.session, path), 0.9);

  // A subscription by node id to a device nobody has touched sees its values as they come.
  const subscription = await fastSubscription(opc.session);
  const item = await subscription.monitor(
    { nodeId: id('press-04', 'AnomalyScore'), attributeId: AttributeIds.Value },
    { samplingInterval: 0, queueSize: 10, discardOldest: true },
    TimestampsToReturn.Both,
  );
  const seen: unknown[] = [];
  item.on('changed', (dv: DataValue) => seen.push(dv.value.value));
  await postEvents(ports.http, [inferenceEvent('press-04', 0.55, 1)]);
  await waitFor(() => seen.includes(0.55) || undefined, 'the subscribed value');
  t.same(opcua.builtDevices().sort(), ['press-01', 'press-02', 'press-03', 'press-04']);
  t.equal(
    await readValue(opc.session, `ns=${opc.ns};s=Devices/press-09/AnomalyScore`).catch(() => 'error'),
    null,
    'an unknown device is still unknown',
  );
});

t.test('an alarm on a device no client has reached raises its condition without building the device', async (t) => {
  const devices = ['press-01', 'press-02'].map((id) => ({ id, labels: LABELS }));
  const { gateway, config, ports } = await runningGateway(t, { devices, modbus: { enabled: false } });
  const opc = await opcuaSession(ports.opcua, config.gateway.dataDir);
  t.teardown(() => opc.close());
  const events = await watchEvents(opc.session);
  t.teardown(() => events.stop());
  await postEvents(ports.http, [inferenceEvent('press-02', 0.9, 1), inferenceEvent('press-02', 0.95, 2)]);
  await waitFor(() => events.events.find((e) => e.SourceName === 'press-02' && e['ActiveState.Id'] === true), 'the alarm event');
  t.same(gateway.opcua!.builtDevices(), [], 'the condition is there, the variables are not');
  const browsed = await opc.session.browse({
    nodeId: `ns=${opc.ns};s=Devices/press-02`,
    browseDirection: BrowseDirection.Forward,
    resultMask: 63,
  });
  const names = (browsed.references ?? []).map((r) => r.browseName.name);
  t.ok(
    names.includes('persist') && names.includes('AnomalyScore'),
    `the device shows its condition and its variables: ${names.join(', ')}`,
  );
  t.equal(await readValue(opc.session, `ns=${opc.ns};s=Devices/press-02/AlarmActive`), true);
});

t.test('device objects are made after the server listens; whatever names a device first makes its object at once', async (t) => {
  const devices = ['press-01', 'press-02', 'press-03', 'press-04'].map((id) => ({ id, labels: LABELS }));
  // The turns that would make the objects in the background are held: only use makes them.
  const held: (() => void)[] = [];
  const { gateway, config, ports } = await runningGateway(
    t,
    { devices, modbus: { enabled: false } },
    {},
    { nextTurn: (run) => held.push(run) },
  );
  const opcua = gateway.opcua!;
  t.same(opcua.deviceObjects(), [], 'no object before its turn');
  t.equal(held.length, 1, 'one turn waits');

  await postEvents(ports.http, [inferenceEvent('press-01', 0.21, 1)]);
  t.same(opcua.deviceObjects(), ['press-01'], 'an event makes its device object');

  const opc = await opcuaSession(ports.opcua, config.gateway.dataDir);
  t.teardown(() => opc.close());
  const name = async (nodeId: string) => (await opc.session.read({ nodeId, attributeId: AttributeIds.BrowseName })).value.value?.name;
  t.equal(await name(`ns=${opc.ns};s=Devices/press-02`), 'press-02', 'a device object read by node id');
  t.equal(await name(`ns=${opc.ns};s=Devices/press-03/Label`), 'Label', 'a variable below a device not made yet');
  t.same(opcua.deviceObjects(), ['press-01', 'press-02', 'press-03']);
  t.same(opcua.builtDevices(), ['press-03'], 'naming the object alone builds no variables');
  t.same(
    (await organized(opc.session, `ns=${opc.ns};s=Devices`)).sort(),
    ['press-01', 'press-02', 'press-03', 'press-04'],
    'a browse of the folder lists all',
  );
  t.equal(await name(`ns=${opc.ns};s=Devices/press-09`), undefined, 'an unknown device is still unknown');

  for (const run of held.splice(0)) run();
  t.same(opcua.deviceObjects().sort(), ['press-01', 'press-02', 'press-03', 'press-04'], 'a held turn then finds nothing left to make');
  t.equal(held.length, 0, 'and asks for no other');
});

t.test('without a client, every device object is made within a few turns after start, a hundred per turn', async (t) => {
  const devices = Array.from({ length: 250 }, (_, i) => ({ id: `m-${String(i).padStart(3, '0')}` }));
  let turns = 0;
  const nextTurn = (run: () => void) => {
    turns++;
    setImmediate(run);
  };
  const { gateway } = await runningGateway(t, { devices, modbus: { enabled: false } }, {}, { nextTurn });
  await waitFor(() => gateway.opcua!.deviceObjects().length === 250 || undefined, 'every device object');
  t.equal(turns, 3, '100, 100, then 50');
  t.same(gateway.opcua!.builtDevices(), [], 'and no variables');
});
