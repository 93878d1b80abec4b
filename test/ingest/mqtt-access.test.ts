import t from 'tap';
import { connectAsync, type MqttClient } from 'mqtt';
import { capturingLogger, secretHash } from '../helpers/test-log.js';
import { inferenceEvent, runningGateway } from '../helpers/gateway-config.js';
import { freePort, waitFor } from '../helpers/ports.js';
import type { Gateway } from '../../src/daemon/gateway.js';

t.setTimeout(60_000);

const connect = (port: number, username?: string, password?: string): Promise<MqttClient> =>
  connectAsync(`mqtt://127.0.0.1:${port}`, {
    username,
    password,
    reconnectPeriod: 0,
    connectTimeout: 3000,
    clientId: `t-${Math.random()}`,
  });

async function refusals(gateway: Gateway): Promise<Record<string, number>> {
  const m = await gateway.metrics.registry.getSingleMetric('tinyml_gateway_mqtt_refused_total')?.get();
  return Object.fromEntries((m?.values ?? []).map((v) => [String(v.labels.reason), v.value]));
}

/** Publishes and reports whether the broker took it (PUBACK) or dropped the connection. */
async function publishes(client: MqttClient, device: string, seq: number): Promise<boolean> {
  const closed = new Promise<boolean>((resolve) => client.once('close', () => resolve(false)));
  const acked = client.publishAsync(`tinyml/${device}/inference`, JSON.stringify(inferenceEvent(device, 0.2, seq)), { qos: 1 }).then(
    () => true,
    () => false,
  );
  return Promise.race([acked, closed]);
}

t.test('device credentials and ACL at the embedded broker: rogue nodes and unknown logins are refused and logged', async (t) => {
  const { log, lines } = capturingLogger();
  const port = await freePort();
  const { gateway } = await runningGateway(
    t,
    {
      opcua: { enabled: false },
      modbus: { enabled: false },
      mqtt: {
        broker: { enabled: true, host: '127.0.0.1', port, users: [{ name: 'nodered', passwordHash: await secretHash('pw-nr') }] },
      },
      devices: [
        { id: 'press-01', credentials: { mqtt: { passwordHash: await secretHash('pw-press-01') } } },
        { id: 'press-02', credentials: { mqtt: { username: 'p2', passwordHash: await secretHash('pw-press-02') } } },
        { id: 'open-03' },
      ],
    },
    {},
    { log },
  );

  const press1 = await connect(port, 'press-01', 'pw-press-01');
  t.ok(await publishes(press1, 'press-01', 1), 'a device publishes on its own topic');
  await waitFor(() => gateway.state.get('press-01')?.seq === 1 || undefined, 'its event');

  t.notOk(await publishes(press1, 'press-02', 1), 'press-01 publishing as press-02 is cut off');
  t.equal(gateway.state.get('press-02')?.seq, undefined);
  t.ok(
    lines.some((l) => /MQTT publish refused: press-01 published as press-02/.test(String(l.msg)) && l.level === 40),
    'logged as a warning',
  );

  const anonymous = await connect(port);
  t.notOk(await publishes(anonymous, 'press-02', 2), 'anonymous may not publish as a device with credentials');
  const anonymous2 = await connect(port);
  t.ok(await publishes(anonymous2, 'open-03', 1), 'but may for a device without');
  await anonymous2.endAsync();

  await t.rejects(connect(port, 'press-01', 'wrong'), /Bad username or password/, 'a wrong password');
  await t.rejects(connect(port, 'intruder', 'x'), /Bad username or password/, 'an unknown user');
  const p2 = await connect(port, 'p2', 'pw-press-02');
  t.ok(await publishes(p2, 'press-02', 3), 'a device under its own username');
  await p2.endAsync();

  const nodered = await connect(port, 'nodered', 'pw-nr');
  const got: string[] = [];
  await nodered.subscribeAsync('tinyml/+/event', { qos: 1 });
  nodered.on('message', (topic) => got.push(topic));
  const press1b = await connect(port, 'press-01', 'pw-press-01');
  t.ok(await publishes(press1b, 'press-01', 2));
  await waitFor(() => got.includes('tinyml/press-01/event') || undefined, 'the subscriber reads events');
  t.notOk(await publishes(nodered, 'open-03', 9), 'a subscriber user publishes no events');
  await press1b.endAsync();
  t.same(await refusals(gateway), { rogue: 1, protected: 1, login: 2, read_only: 1 });
});

t.test('allowAnonymous: false refuses clients without a login', async (t) => {
  const port = await freePort();
  await runningGateway(t, {
    opcua: { enabled: false },
    modbus: { enabled: false },
    mqtt: { broker: { enabled: true, host: '127.0.0.1', port, allowAnonymous: false } },
  });
  await t.rejects(connect(port), /Not authorized/);
});
