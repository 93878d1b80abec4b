import t, { type Test } from 'tap';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { SdNotify, watchdogIntervalMs } from '../../src/daemon/sd-notify.js';
import { runningGateway, testConfig } from '../helpers/gateway-config.js';
import { waitFor } from '../helpers/ports.js';
import { spawnGateway, writeConfig } from '../helpers/spawn-gateway.js';
import { tempDir } from '../helpers/temp-dir.js';

interface DgramSocket {
  bind(path: string): void;
  close(): void;
}
const unix = createRequire(import.meta.url)('unix-dgram') as { createSocket(type: 'unix_dgram', cb: (msg: Buffer) => void): DgramSocket };

t.setTimeout(120_000);

/** What systemd does: a datagram socket that collects notify messages. */
function notifySocket(t: Test): { path: string; messages: string[] } {
  const path = join(tempDir(t, 'notify-'), 'notify.sock');
  const messages: string[] = [];
  const socket = unix.createSocket('unix_dgram', (msg) => messages.push(msg.toString('utf8')));
  socket.bind(path);
  t.teardown(() => socket.close());
  return { path, messages };
}

t.test('without NOTIFY_SOCKET everything is a no-op; the watchdog interval is half of WATCHDOG_USEC', async (t) => {
  const n = new SdNotify({});
  t.notOk(n.enabled);
  await n.ready();
  t.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000' }), 15_000);
  t.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '1' }, 2), undefined, 'pings meant for another pid');
  t.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '2' }, 2), 15_000);
  t.equal(watchdogIntervalMs({}), undefined);
});

t.test('READY after listeners bind, WATCHDOG only while the pipeline lives, STOPPING on stop', async (t) => {
  const sock = notifySocket(t);
  const { gateway, ports } = await runningGateway(t, { opcua: { enabled: false } }, { NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: '100000' });

  await waitFor(() => sock.messages.some((m) => m.startsWith('READY=1')), 'READY=1');
  t.match(sock.messages[0], /^READY=1\nSTATUS=2 devices, 1 rules\nMAINPID=\d+$/);
  t.equal((await fetch(`http://127.0.0.1:${ports.http}/health`)).status, 200, 'HTTP answers once READY is sent');
  await waitFor(() => sock.messages.filter((m) => m === 'WATCHDOG=1').length >= 3, 'three watchdog pings');

  gateway.pipeline.stop();
  await new Promise((r) => setTimeout(r, 150));
  const pings = sock.messages.filter((m) => m === 'WATCHDOG=1').length;
  await new Promise((r) => setTimeout(r, 400));
  t.equal(sock.messages.filter((m) => m === 'WATCHDOG=1').length, pings, 'no ping once the pipeline is dead');
  const health = await fetch(`http://127.0.0.1:${ports.http}/health`);
  t.equal(health.status, 503);
  t.match(await health.json(), { status: 'failing', failing: ['cep'], parts: { cep: { ok: false, problem: 'event pipeline not alive' } } });

  await gateway.stop();
  await waitFor(() => sock.messages.at(-1) === 'STOPPING=1', 'STOPPING=1 last');
});

t.test('the real binary notifies READY=1 and STOPPING=1, and RELOADING=1 on SIGHUP', async (t) => {
  const sock = notifySocket(t);
  const { raw } = await testConfig(t, { opcua: { enabled: false } });
  const gw = spawnGateway(['--config', writeConfig((raw.gateway as { dataDir: string }).dataDir, raw)], { NOTIFY_SOCKET: sock.path });
  t.teardown(() => gw.stop());
  await waitFor(() => sock.messages.some((m) => m.startsWith('READY=1')), 'READY=1 from the process', 60_000);
  t.match(sock.messages[0], new RegExp(`MAINPID=${gw.child.pid}$`));
  gw.child.kill('SIGHUP');
  await waitFor(() => sock.messages.includes('RELOADING=1'), 'RELOADING=1');
  gw.child.kill('SIGTERM');
  t.equal((await gw.exited).code, 0);
  await waitFor(() => sock.messages.at(-1) === 'STOPPING=1', 'STOPPING=1 last from the process');
});
