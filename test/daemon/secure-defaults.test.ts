import t from 'tap';
import { readdirSync, statSync, chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectAsync } from 'mqtt';
import { parseConfig } from '../../src/config/load.js';
import { exposures } from '../../src/config/exposure.js';
import { inferenceEvent, runningGateway, testConfig } from '../helpers/gateway-config.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { networkAddress } from '../helpers/network.js';
import { runCli, spawnGateway, writeConfig } from '../helpers/spawn-gateway.js';
import { mqttClient } from '../helpers/clients.js';

t.setTimeout(120_000);

const address = networkAddress();

t.test(
  'anonymous writers are taken from this machine only, unless gateway.anonymousIngest opens it',
  { skip: !address && 'no address but loopback' },
  async (t) => {
    const { gateway, ports } = await runningGateway(t, {
      opcua: { enabled: false },
      modbus: { enabled: false },
      mqtt: { broker: { enabled: true, host: '0.0.0.0', port: await freePort() } },
      http: { host: '0.0.0.0' },
    });
    const fromNetwork = await connectAsync(`mqtt://${address}:${gateway.mqtt.transport.port()}`, { reconnectPeriod: 0 });
    t.teardown(() => fromNetwork.endAsync(true));
    // The broker closes a client whose publish it refuses (MQTT 3.1.1 has no way to say no to QoS 0).
    const closed = new Promise<void>((r) => fromNetwork.once('close', () => r()));
    await fromNetwork.publishAsync('tinyml/press-01/inference', JSON.stringify(inferenceEvent('press-01', 0.1, 1)));
    await closed;
    const local = await mqttClient(gateway.mqtt.transport.port()!);
    t.teardown(() => local.endAsync());
    await local.publishAsync('tinyml/press-02/inference', JSON.stringify(inferenceEvent('press-02', 0.1, 2)), { qos: 1 });
    await waitFor(() => gateway.state.get('press-02')?.events === 1 || undefined, 'the local event');
    t.equal(gateway.state.get('press-01')?.events, 0, 'the anonymous event from the network was not taken');

    const post = (host: string) =>
      fetch(`http://${host}:${ports.http}/ingest`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(inferenceEvent('press-03', 0.1, 3)),
      });
    const refused = await post(address!);
    t.equal(refused.status, 401);
    t.match(await refused.json(), { error: /without a device token are taken from this machine only \(gateway\.anonymousIngest\)/ });
    t.equal((await post('127.0.0.1')).status, 200, 'from this machine it is taken');
    const metrics = await (await fetch(`http://127.0.0.1:${ports.http}/metrics`)).text();
    t.match(metrics, /tinyml_gateway_mqtt_refused_total\{reason="anonymous"\} 1/);
    t.match(metrics, /tinyml_gateway_http_ingest_refused_total\{reason="unauthorized"\} 1/);
  },
);

t.test('anonymousIngest: any takes them from the network too', { skip: !address && 'no address but loopback' }, async (t) => {
  const { gateway, ports } = await runningGateway(t, {
    gateway: { anonymousIngest: 'any' },
    opcua: { enabled: false },
    modbus: { enabled: false },
    mqtt: { broker: { enabled: true, host: '0.0.0.0', port: await freePort() } },
    http: { host: '0.0.0.0' },
  });
  const fromNetwork = await connectAsync(`mqtt://${address}:${gateway.mqtt.transport.port()}`, { reconnectPeriod: 0 });
  t.teardown(() => fromNetwork.endAsync());
  await fromNetwork.publishAsync('tinyml/press-01/inference', JSON.stringify(inferenceEvent('press-01', 0.1, 1)), { qos: 1 });
  await waitFor(() => gateway.state.get('press-01')?.events === 1 || undefined, 'the event from the network');
  const res = await fetch(`http://${address}:${ports.http}/ingest`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(inferenceEvent('press-02', 0.1, 2)),
  });
  t.equal(res.status, 200);
});

