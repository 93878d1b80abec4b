import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync } from 'mqtt';
import { freePort, terminate } from './bench-util.js';

export interface MosquittoServer {
  url: string;
  port: number;
  /** SIGTERM (mosquitto saves its persistent sessions) and start again on the same port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface MosquittoOptions {
  /** Only this user gets in; without it, anonymous clients do. */
  login?: { user: string; password: string };
  /** Keep sessions and queued QoS 1 messages across a restart, with no queue limit. */
  persistent?: boolean;
}

/** Installs Debian's mosquitto when it is missing (as root), like influxd. */
function ensureMosquitto(): string {
  if (spawnSync('sh', ['-c', 'test -x /usr/sbin/mosquitto']).status === 0) return '/usr/sbin/mosquitto';
  const install = spawnSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto'], {
    stdio: 'inherit',
  });
  if (install.status !== 0) throw new Error('mosquitto is missing and apt-get install mosquitto failed (run as root or install it)');
  return '/usr/sbin/mosquitto';
}

/** A real Mosquitto on a free loopback port in a temp dir; stop() kills it and removes the dir. */
export async function startMosquitto(options: MosquittoOptions = {}): Promise<MosquittoServer> {
  const binary = ensureMosquitto();
  const dir = mkdtempSync(join(tmpdir(), 'tinyml-mosquitto-'));
  // Started as root, mosquitto drops to its own user before it reads its files.
  chmodSync(dir, 0o777);
  const port = await freePort();
  const lines = [`listener ${port} 127.0.0.1`];
  if (options.login) {
    const passwords = join(dir, 'passwd');
    writeFileSync(passwords, '');
    chmodSync(passwords, 0o644);
    execFileSync('mosquitto_passwd', ['-b', passwords, options.login.user, options.login.password]);
    lines.push('allow_anonymous false', `password_file ${passwords}`);
  } else lines.push('allow_anonymous true');
  if (options.persistent)
    lines.push('persistence true', `persistence_location ${dir}/`, 'max_queued_messages 0', 'max_inflight_messages 0');
  else lines.push('persistence false');
  const config = join(dir, 'mosquitto.conf');
  writeFileSync(config, lines.join('\n') + '\n');
  const url = `mqtt://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const launch = async (): Promise<void> => {
    const c = spawn(binary, ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = c;
    let log = '';
    c.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    const end = Date.now() + 10_000;
    for (;;) {
      const login = options.login ? { username: options.login.user, password: options.login.password } : {};
      const probe = await connectAsync(url, { ...login, reconnectPeriod: 0, connectTimeout: 1000 }).catch(() => undefined);
      if (probe) {
        await probe.endAsync();
        return;
      }
      if (c.exitCode !== null || Date.now() > end) throw new Error(`mosquitto did not accept connections: ${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const halt = (): Promise<void> => terminate(child);
  await launch();
  return {
    url,
    port,
    restart: async () => {
      await halt();
      await launch();
    },
    stop: async () => {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
