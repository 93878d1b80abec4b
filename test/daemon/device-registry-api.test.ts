import t from 'tap';
import { secretHash } from '../helpers/test-log.js';
import { inferenceEvent, runningGateway } from '../helpers/gateway-config.js';
import { DataType } from 'node-opcua';
import { mqttClient, opcuaSession } from '../helpers/clients.js';
import { waitFor } from '../helpers/ports.js';
import type { Gateway } from '../../src/daemon/gateway.js';

t.setTimeout(60_000);

async function call(port: number, method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

const rejected = async (gateway: Gateway, reason: string): Promise<number | undefined> =>
  (await gateway.metrics.registry.getSingleMetric('tinyml_gateway_events_rejected_total')?.get())?.values.find(
    (v) => v.labels.reason === reason,
  )?.value;

t.test('allowlist: an unknown device is refused and counted; an approved one is let in', async (t) => {
  const { gateway, ports } = await runningGateway(t, {
    opcua: { enabled: false },
    modbus: { enabled: false },
    registry: { policy: 'allowlist' },
  });
  const mqtt = await mqttClient(ports.mqtt);
  t.teardown(() => mqtt.endAsync());
  await mqtt.publishAsync('tinyml/stranger/inference', JSON.stringify(inferenceEvent('stranger', 0.5, 1)), { qos: 1 });
  await waitFor(async () => (await rejected(gateway, 'unknown_device')) === 1 || undefined, 'the refusal counted');
  t.equal(gateway.state.get('stranger'), undefined, 'not bridged');
  t.equal((await call(ports.http, 'GET', '/devices/stranger')).status, 404, 'and not registered');

  t.match(await call(ports.http, 'POST', '/devices', { id: 'stranger' }), {
    status: 201,
    body: { id: 'stranger', status: 'approved', by: /^http:/ },
  });
  await mqtt.publishAsync('tinyml/stranger/inference', JSON.stringify(inferenceEvent('stranger', 0.5, 2)), { qos: 1 });
  await waitFor(() => gateway.state.get('stranger')?.seq === 2 || undefined, 'bridged once approved');
  t.match((await call(ports.http, 'GET', '/devices/stranger')).body, { id: 'stranger', registry: 'approved', seq: 2, decidedBy: /^http:/ });
  t.match(await call(ports.http, 'POST', '/devices', { id: 'no/slash' }), { status: 400 });
});

t.test('quarantine: held and visible, approved over REST, revoked, removed', async (t) => {
  const { gateway, ports } = await runningGateway(t, {
    opcua: { enabled: false },
    modbus: { enabled: false },
    registry: { policy: 'quarantine' },
  });
  const mqtt = await mqttClient(ports.mqtt);
  t.teardown(() => mqtt.endAsync());
  for (const seq of [1, 2])
    await mqtt.publishAsync('tinyml/newbie/inference', JSON.stringify(inferenceEvent('newbie', 0.9, seq)), { qos: 1 });
  const held = await waitFor(async () => {
    const r = await call(ports.http, 'GET', '/devices/newbie');
    return r.body.heldEvents === 2 ? r.body : undefined;
  }, 'the quarantined device to show');
  t.match(held, { id: 'newbie', registry: 'quarantined', online: false, model: { name: 'motor-anomaly', version: '2.3.1' } });
  t.equal(gateway.state.get('newbie'), undefined, 'its events are not bridged: no state, no OPC UA, no alarms');
  t.match((await call(ports.http, 'GET', '/devices')).body, [
    { id: 'newbie' },
    { id: 'press-01', registry: 'configured' },
    { id: 'press-02' },
  ]);

  t.match(await call(ports.http, 'POST', '/devices/newbie/approve'), { status: 200, body: { status: 'approved' } });
  await mqtt.publishAsync('tinyml/newbie/inference', JSON.stringify(inferenceEvent('newbie', 0.9, 3)), { qos: 1 });
  await waitFor(() => gateway.state.get('newbie')?.seq === 3 || undefined, 'bridged after approval');

  t.match(await call(ports.http, 'POST', '/devices/press-01/revoke'), { status: 200, body: { status: 'revoked' } });
  await mqtt.publishAsync('tinyml/press-01/inference', JSON.stringify(inferenceEvent('press-01', 0.1, 9)), { qos: 1 });
  await waitFor(async () => (await rejected(gateway, 'revoked')) === 1 || undefined, 'a revoked device refused');
  t.match(await call(ports.http, 'DELETE', '/devices/press-01'), { status: 409, body: { problem: 'configured' } });
  t.match(await call(ports.http, 'DELETE', '/devices/newbie'), { status: 200 });
  t.match(await call(ports.http, 'DELETE', '/devices/newbie'), { status: 404 });
  t.match(await call(ports.http, 'POST', '/devices/newbie/explode'), { status: 404 });
  const eventsHeld = await gateway.metrics.registry.getSingleMetric('tinyml_gateway_events_held_total')?.get();
  t.equal(eventsHeld?.values[0]?.value, 2);
});

t.test('writing endpoints: API tokens, and switched off', async (t) => {
  const { ports } = await runningGateway(t, {
    opcua: { enabled: false },
    modbus: { enabled: false },
    http: { devicesApi: 'loopback', rulesApi: 'off', apiTokens: [{ name: 'node-red', tokenHash: await secretHash('api-secret') }] },
  });
  t.match(await call(ports.http, 'POST', '/devices', { id: 'x1' }, 'api-secret'), { status: 201 }, 'a valid token');
  t.match(await call(ports.http, 'POST', '/devices', { id: 'x2' }, 'wrong'), { status: 401, body: { error: 'unknown API token' } });
  t.match(await call(ports.http, 'POST', '/rules', {}, 'api-secret'), {
    status: 403,
    body: { error: 'POST /rules is disabled (http.rulesApi)' },
  });
});

t.test('auto: an unknown device is admitted and registered as auto', async (t) => {
  const { gateway, ports } = await runningGateway(t, { opcua: { enabled: false }, modbus: { enabled: false } });
  const mqtt = await mqttClient(ports.mqtt);
  t.teardown(() => mqtt.endAsync());
  await mqtt.publishAsync('tinyml/walk-in/inference', JSON.stringify(inferenceEvent('walk-in', 0.5, 1)), { qos: 1 });
  await waitFor(() => gateway.state.get('walk-in')?.seq === 1 || undefined, 'bridged at once');
  t.match((await call(ports.http, 'GET', '/devices/walk-in')).body, { registry: 'auto', seq: 1 });
});

t.test('quarantine: an operator approves and revokes over OPC UA methods', async (t) => {
  const { gateway, ports, config } = await runningGateway(t, { modbus: { enabled: false }, registry: { policy: 'quarantine' } });
  const mqtt = await mqttClient(ports.mqtt);
  t.teardown(() => mqtt.endAsync());
  await mqtt.publishAsync('tinyml/newbie/inference', JSON.stringify(inferenceEvent('newbie', 0.2, 1)), { qos: 1 });
  await waitFor(() => gateway.registry.get('newbie') || undefined, 'held');
  const opc = await opcuaSession(ports.opcua, config.gateway.dataDir);
  t.teardown(() => opc.close());
  const call = (method: string, device: unknown) =>
    opc.session.call({
      objectId: `ns=${opc.ns};s=Gateway`,
      methodId: `ns=${opc.ns};s=Gateway/${method}`,
      inputArguments: [{ dataType: DataType.String, value: device }],
    });
  const approved = await call('ApproveDevice', 'newbie');
  t.same([approved.statusCode.name, approved.outputArguments?.[0]?.value], ['Good', 'approved']);
  await mqtt.publishAsync('tinyml/newbie/inference', JSON.stringify(inferenceEvent('newbie', 0.2, 2)), { qos: 1 });
  await waitFor(() => gateway.state.get('newbie')?.seq === 2 || undefined, 'bridged after the OPC UA approval');
  t.match(gateway.registry.get('newbie'), { status: 'approved', by: 'opcua' });
  const revoked = await call('RevokeDevice', 'press-02');
  t.same([revoked.statusCode.name, revoked.outputArguments?.[0]?.value], ['Good', 'revoked']);
  t.equal((await call('ApproveDevice', 'no/slash')).statusCode.name, 'BadInvalidArgument');
});
