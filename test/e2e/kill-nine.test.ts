import t from 'tap';
import { connect } from 'mqtt';
import { spawnGateway, writeConfig, type GatewayProcess } from '../helpers/spawn-gateway.js';
import { inferenceEvent, testConfig } from '../helpers/gateway-config.js';
import { startInfluxd } from '../helpers/influxd.js';
import { waitFor } from '../helpers/ports.js';

t.setTimeout(240_000);

const KILLS = 12;
const IN_FLIGHT = 20;

/**
 * The gateway killed with SIGKILL at random moments while an MCU streams QoS 1 events, InfluxDB
 * going down and up as well: what the gateway acknowledged must end up in InfluxDB exactly once.
 */
t.test('kill -9 at random moments: points in InfluxDB == events acknowledged over MQTT QoS 1, no duplicate', async (t) => {
  const influx = await startInfluxd();
  t.teardown(() => influx.stop());
  const { raw, ports } = await testConfig(t, {
    opcua: { enabled: false },
    modbus: { enabled: false },
    rules: [],
    influx: {
      enabled: true,
      url: influx.url,
      database: 'crash',
      flushIntervalMs: 100,
      batchSize: 500,
      retry: { initialMs: 50, maxMs: 500 },
    },
  });
  const file = writeConfig((raw.gateway as { dataDir: string }).dataDir, raw);
  let gw: GatewayProcess = spawnGateway(['--config', file]);
  t.teardown(() => gw.stop());
  await gw.waitForLog((l) => l.msg === 'gateway started', 'start');

  // An MCU: QoS 1, resends what was not acknowledged when it reconnects.
  const mcu = connect(`mqtt://127.0.0.1:${ports.mqtt}`, {
    clientId: 'mcu-crash',
    clean: false,
    reconnectPeriod: 100,
    connectTimeout: 2000,
  });
  mcu.on('error', () => undefined);
  t.teardown(() => mcu.end(true));
  let published = 0;
  let acked = 0;
  let publishing = true;
  const inFlight = new Set<Promise<unknown>>();
  // A publish cut off by the kill is sent again, as MQTT's DUP resend would: the same event, the same seq.
  const deliver = async (seq: number): Promise<void> => {
    const payload = JSON.stringify(inferenceEvent('press-01', 0.2, seq));
    for (;;) {
      try {
        await mcu.publishAsync('tinyml/press-01/inference', payload, { qos: 1 });
        acked++;
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  const producer = (async () => {
    while (publishing) {
      if (inFlight.size >= IN_FLIGHT) {
        await Promise.race(inFlight);
        continue;
      }
      const p = deliver(published++);
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    }
  })();

  let influxUp = true;
  for (let kill = 1; kill <= KILLS; kill++) {
    await new Promise((r) => setTimeout(r, 200 + Math.random() * 800));
    gw.child.kill('SIGKILL');
    await gw.exited;
    if (kill % 3 === 1 || (kill === KILLS && !influxUp)) {
      if (influxUp) await influx.halt();
      else await influx.restart();
      influxUp = !influxUp;
    }
    gw = spawnGateway(['--config', file]);
    await gw.waitForLog((l) => l.msg === 'gateway started', `restart ${kill}`);
  }
  t.ok(influxUp, 'InfluxDB up for the final drain');
  await new Promise((r) => setTimeout(r, 1000));
  publishing = false;
  await producer;
  await waitFor(() => inFlight.size === 0, 'every publish acknowledged', 60_000, 100);
  t.ok(published > 500, `${published} events published across ${KILLS} kills`);
  t.equal(acked, published, 'every event acknowledged in the end (resent after each kill)');

  const stored = async (): Promise<number[]> =>
    (await influx.query('crash', 'SELECT seq FROM inference').catch(() => [])).map((r) => r.seq as number);
  await waitFor(
    async () => ((await stored()).length >= acked ? true : undefined),
    'InfluxDB to hold every acknowledged event',
    90_000,
    500,
  );
  const seqs = await stored();
  t.equal(seqs.length, acked, 'points == events acknowledged');
  t.equal(new Set(seqs).size, seqs.length, 'no duplicate point');
  const health = (await (await fetch(`http://127.0.0.1:${ports.http}/health`)).json()) as { parts: { influx: { state: string } } };
  t.equal(health.parts.influx.state, 'connected');
});
