import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InfluxDB } from 'influx';
import { freePort, waitFor } from './ports.js';

export interface InfluxServer {
  url: string;
  port: number;
  query(database: string, q: string): Promise<Record<string, unknown>[]>;
  stop(): Promise<void>;
}

/** Installs Debian's influxdb when influxd is missing (as root), so a fresh machine provisions itself. */
export function ensureInfluxd(): string {
  const which = spawnSync('sh', ['-c', 'command -v influxd'], { encoding: 'utf8' });
  if (which.status === 0) return which.stdout.trim();
  const install = spawnSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq influxdb'], {
    stdio: 'inherit',
  });
  if (install.status !== 0) throw new Error('influxd is missing and apt-get install influxdb failed (run as root or install it)');
  return 'influxd';
}

/** A real InfluxDB 1.x on free loopback ports in a temp dir; stop() kills it and removes the dir. */
export async function startInfluxd(options: { httpPort?: number } = {}): Promise<InfluxServer> {
  const binary = ensureInfluxd();
  const dir = mkdtempSync(join(tmpdir(), 'tinyml-influxd-'));
  const [httpPort, rpcPort] = [options.httpPort ?? (await freePort()), await freePort()];
  const configFile = join(dir, 'influxdb.conf');
  writeFileSync(
    configFile,
    `reporting-disabled = true
bind-address = "127.0.0.1:${rpcPort}"
[meta]
  dir = "${dir}/meta"
[data]
  dir = "${dir}/data"
  wal-dir = "${dir}/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:${httpPort}"
  log-enabled = false
[monitor]
  store-enabled = false
[subscriber]
  enabled = false
`,
  );
  const child: ChildProcess = spawn(binary, ['-config', configFile], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${httpPort}`;
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`influxd exited with ${child.exitCode}`);
      return fetch(`${url}/ping`).then(
        (r) => r.status === 204,
        () => false,
      );
    },
    'influxd to answer /ping',
    20_000,
    100,
  );
  return {
    url,
    port: httpPort,
    query: (database, q) => new InfluxDB({ host: '127.0.0.1', port: httpPort, database }).query(q) as Promise<Record<string, unknown>[]>,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
