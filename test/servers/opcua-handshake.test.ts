import t from 'tap';
import { connect, type Socket } from 'node:net';
import { inferenceEvent, runningGateway } from '../helpers/gateway-config.js';
import { waitFor } from '../helpers/ports.js';
import { monitorValues, mqttClient, opcuaSession, readValue } from '../helpers/clients.js';
import type { OPCUAServer } from 'node-opcua';
import { HandshakeGuard } from '../../src/servers/opcua/handshake-guard.js';
import { systemClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';

t.setTimeout(120_000);

interface RawConnection {
  socket: Socket;
  connectedAt: number;
  closedAt?: number;
}

/** A raw TCP connection to the OPC UA port that sends `bytes` (maybe none) and then nothing more. */
function rawConnection(port: number, bytes?: Buffer): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.removeListener('error', reject);
      // The server closing a socket that sent unread bytes may reset it: that is a close too.
      socket.on('error', () => undefined);
      const c: RawConnection = { socket, connectedAt: Date.now() };
      socket.once('close', () => (c.closedAt = Date.now()));
      if (bytes) socket.write(bytes);
      resolve(c);
    });
  });
}

/** The first 16 bytes of a HEL whose header announces the whole message: the server waits for the rest. */
function partialHello(port: number): Buffer {
  const url = Buffer.from(`opc.tcp://127.0.0.1:${port}/UA/TinyMLGateway`);
  const hello = Buffer.alloc(32 + url.length);
  hello.write('HELF', 0, 'ascii');
  hello.writeUInt32LE(hello.length, 4);
  hello.writeUInt32LE(0, 8); // protocol version
  hello.writeUInt32LE(65_536, 12); // receive buffer size
  hello.writeUInt32LE(65_536, 16); // send buffer size
  hello.writeUInt32LE(0, 20); // max message size
  hello.writeUInt32LE(0, 24); // max chunk count
  hello.writeInt32LE(url.length, 28);
  url.copy(hello, 32);
  return hello.subarray(0, 16);
}

async function closedByReason(httpPort: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const m of text.matchAll(/^tinyml_gateway_opcua_connections_closed_total\{reason="(\w+)"\} (\d+)$/gm)) counts[m[1]!] = Number(m[2]);
  return counts;
}

const TIMEOUT_MS = 1000;
/** Room for timers and the event loop on a loaded two-core machine. */
const MARGIN_MS = 2000;

t.test('200 connections that send nothing or half a HEL are closed after handshakeTimeout; a real client is not', async (t) => {
  const { config, ports } = await runningGateway(t, {
    // Room for the whole flood, so every connection reaches the guard's timeout (maxClients bounds node's accept).
    opcua: { handshakeTimeout: TIMEOUT_MS, maxHandshakes: 250, maxClients: 250 },
  });
  const flood: RawConnection[] = [];
  t.teardown(() => flood.forEach((c) => c.socket.destroy()));
  const hello = partialHello(ports.opcua);
  for (let i = 0; i < 200; i++) flood.push(await rawConnection(ports.opcua, i % 2 === 0 ? undefined : hello));

  // While the flood holds its places: a real client connects, reads, subscribes and gets a value pushed.
  const opc = await opcuaSession(ports.opcua, config.gateway.dataDir);
  t.teardown(() => opc.close());
  const mqtt = await mqttClient(ports.mqtt);
  t.teardown(() => mqtt.endAsync());
  const score = `ns=${opc.ns};s=Devices/press-01/AnomalyScore`;
  const watched = await monitorValues(opc.session, score);
  await mqtt.publishAsync('tinyml/press-01/inference', JSON.stringify(inferenceEvent('press-01', 0.41, 1)), { qos: 1 });
  await waitFor(() => watched.values.includes(0.41), 'the subscribed value');

  await waitFor(() => flood.every((c) => c.closedAt !== undefined), 'the server to close every flood connection', TIMEOUT_MS + MARGIN_MS);
  const lived = flood.map((c) => c.closedAt! - c.connectedAt);
  t.ok(Math.min(...lived) >= TIMEOUT_MS - 50, `none closed before the timeout (shortest ${Math.min(...lived)} ms)`);
  t.ok(Math.max(...lived) <= TIMEOUT_MS + MARGIN_MS, `all closed soon after it (longest ${Math.max(...lived)} ms)`);
  t.same(await closedByReason(ports.http), { handshake_timeout: 200, handshake_cap: 0 }, 'each counted once, the real client not');

  // The real client's connection outlived the timeout: it finished its handshake, so the guard let it go.
  t.equal(await readValue(opc.session, score), 0.41, 'the real client still reads after the flood');
  await mqtt.publishAsync('tinyml/press-01/inference', JSON.stringify(inferenceEvent('press-01', 0.42, 2)), { qos: 1 });
  await waitFor(() => watched.values.includes(0.42), 'a value pushed after the flood');
  await watched.stop();
});

t.test('beyond maxHandshakes a connection is closed on arrival; a real client gets in once the flood is gone', async (t) => {
  const { config, ports } = await runningGateway(t, { opcua: { maxHandshakes: 5, handshakeTimeout: '60s' } });
  const held: RawConnection[] = [];
  const extra: RawConnection[] = [];
  t.teardown(() => [...held, ...extra].forEach((c) => c.socket.destroy()));
  for (let i = 0; i < 5; i++) held.push(await rawConnection(ports.opcua));
  for (let i = 0; i < 10; i++) extra.push(await rawConnection(ports.opcua));

  await waitFor(() => extra.every((c) => c.closedAt !== undefined), 'the connections beyond the cap to be closed', MARGIN_MS);
  const lived = extra.map((c) => c.closedAt! - c.connectedAt);
  t.ok(Math.max(...lived) < 1000, `closed at once (longest ${Math.max(...lived)} ms), not after the 60 s timeout`);
  t.ok(
    held.every((c) => c.closedAt === undefined),
    'the first five stay open',
  );
  t.same(await closedByReason(ports.http), { handshake_timeout: 0, handshake_cap: 10 });

  // The cap holds for everybody: a real client is refused too while the five hold their places.
  await t.rejects(opcuaSession(ports.opcua, config.gateway.dataDir, { maxRetry: 0 }), 'a real client is refused during the flood');
  t.equal((await closedByReason(ports.http)).handshake_cap, 11, 'and counted');

  for (const c of held) c.socket.destroy();
  // The server sees those closes a few turns of its loop later; a refused attempt is counted and retried.
  const opc = await waitFor(
    () => opcuaSession(ports.opcua, config.gateway.dataDir, { maxRetry: 0 }).catch(() => undefined),
    'a real client to get in after the flood',
  );
  t.teardown(() => opc.close());
  t.equal(typeof (await readValue(opc.session, `ns=${opc.ns};s=Devices/press-01/Online`)), 'boolean', 'and reads');
  const refusedAfter = (await closedByReason(ports.http)).handshake_cap!;
  t.ok(refusedAfter <= 12, `at most one attempt raced the closes (${refusedAfter - 11})`);
});

t.test('the guard fails the start on a node-opcua whose endpoints it does not know, naming the version it assumes', async (t) => {
  const guard = new HandshakeGuard({ handshakeTimeout: 1000, maxHandshakes: 1 }, () => undefined, systemClock, silentLogger());
  t.throws(() => guard.install({ endpoints: [{}] } as unknown as OPCUAServer), /node-opcua 2\.182/);
  t.throws(() => guard.install({ endpoints: [] } as unknown as OPCUAServer), /no endpoints/);
});
