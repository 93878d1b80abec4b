import t from 'tap';
import { createServer, connect, type Socket } from 'node:net';
import { inferenceEvent, runningGateway } from '../helpers/gateway-config.js';
import { waitFor } from '../helpers/ports.js';
import { monitorValues, mqttClient, opcuaSession } from '../helpers/clients.js';

t.setTimeout(120_000);

/** A TCP relay to `port` whose connections can all be cut at once: a network break between client and server. */
async function relay(port: number): Promise<{ port: number; cut(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((inbound) => {
    const outbound = connect(port, '127.0.0.1');
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('relay has no port');
  return {
    port: address.port,
    cut: () => {
      for (const s of sockets) s.destroy();
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

t.test('a client that loses its connection reconnects into its session; its subscription keeps delivering', async (t) => {
  const { config, ports } = await runningGateway(t);
  const link = await relay(ports.opcua);
  t.teardown(() => link.close());
  const opc = await opcuaSession(link.port, config.gateway.dataDir);
  t.teardown(() => opc.close());
  const sessionId = opc.session.sessionId.toString();
  const watched = await monitorValues(opc.session, `ns=${opc.ns};s=Devices/press-01/AnomalyScore`);
  const mqtt = await mqttClient(ports.mqtt);
  t.teardown(() => mqtt.endAsync());
  const send = (anomaly: number, seq: number) =>
    mqtt.publishAsync('tinyml/press-01/inference', JSON.stringify(inferenceEvent('press-01', anomaly, seq)), { qos: 1 });

  await send(0.31, 1);
  await waitFor(() => watched.values.includes(0.31), 'the first value');
  let reconnected = false;
  opc.client.on('after_reconnection', () => (reconnected = true));
  link.cut();
  // Sent while the client is cut off: the server queues it for the subscription.
  await send(0.32, 2);
  await waitFor(() => reconnected, 'the client to reconnect', 30_000);
  await send(0.33, 3);
  await waitFor(() => watched.values.includes(0.33), 'a value after the reconnection', 30_000);
  t.ok(watched.values.includes(0.32), 'the value sent during the break arrives too');
  t.equal(opc.session.sessionId.toString(), sessionId, 'the same session, moved to a new secure channel');
});
