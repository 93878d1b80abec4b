import t from 'tap';
import { AttributeIds, TimestampsToReturn, type DataValue } from 'node-opcua';
import { inferenceEvent, runningGateway } from '../helpers/gateway-config.js';
import { waitFor } from '../helpers/ports.js';
import { fastSubscription, opcuaSession, postEvents, readValue } from '../helpers/clients.js';

t.setTimeout(120_000);

t.test('device variables: read on demand, pushed coalesced to what clients watch, nothing lost', async (t) => {
  const { gateway, config, ports } = await runningGateway(t, {
    modbus: { enabled: false },
    http: { ingest: { perDevice: { perSecond: 1000, burst: 1000 } } },
  });
  const http = ports.http;
  const opc = await opcuaSession(ports.opcua, config.gateway.dataDir);
  t.teardown(() => opc.close());
  const node = (path: string) => `ns=${opc.ns};s=Devices/press-01/${path}`;
  const subscription = await fastSubscription(opc.session);
  const watch = async (path: string, samplingInterval: number) => {
    const item = await subscription.monitor(
      { nodeId: node(path), attributeId: AttributeIds.Value },
      { samplingInterval, queueSize: 100, discardOldest: false },
      TimestampsToReturn.Both,
    );
    const seen: unknown[] = [];
    item.on('changed', (dv: DataValue) => seen.push(dv.value.value));
    return { seen, revised: item.monitoringParameters.samplingInterval };
  };
  // Exception-based (0 asked, revised to the server's fastest rate) and sampled once a second.
  const fast = await watch('AnomalyScore', 0);
  const slow = await watch('AnomalyScore', 1000);
  t.ok(fast.revised > 0 && fast.revised < 1000, `exception-based item revised to ${fast.revised} ms`);
  t.equal(slow.revised, 1000);

  await postEvents(http, [inferenceEvent('press-01', 0.11, 1)]);
  await waitFor(() => fast.seen.includes(0.11) && slow.seen.includes(0.11), 'both items to see the first value');
  // Quiet for longer than either interval: the next change opens a new window.
  await new Promise((r) => setTimeout(r, 1200));
  fast.seen.length = 0;
  slow.seen.length = 0;

  // Three changes inside one interval of either item.
  await postEvents(http, [inferenceEvent('press-01', 0.22, 2), inferenceEvent('press-01', 0.33, 3), inferenceEvent('press-01', 0.44, 4)]);
  await waitFor(() => fast.seen.includes(0.44) && slow.seen.includes(0.44), 'the newest value to reach both items');
  await new Promise((r) => setTimeout(r, 1200));
  t.same(fast.seen, [0.22, 0.44], 'exception-based: the first change at once, the newest at the end of its window, the one between folded');
  t.same(slow.seen, [0.44], 'sampled: one notification per interval, with the newer value');

  // Nobody watches press-02: its events write no OPC UA value at all, and a read gets the current one.
  const writes = new Map<string, number>();
  for (const path of ['AnomalyScore', 'Confidence', 'Label', 'LastSeen', 'Model/Name', 'Scores/normal']) {
    const variable = gateway.opcua!.deviceVariable('press-02', path)!;
    const write = variable.setValueFromSource.bind(variable);
    variable.setValueFromSource = (...args) => {
      writes.set(path, (writes.get(path) ?? 0) + 1);
      write(...args);
    };
  }
  for (let seq = 1; seq <= 20; seq++) await postEvents(http, [inferenceEvent('press-02', 0.5 + seq / 100, seq)]);
  t.same([...writes], [], 'no value written for 20 events nobody watches');
  t.equal(await readValue(opc.session, `ns=${opc.ns};s=Devices/press-02/AnomalyScore`), 0.7);
  t.equal(await readValue(opc.session, `ns=${opc.ns};s=Devices/press-02/Label`), 'bearing_wear');
  t.same(
    [...writes],
    [
      ['AnomalyScore', 1],
      ['Label', 1],
    ],
    'each read variable synced once, on its read',
  );

  // Nobody watches Confidence or Label: they are read from state when read.
  t.equal(await readValue(opc.session, node('AnomalyScore')), 0.44);
  t.equal(await readValue(opc.session, node('Confidence')), 0.9);
  t.equal(await readValue(opc.session, node('Label')), 'normal');
  t.equal(await readValue(opc.session, node('Scores/imbalance')), 0.06);

  // A steady stream faster than the window: far fewer notifications than changes, and the last one is the newest.
  fast.seen.length = 0;
  for (let seq = 5; seq < 45; seq++) {
    await postEvents(http, [inferenceEvent('press-01', seq / 100, seq)]);
    await new Promise((r) => setTimeout(r, 5));
  }
  await waitFor(() => fast.seen.at(-1) === 0.44, 'the newest value of the stream');
  t.ok(fast.seen.length < 40, `${fast.seen.length} notifications for 40 changes`);
  t.same(
    fast.seen,
    [...fast.seen].sort((a, b) => (a as number) - (b as number)),
    'in order: never an older value after a newer one',
  );
  await subscription.terminate();
});
