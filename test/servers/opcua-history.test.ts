import t, { type Test } from 'tap';
import { Gateway } from '../../src/daemon/gateway.js';
import { testLogger } from '../helpers/test-log.js';
import { inferenceEvent, runningGateway, testConfig } from '../helpers/gateway-config.js';
import { startInfluxd } from '../helpers/influxd.js';
import { waitFor } from '../helpers/ports.js';
import { historyPage, mqttClient, opcuaSession } from '../helpers/clients.js';

t.setTimeout(180_000);

/** Event time of the event with sequence number `seq` (as inferenceEvent sets it). */
const tsOf = (seq: number): number => 1_700_000_000_000 + seq * 10;
const ANOMALIES = [0.1, 0.9, 0.95, 0.92, 0.2, 0.1, 0.15];
const EVENT_FIELDS = ['EventId', 'SourceName', 'ConditionName', 'Severity', 'Message', 'Time', 'ActiveState.Id', 'AckedState.Id', 'Retain'];

async function sendAll(port: number): Promise<void> {
  const mqtt = await mqttClient(port);
  for (const [i, anomaly] of ANOMALIES.entries()) {
    await mqtt.publishAsync('tinyml/press-01/inference', JSON.stringify(inferenceEvent('press-01', anomaly, i + 1)), { qos: 1 });
  }
  await mqtt.endAsync();
}

/** What every history source must answer, after the events above went in. */
async function checkHistory(t: Test, port: number, pkiDir: string): Promise<void> {
  const opc = await opcuaSession(port, pkiDir);
  t.teardown(() => opc.close());
  const node = (path: string) => `ns=${opc.ns};s=Devices/press-01/${path}`;
  const all = { start: tsOf(1), end: tsOf(ANOMALIES.length) };

  const anomaly = await historyPage(opc.session, node('AnomalyScore'), all);
  t.equal(anomaly.status, 'Good');
  t.same(
    anomaly.values.map((v) => v.value),
    ANOMALIES,
    'AnomalyScore: every value, oldest first',
  );
  t.same(
    anomaly.values.map((v) => v.ts),
    ANOMALIES.map((_a, i) => tsOf(i + 1)),
    'stamped with event time',
  );
  const labels = await historyPage(opc.session, node('Label'), all);
  t.same(labels.values.map((v) => v.value).slice(0, 3), ['normal', 'bearing_wear', 'bearing_wear']);
  const confidence = await historyPage(opc.session, node('Confidence'), { start: tsOf(2), end: tsOf(2) });
  t.same(
    confidence.values.map((v) => v.value),
    [0.85],
    'one instant: start = end',
  );

  // Pages of 3 with continuation points.
  const pages: unknown[] = [];
  let cp: Buffer | null = null;
  do {
    const page = await historyPage(opc.session, node('AnomalyScore'), { ...all, n: 3, continuationPoint: cp });
    pages.push(page.values.map((v) => v.value));
    cp = page.continuationPoint;
  } while (cp && pages.length < 10);
  t.same(pages, [ANOMALIES.slice(0, 3), ANOMALIES.slice(3, 6), ANOMALIES.slice(6)], 'numValuesPerNode with continuation points');
  const newest = await historyPage(opc.session, node('AnomalyScore'), { end: tsOf(ANOMALIES.length), n: 2 });
  t.same(
    newest.values.map((v) => v.value),
    [0.15, 0.1],
    'end time and a count alone: newest first',
  );

  // The alarm events: raised at seq 3 (2 of 3 ≥ 0.7), cleared at seq 6 (2 below in a row).
  const device = await historyPage(opc.session, `ns=${opc.ns};s=Devices/press-01`, { ...all, fields: EVENT_FIELDS });
  t.equal(device.status, 'Good');
  t.match(device.events, [
    { SourceName: 'press-01', ConditionName: 'persist', Severity: 800, 'ActiveState.Id': true, 'AckedState.Id': false, Retain: true },
    { SourceName: 'press-01', ConditionName: 'persist', 'ActiveState.Id': false, Retain: true },
  ]);
  t.equal((device.events[0]?.Time as Date).getTime(), tsOf(3), 'raised at the event that tipped it');
  t.ok(Buffer.isBuffer(device.events[0]?.EventId));
  const area = await historyPage(opc.session, `ns=${opc.ns};s=Devices`, { ...all, fields: ['SourceName', 'ConditionName'], n: 1 });
  t.same(area.events, [{ SourceName: 'press-01', ConditionName: 'persist' }], 'Devices: the events of every device');
  t.ok(area.continuationPoint, 'more than one page');
  const next = await historyPage(opc.session, `ns=${opc.ns};s=Devices`, {
    ...all,
    fields: ['ActiveState.Id'],
    n: 1,
    continuationPoint: area.continuationPoint,
  });
  t.same(next.events, [{ 'ActiveState.Id': false }]);
  t.equal(next.continuationPoint, null, 'the last page');
  const none = await historyPage(opc.session, `ns=${opc.ns};s=Devices/press-02`, { ...all, fields: EVENT_FIELDS });
  t.equal(none.status, 'GoodNoData');
}

t.test('HistoryRead from the in-memory ring (no InfluxDB configured)', async (t) => {
  const { gateway, config, ports } = await runningGateway(t, { opcua: { history: { perDevice: 5, alarms: 100 } } });
  await sendAll(ports.mqtt);
  await waitFor(() => gateway.state.get('press-01')?.events === ANOMALIES.length, 'every event');
  await waitFor(() => gateway.alarms.list().length === 1 && !gateway.alarms.list()[0]?.active, 'alarm cleared');
  const opc = await opcuaSession(ports.opcua, config.gateway.dataDir);
  t.teardown(() => opc.close());
  const kept = await historyPage(opc.session, `ns=${opc.ns};s=Devices/press-01/AnomalyScore`, { start: tsOf(1), end: tsOf(10) });
  t.same(
    kept.values.map((v) => v.value),
    ANOMALIES.slice(-5),
    'the ring keeps the last perDevice samples',
  );
});

t.test('HistoryRead from InfluxDB: survives a gateway restart', async (t) => {
  const influx = await startInfluxd();
  t.teardown(() => influx.stop());
  const extra = { influx: { enabled: true, url: influx.url, database: 'history', flushIntervalMs: 50 } };
  const made = await testConfig(t, extra);
  const first = new Gateway(made.config, { log: testLogger() });
  await first.start();
  await sendAll(made.ports.mqtt);
  await waitFor(() => first.alarms.list().length === 1 && !first.alarms.list()[0]?.active, 'alarm cleared');
  await first.stop();
  // A new gateway has nothing in memory: what it answers comes from InfluxDB.
  const second = new Gateway(made.config, { log: testLogger() });
  await second.start();
  t.teardown(() => second.stop());
  await checkHistory(t, made.ports.opcua, made.config.gateway.dataDir);
});

t.test('HistoryRead from the ring answers like InfluxDB', async (t) => {
  const { gateway, config, ports } = await runningGateway(t);
  await sendAll(ports.mqtt);
  await waitFor(() => gateway.alarms.list().length === 1 && !gateway.alarms.list()[0]?.active, 'alarm cleared');
  await checkHistory(t, ports.opcua, config.gateway.dataDir);
});
