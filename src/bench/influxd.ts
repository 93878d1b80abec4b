import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InfluxDB } from 'influx';
import { freePort, terminate } from './bench-util.js';

export interface InfluxServer {
  url: string;
  port: number;
  dir: string;
  query(database: string, q: string): Promise<Record<string, unknown>[]>;
  /** Stops influxd and keeps its data: restart() brings the same server back on the same port. */
  halt(): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface InfluxdOptions {
  httpPort?: number;
  /** auth-enabled, with this admin user created before the server is handed over. */
  admin?: { username: string; password: string };
  /** Serve HTTPS with this certificate and key (PEM files). */
  https?: { certificate: string; privateKey: string };
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

function configText(dir: string, httpPort: number, rpcPort: number, o: InfluxdOptions): string {
  return `reporting-disabled = true
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
  auth-enabled = ${o.admin ? 'true' : 'false'}
  https-enabled = ${o.https ? 'true' : 'false'}
${o.https ? `  https-certificate = "${o.https.certificate}"\n  https-private-key = "${o.https.privateKey}"\n` : ''}[monitor]
  store-enabled = false
[subscriber]
  enabled = false
`;
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A real InfluxDB 1.x on free loopback ports in a temp dir; stop() kills it and removes the dir. */
export async function startInfluxd(options: InfluxdOptions = {}): Promise<InfluxServer> {
  const binary = ensureInfluxd();
  const dir = mkdtempSync(join(tmpdir(), 'tinyml-influxd-'));
  const [httpPort, rpcPort] = [options.httpPort ?? (await freePort()), await freePort()];
  const configFile = join(dir, 'influxdb.conf');
  writeFileSync(configFile, configText(dir, httpPort, rpcPort, options));
  const scheme = options.https ? 'https' : 'http';
  const url = `${scheme}://127.0.0.1:${httpPort}`;
  const auth = options.admin;
  const client = (database: string): InfluxDB =>
    new InfluxDB({
      host: '127.0.0.1',
      port: httpPort,
      database,
      protocol: scheme,
      ...(options.https ? { options: { rejectUnauthorized: false } } : {}),
      ...(auth ?? {}),
    });
  let child: ChildProcess | undefined;
  const launch = async (): Promise<void> => {
    const c = spawn(binary, ['-config', configFile], { stdio: 'ignore' });
    child = c;
    await until(
      async () => {
        if (c.exitCode !== null) throw new Error(`influxd exited with ${c.exitCode}`);
        return client('_internal')
          .ping(1000)
          .then(
            (hosts) => hosts.some((h) => h.online),
            () => false,
          );
      },
      'influxd to answer /ping',
      20_000,
    );
  };
  const halt = (): Promise<void> => terminate(child);
  await launch();
  // With auth on, the first user may be created without credentials; it has to be an admin.
  if (auth) await client('_internal').createUser(auth.username, auth.password, true);
  return {
    url,
    port: httpPort,
    dir,
    query: (database, q) => client(database).query(q) as Promise<Record<string, unknown>[]>,
    halt,
    restart: launch,
    stop: async () => {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
