import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectAsync } from 'mqtt';
import { freePort, waitFor } from './ports.js';
import { tempDir } from './temp-dir.js';

/**
 * A real Mosquitto (Debian's package, installed by test/provision.sh) on a free loopback port that
 * only lets `user` in with `password`; stopped after `t`.
 */
export async function startMosquitto(
  t: { teardown(fn: () => unknown): void },
  user: string,
  password: string,
): Promise<{ url: string; port: number }> {
  const dir = tempDir(t, 'mosquitto-');
  // Started as root, mosquitto drops to its own user before it reads the password file.
  chmodSync(dir, 0o755);
  const passwords = join(dir, 'passwd');
  writeFileSync(passwords, '');
  execFileSync('mosquitto_passwd', ['-b', passwords, user, password]);
  const port = await freePort();
  const config = join(dir, 'mosquitto.conf');
  writeFileSync(
    config,
    [`listener ${port} 127.0.0.1`, 'allow_anonymous false', `password_file ${passwords}`, 'persistence false', ''].join('\n'),
  );
  const child = spawn('/usr/sbin/mosquitto', ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (c: Buffer) => (log += c.toString()));
  t.teardown(() => child.kill('SIGTERM'));
  const url = `mqtt://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      const c = await connectAsync(url, { username: user, password, reconnectPeriod: 0, connectTimeout: 1000 }).catch(() => undefined);
      await c?.endAsync();
      return c ? true : undefined;
    },
    `mosquitto to accept connections (its log: ${log})`,
    10_000,
    100,
  );
  return { url, port };
}
