import t from 'tap';
import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';
import { Gateway } from '../../src/daemon/gateway.js';
import { testLogger } from '../helpers/test-log.js';
import { inferenceEvent, testConfig } from '../helpers/gateway-config.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { mqttClient } from '../helpers/clients.js';

t.setTimeout(60_000);

/** A real MQTT broker on loopback, standing in for the plant's own. */
async function plantBroker(port: number): Promise<{ stop(): Promise<void> }> {
  const broker = await Aedes.createBroker();
  const server: Server = createServer(broker.handle);
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    stop: async () => {
      await new Promise<void>((r) => broker.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

t.test('an external broker that comes up after the gateway: health recovers, events flow, alarms go back', async (t) => {
  const brokerPort = await freePort();
  const { config, ports } = await testConfig(t, {
    opcua: { enabled: false },
    modbus: { enabled: false },
    mqtt: { broker: { enabled: false }, url: `mqtt://127.0.0.1:${brokerPort}`, clientId: 'gw-under-test' },
  });
  const gateway = new Gateway(config, { log: testLogger(), env: {} });
  await gateway.start();
  const down = await fetch(`http://127.0.0.1:${ports.http}/health`);
  t.equal(down.status, 503);
  t.match(await down.json(), { failing: ['mqtt'], parts: { mqtt: { problem: 'external broker not connected' } } });

  const broker = await plantBroker(brokerPort);
  await waitFor(async () => (await fetch(`http://127.0.0.1:${ports.http}/health`)).status === 200, 'health 200 after connect');

  const plc = await mqttClient(brokerPort);
  t.teardown(async () => {
    await plc.endAsync(true);
    await gateway.stop();
    await broker.stop();
  });
  const alarms: string[] = [];
  plc.on('message', (topic, payload) => alarms.push(`${topic} ${(JSON.parse(payload.toString()) as { state: string }).state}`));
  await plc.subscribeAsync('tinyml/+/alarm');
  for (let seq = 1; seq <= 2; seq++) {
    await plc.publishAsync('tinyml/press-01/inference', JSON.stringify(inferenceEvent('press-01', 0.9, seq)), { qos: 1 });
  }
  await waitFor(() => gateway.state.get('press-01')?.events === 2 || undefined, 'both events in state');
  await waitFor(() => alarms.length === 1 || undefined, 'alarm republished on the external broker');
  t.same(alarms, ['tinyml/press-01/alarm raised']);
});
