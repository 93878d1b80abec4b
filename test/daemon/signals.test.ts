import t from 'tap';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { spawnGateway, writeConfig } from '../helpers/spawn-gateway.js';
import { inferenceEvent, testConfig } from '../helpers/gateway-config.js';
import { startInfluxd } from '../helpers/influxd.js';
import { modbusClient, modbusExceptionOf, mqttClient } from '../helpers/clients.js';
import { waitFor } from '../helpers/ports.js';

t.setTimeout(180_000);

t.test('SIGHUP reloads rules and devices; connected clients stay connected', async (t) => {
  const { raw, ports } = await testConfig(t, { opcua: { enabled: false } });
  const dir = (raw.gateway as { dataDir: string }).dataDir;
  const file = writeConfig(dir, raw);
  const gw = spawnGateway(['--config', file]);
  t.teardown(() => gw.stop());
  await gw.waitForLog((l) => l.msg === 'gateway started', 'start');

  const mqtt = await mqttClient(ports.mqtt);
  let mqttClosed = false;
  mqtt.on('close', () => (mqttClosed = true));
  t.teardown(() => mqtt.endAsync(true));
  const modbus = await modbusClient(ports.modbus);
  t.teardown(() => new Promise<void>((r) => modbus.close(() => r())));
  t.equal(await modbusExceptionOf(modbus.readInputRegisters(32, 2)), 2, 'no third device yet');

  const next = parse(readFileSync(file, 'utf8')) as Record<string, unknown> & {
    devices: object[];
    rules: { pipeline: { persistence: { atLeast: number } }[] }[];
  };
  next.devices.push({ id: 'press-03', labels: [] });
  next.rules[0]!.pipeline[0]!.persistence.atLeast = 0.5;
  writeConfig(dir, next);
  gw.child.kill('SIGHUP');
  const reloaded = await gw.waitForLog((l) => l.msg === 'rules and devices reloaded', 'reload');
  t.same(reloaded.restarted, ['persist'], 'the changed rule restarted');

  t.same((await modbus.readInputRegisters(32, 2)).data.length, 2, 'the new device has a Modbus block on the same connection');
  t.notOk(mqttClosed, 'the MQTT client was not disconnected');
  await mqtt.publishAsync('tinyml/press-03/inference', JSON.stringify(inferenceEvent('press-03', 0.6, 1)), { qos: 1 });
  await mqtt.publishAsync('tinyml/press-03/inference', JSON.stringify(inferenceEvent('press-03', 0.6, 2)), { qos: 1 });
  await gw.waitForLog((l) => (l.alarm as { device?: string } | undefined)?.device === 'press-03', 'alarm at the new threshold');

  writeConfig(dir, { ...next, rules: [{ id: 'broken' }] });
  gw.child.kill('SIGHUP');
  await gw.waitForLog((l) => l.msg === 'reload rejected; keeping the running config', 'rejected reload');
  t.equal(gw.child.exitCode, null, 'a bad config on reload does not stop the gateway');
});

t.test('SIGTERM during a stream: exit 0 within 5 s, every accepted event in InfluxDB', async (t) => {
  const influx = await startInfluxd();
  t.teardown(() => influx.stop());
  const { raw, ports } = await testConfig(t, {
    opcua: { enabled: false },
    influx: { enabled: true, url: influx.url, database: 'drain', flushIntervalMs: 1000, batchSize: 5000 },
  });
  const gw = spawnGateway(['--config', writeConfig((raw.gateway as { dataDir: string }).dataDir, raw)]);
  t.teardown(() => gw.stop());
  await gw.waitForLog((l) => l.msg === 'gateway started', 'start');

  // Four publishers with a message in flight each, so SIGTERM lands while the broker is busy.
  const publishers = await Promise.all([1, 2, 3, 4].map(() => mqttClient(ports.mqtt)));
  const acked = new Set<number>();
  let seq = 0;
  const streams = publishers.map(async (mqtt) => {
    mqtt.on('error', () => undefined);
    while (!mqtt.disconnected && !mqtt.disconnecting && seq < 200_000) {
      const mine = ++seq;
      const device = mine % 2 ? 'press-01' : 'press-02';
      await mqtt
        .publishAsync(`tinyml/${device}/inference`, JSON.stringify(inferenceEvent(device, (mine % 10) / 10, mine)), { qos: 1 })
        .then(
          () => acked.add(mine),
          () => undefined,
        );
    }
  });
  await waitFor(() => acked.size >= 4000, '4000 acknowledged events', 60_000);

  const sentAt = Date.now();
  gw.child.kill('SIGTERM');
  const { code } = await gw.exited;
  const elapsed = Date.now() - sentAt;
  for (const mqtt of publishers) mqtt.end(true);
  await Promise.all(streams);
  t.equal(code, 0, 'exit code 0');
  t.ok(elapsed < 5000, `stopped in ${elapsed} ms`);

  const stopped = gw.logs.find((l) => l.msg === 'gateway stopped') as { accepted: number; influxPending: number };
  t.ok(stopped.accepted >= acked.size, `accepted ${stopped.accepted} ≥ acknowledged ${acked.size}`);
  t.equal(stopped.influxPending, 0);
  const rows = await influx.query('drain', 'SELECT count(anomaly) AS n FROM inference');
  const stored = new Set((await influx.query('drain', 'SELECT seq FROM inference')).map((r) => r.seq as number));
  t.same(
    [...acked].filter((s) => !stored.has(s)),
    [],
    'every acknowledged event is in InfluxDB',
  );
  t.equal(rows[0]?.n, stopped.accepted, 'InfluxDB holds every accepted event');
});
