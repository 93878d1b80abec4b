import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import type { TestPorts } from '../helpers/gateway-config.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { tempDir } from '../helpers/temp-dir.js';

export const ROOT = resolve(import.meta.dirname, '..', '..');
const require = createRequire(import.meta.url);
const RED = require.resolve('node-red/red.js');
export const CREDENTIAL_SECRET = 'test-credential-secret';

export type FlowNode = Record<string, unknown> & { id: string; type: string };

export const exampleFlow = (name: string): FlowNode[] => JSON.parse(readFileSync(join(ROOT, 'examples', name), 'utf8')) as FlowNode[];

/** The example flow with its gateway (and plain MQTT broker) config nodes pointed at a test gateway. */
export function pointedAt(flow: FlowNode[], ports: Pick<TestPorts, 'mqtt' | 'http'>): FlowNode[] {
  return flow.map((n) =>
    n.type === 'tinyml-gateway'
      ? { ...n, mqttUrl: `mqtt://127.0.0.1:${ports.mqtt}`, httpUrl: `http://127.0.0.1:${ports.http}` }
      : n.type === 'mqtt-broker'
        ? { ...n, port: String(ports.mqtt) }
        : n,
  );
}

export interface NodeRedProcess {
  admin: string;
  userDir: string;
  /** Everything Node-RED logged so far. */
  log(): string;
  /** Deploys `flow` (full deploy) and waits until the flows restarted; returns the log of that start. */
  deploy(flow: object[]): Promise<string>;
}

/**
 * A real Node-RED 4 (the node-red devDependency) in its own process, with this package (and the
 * dashboard, when asked) installed in a temp user dir the way `npm install` in ~/.node-red would.
 */
export async function startNodeRed(t: { teardown(fn: () => unknown): void }, withDashboard = false): Promise<NodeRedProcess> {
  const userDir = tempDir(t, 'nodered-');
  mkdirSync(join(userDir, 'node_modules', '@flowfuse'), { recursive: true });
  symlinkSync(ROOT, join(userDir, 'node_modules', 'tinyml-gateway'), 'dir');
  const dependencies: Record<string, string> = { 'tinyml-gateway': '*' };
  if (withDashboard) {
    const dashboard = dirname(require.resolve('@flowfuse/node-red-dashboard/package.json'));
    symlinkSync(dashboard, join(userDir, 'node_modules', '@flowfuse', 'node-red-dashboard'), 'dir');
    dependencies['@flowfuse/node-red-dashboard'] = '*';
  }
  writeFileSync(join(userDir, 'package.json'), JSON.stringify({ name: 'nr-user', dependencies }));
  writeFileSync(
    join(userDir, 'settings.js'),
    `module.exports = { credentialSecret: '${CREDENTIAL_SECRET}', flowFile: 'flows.json', editorTheme: { tours: false }, telemetry: { enabled: false }, diagnostics: { enabled: false } };\n`,
  );
  const port = await freePort();
  const child = spawn(process.execPath, [RED, '--userDir', userDir, '--settings', join(userDir, 'settings.js'), '--port', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  t.teardown(async () => {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  });
  const admin = `http://127.0.0.1:${port}`;
  await waitFor(() => /Started flows|Server now running/.test(out) || undefined, `Node-RED to start\n${out}`, 60_000, 200);
  await waitFor(() => /Started flows/.test(out) || undefined, 'the empty flows to start', 30_000, 100);
  return {
    admin,
    userDir,
    log: () => out,
    async deploy(flow) {
      const mark = out.length;
      const res = await fetch(`${admin}/flows`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'node-red-deployment-type': 'full' },
        body: JSON.stringify(flow),
      });
      if (res.status !== 200 && res.status !== 204) throw new Error(`deploy answered ${res.status}: ${await res.text()}`);
      await waitFor(
        () => /Started flows|Waiting for missing types/.test(out.slice(mark)) || undefined,
        `the flows to restart\n${out.slice(mark)}`,
        30_000,
        100,
      );
      return out.slice(mark);
    },
  };
}
