import t from 'tap';
import { formatSoak, runSoak } from '../../src/bench/soak.js';

t.setTimeout(600_000);

/**
 * The 2-minute soak CI runs (`npm run soak -- --minutes 60` is the long one): a real gateway,
 * Mosquitto and InfluxDB through SIGHUP, OPC UA reconnects, an InfluxDB restart, kill -9 and a
 * broker restart, with QoS 1 MCUs publishing all along.
 */
t.test('soak: faults while MCUs publish; nothing acknowledged is lost or stored twice; every alarm transition is delivered', async (t) => {
  const report = await runSoak({ minutes: 2, progress: (line) => t.comment(line) });
  t.comment(formatSoak(report));
  t.same(report.problems, [], 'no problem found');
  t.ok(report.acked > 10_000, `${report.acked} events acknowledged`);
  t.equal(report.missing, 0, 'every acknowledged event is in InfluxDB');
  t.equal(report.duplicates, 0, 'none twice');
  t.ok(report.transitions > 5, `${report.transitions} alarm transitions`);
  t.same(report.mqttMissed, [], 'every transition reached the MQTT subscriber');
  t.same(report.opcuaMissed, [], 'every transition reached OPC UA, live or in its event history');
  for (const fault of ['sighup', 'opcua-reconnect', 'influx-restart', 'kill-9', 'broker-restart'] as const) {
    t.ok(report.faults[fault] >= 1, `${fault} happened`);
  }
});
