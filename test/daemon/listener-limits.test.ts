import t from 'tap';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { runningGateway } from '../helpers/gateway-config.js';
import { waitFor } from '../helpers/ports.js';

t.setTimeout(120_000);

interface Probe {
  socket: Socket;
  closedAt: Promise<number>;
  reply: () => string;
}

/** A raw TCP client of the HTTP port: when the server closed it, and what it said first. */
async function probe(port: number): Promise<Probe> {
  const socket = connect({ port, host: '127.0.0.1' });
  socket.on('error', () => undefined);
  let reply = '';
  socket.on('data', (d: Buffer) => (reply += d.toString()));
  const t0 = Date.now();
  const closedAt = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - t0)));
  await once(socket, 'connect');
  return { socket, closedAt, reply: () => reply.split('\r\n')[0] ?? '' };
}

const closedBy = async (port: number, reason: string): Promise<number> => {
  // Refused itself while this address still holds its quota of connections.
  const text = await fetch(`http://127.0.0.1:${port}/metrics`).then(
    (r) => r.text(),
    () => '',
  );
  return Number(new RegExp(`tinyml_gateway_http_connections_closed_total\\{reason="${reason}"\\} (\\d+)`).exec(text)?.[1] ?? NaN);
};

t.test('slow bodies, slow and missing headers are cut off within the configured timeouts, counted, answered 408', async (t) => {
  const { ports } = await runningGateway(t, {
    opcua: { enabled: false },
    modbus: { enabled: false },
    http: { limits: { headersTimeout: '1s', bodyTimeout: '2s', idleTimeout: '1s' } },
  });
  // Five slowloris bodies, as the fault campaign sent: 100,000 bytes announced, one a second.
  const bodies = await Promise.all(Array.from({ length: 5 }, () => probe(ports.http)));
  const timers: NodeJS.Timeout[] = [];
  for (const b of bodies) {
    b.socket.write('POST /ingest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{');
    timers.push(setInterval(() => b.socket.writable && b.socket.write(' '), 1000));
  }
  const silent = await probe(ports.http);
  const slowHeaders = await probe(ports.http);
  slowHeaders.socket.write('GET /health HTTP/1.1\r\n');
  timers.push(setInterval(() => slowHeaders.socket.writable && slowHeaders.socket.write('X-Slow: 1\r\n'), 200));
  t.teardown(() => timers.forEach(clearInterval));

  for (const b of bodies) {
    const ms = await b.closedAt;
    t.ok(ms >= 1900 && ms < 4000, `a slow body is closed after ${ms} ms (body timeout 2 s)`);
    t.equal(b.reply(), 'HTTP/1.1 408 Request Timeout');
  }
  for (const p of [silent, slowHeaders]) {
    const ms = await p.closedAt;
    t.ok(ms >= 900 && ms < 3000, `no complete headers: closed after ${ms} ms (headers timeout 1 s)`);
    t.equal(p.reply(), 'HTTP/1.1 408 Request Timeout');
  }
  t.equal(await closedBy(ports.http, 'body_timeout'), 5);
  t.equal(await closedBy(ports.http, 'headers_timeout'), 2);

  // A client that is quick keeps working, and an idle keep-alive connection is closed.
  const idle = await probe(ports.http);
  idle.socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
  const ms = await idle.closedAt;
  t.match(idle.reply(), /^HTTP\/1.1 200/);
  t.ok(ms < 4000, `an idle keep-alive connection is closed after ${ms} ms`);
});

t.test('one client address may hold only maxConnectionsPerClient connections; the rest are closed on arrival', async (t) => {
  const { ports } = await runningGateway(t, {
    opcua: { enabled: false },
    modbus: { enabled: false },
    http: { limits: { maxConnectionsPerClient: 3, headersTimeout: '30s', bodyTimeout: '30s' } },
  });
  const held = await Promise.all(Array.from({ length: 3 }, () => probe(ports.http)));
  const extra = await Promise.all(Array.from({ length: 4 }, () => probe(ports.http)));
  for (const e of extra) t.ok((await e.closedAt) < 1000, 'closed at once');
  // Read once the three are gone: from this address, the metrics request would be a fourth.
  for (const h of held) h.socket.destroy();
  // At least the four; a metrics request tried before the server saw the three close counts too.
  await waitFor(async () => ((await closedBy(ports.http, 'per_client_cap')) >= 4 ? true : undefined), 'the 4 refusals counted');
});
