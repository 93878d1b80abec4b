import t, { type Test } from 'tap';
import { AttributeIds, MonitoringMode, TimestampsToReturn, type ClientMonitoredItem, type DataValue } from 'node-opcua';
import { harvestQueuedItemsOnly, restoreHarvest } from '../../src/servers/opcua/harvest.js';
import { inferenceEvent, runningGateway } from '../helpers/gateway-config.js';
import { fastSubscription, mqttClient, opcuaSession } from '../helpers/clients.js';
import { waitFor } from '../helpers/ports.js';

t.setTimeout(120_000);

const VARIABLES = ['AnomalyScore', 'Confidence', 'Label', 'Scores/normal'] as const;
type Seen = Record<(typeof VARIABLES)[number], unknown[]>;

/**
 * One client session through the cases a harvest must get right: items that report, an item that
 * samples and is then switched to reporting, an item deleted on the way, an item reported only
 * when another triggers it. Returns what each item was notified of.
 */
async function scenario(t: Test, harvest: 'library' | 'queued-only'): Promise<Seen> {
  const { ports, config } = await runningGateway(t, {
    devices: [{ id: 'h-1', labels: ['normal', 'imbalance', 'bearing_wear'] }],
    rules: [],
  });
  // The gateway installs ours when its OPC UA part is made; the library's own is put back for the comparison run.
  if (harvest === 'library') restoreHarvest();
  else harvestQueuedItemsOnly();
  t.teardown(restoreHarvest);
  const opc = await opcuaSession(ports.opcua, config.gateway.dataDir);
  t.teardown(() => opc.close());
  const subscription = await fastSubscription(opc.session);
  const seen = Object.fromEntries(VARIABLES.map((v) => [v, []])) as unknown as Seen;
  const items = {} as Record<(typeof VARIABLES)[number], ClientMonitoredItem>;
  for (const v of VARIABLES) {
    items[v] = await subscription.monitor(
      { nodeId: `ns=${opc.ns};s=Devices/h-1/${v}`, attributeId: AttributeIds.Value },
      { samplingInterval: 0, queueSize: 10, discardOldest: true },
      TimestampsToReturn.Neither,
    );
    items[v].on('changed', (dv: DataValue) => seen[v].push(dv.value.value));
  }
  const mqtt = await mqttClient(ports.mqtt);
  t.teardown(() => mqtt.endAsync());
  let seq = 0;
  const send = async (anomaly: number): Promise<void> => {
    await mqtt.publishAsync('tinyml/h-1/inference', JSON.stringify(inferenceEvent('h-1', anomaly, ++seq)));
    await waitFor(() => seen.AnomalyScore.includes(anomaly), `AnomalyScore ${anomaly}`);
    // Two more publishing intervals, for whatever else this event notifies.
    await new Promise((r) => setTimeout(r, 150));
  };

  await send(0.1);
  await items.Confidence.setMonitoringMode(MonitoringMode.Sampling);
  await items['Scores/normal'].setMonitoringMode(MonitoringMode.Sampling);
  await send(0.8);
  await items.Confidence.setMonitoringMode(MonitoringMode.Reporting);
  await waitFor(() => seen.Confidence.includes(0.85), 'the sampled Confidence, once reporting, before any new value');
  await items.Label.terminate();
  await subscription.setTriggering(items.AnomalyScore, [items['Scores/normal']], null);
  await send(0.2);
  await waitFor(() => seen['Scores/normal'].length > 1, 'the triggered score');
  return seen;
}

t.test('harvesting only the items that queued something notifies exactly what the library does', async (t) => {
  let libraryRun: Seen | undefined;
  let oursRun: Seen | undefined;
  await t.test('library', async (t) => void (libraryRun = await scenario(t, 'library')));
  await t.test('queued items only', async (t) => void (oursRun = await scenario(t, 'queued-only')));
  t.same(oursRun, libraryRun, 'the same notifications per item, in the same order');
  t.same(
    oursRun,
    {
      // Each starts with the initial value of a device not heard from yet.
      AnomalyScore: [0, 0.1, 0.8, 0.2],
      // 0.85 was queued while sampling and arrives once reporting.
      Confidence: [0, 0.9, 0.85, 0.9],
      // Deleted before the third event.
      Label: ['', 'normal', 'bearing_wear'],
      // 0.1 was sampled, and reported when AnomalyScore triggered it.
      'Scores/normal': [0, 0.9, 0.1, 0.9],
    },
    'and what the scenario asks for',
  );
});