t.test('check warns about every listener open to the network without authentication, with its line', async (t) => {
  const shipped = runCli(['check', '--config', 'gateway-config/gateway.yaml']);
  t.equal(shipped.status, 0, 'warnings do not fail the check');
  t.match(shipped.stdout, /OK \(8 devices, 2 rules; 3 warnings: open to the network without authentication\)/);
  t.match(
    shipped.stderr,
    /gateway\.yaml:\d+:\d+: mqtt\.broker\.allowAnonymous: warning: the embedded broker lets anyone on the network connect/,
  );
  t.match(shipped.stderr, /gateway\.yaml:\d+:\d+: http\.host: warning: GET \/health, \/metrics/);
  t.match(shipped.stderr, /gateway\.yaml:\d+:\d+: modbus\.host: warning: Modbus TCP has no authentication/);

  const paths = (raw: string) => exposures(parseConfig(raw)).map((e) => e.path.join('.'));
  const everything = [
    'gateway: { anonymousIngest: any }',
    'http: { host: 0.0.0.0, rulesApi: any, alarmsApi: any, devicesApi: any }',
    'opcua: { security: { modes: [None], allowAnonymous: true, autoAcceptClientCertificates: true } }',
  ].join('\n');
  t.same(paths(everything), [
    'gateway.anonymousIngest',
    'mqtt.broker.allowAnonymous',
    'http.host',
    'http.rulesApi',
    'http.alarmsApi',
    'http.devicesApi',
    'modbus.host',
    'opcua.security.modes',
    'opcua.security.allowAnonymous',
    'opcua.security.autoAcceptClientCertificates',
  ]);
  const closed = [
    'mqtt: { broker: { host: 127.0.0.1 } }',
    'http: { host: 127.0.0.1 }',
    'modbus: { host: 0.0.0.0, allow: [10.0.0.0/8] }',
  ].join('\n');
  t.same(paths(closed), [], 'loopback listeners, an allowlist and the secure OPC UA defaults warn about nothing');
});

/** Every entry under `dir` whose mode lets anyone but the owner in. */
function openEntries(dir: string): string[] {
  const out: string[] = [];
  const walk = (path: string): void => {
    const s = statSync(path);
    if ((s.mode & 0o077) !== 0) out.push(`${path} ${(s.mode & 0o777).toString(8)}`);
    if (s.isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
  };
  walk(dir);
  return out;
}

t.test('the data dir is private: 0700, every file in it 0600, older wider files narrowed at start', async (t) => {
  const { raw } = await testConfig(t, { modbus: { enabled: false }, opcua: { security: {} } });
  const dataDir = join((raw.gateway as { dataDir: string }).dataDir, 'state');
  // What an older version (or a copy by hand) left behind.
  mkdirSync(dataDir, { recursive: true });
  chmodSync(dataDir, 0o755);
  writeFileSync(join(dataDir, 'alarms.json'), JSON.stringify({ version: 1, alarms: [] }));
  chmodSync(join(dataDir, 'alarms.json'), 0o644);
  const file = writeConfig((raw.gateway as { dataDir: string }).dataDir, {
    ...raw,
    gateway: { ...(raw.gateway as object), dataDir },
    influx: { enabled: true, url: 'http://127.0.0.1:9', database: 'x' },
  });
  const gw = spawnGateway(['--config', file]);
  t.teardown(() => gw.stop());
  await gw.waitForLog((l) => l.msg === 'gateway started', 'start');
  t.ok(
    gw.logs.some((l) => l.msg === 'data dir entries readable by others made private'),
    'the narrowing is logged',
  );
  const mqtt = await mqttClient((raw.mqtt as { broker: { port: number } }).broker.port);
  await mqtt.publishAsync('tinyml/press-01/inference', JSON.stringify(inferenceEvent('press-01', 0.9, 1)), { qos: 1 });
  await mqtt.publishAsync('tinyml/press-01/inference', JSON.stringify(inferenceEvent('press-01', 0.9, 2)), { qos: 1 });
  await mqtt.endAsync();
  await waitFor(
    () => gw.logs.find((l) => typeof l.msg === 'string' && l.msg.startsWith('alarm raised')),
    'an alarm, so alarms.json is written',
  );
  gw.child.kill('SIGTERM');
  await gw.exited;
  const names = readdirSync(dataDir).sort();
  t.ok(
    names.includes('pki') && names.includes('influx-buffer') && names.includes('alarms.json') && names.includes('opcua-users.json'),
    names.join(', '),
  );
  t.same(openEntries(dataDir), [], 'nothing in the data dir is open to others');
  t.equal(statSync(dataDir).mode & 0o777, 0o700);
  t.equal(statSync(join(dataDir, 'alarms.json')).mode & 0o777, 0o600);
});
