import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { secretHash } from '../helpers/test-log.js';
import { runningGateway } from '../helpers/gateway-config.js';
import { waitFor } from '../helpers/ports.js';

t.setTimeout(120_000);

/** The ```sh expect=NNN``` blocks of docs/api.md, in order. */
const EXAMPLES = [...readFileSync('docs/api.md', 'utf8').matchAll(/^```sh expect=(\d{3})\n([\s\S]*?)^```$/gm)].map((m) => ({
  expect: Number(m[1]),
  command: m[2]!.trim(),
}));
const OPENAPI = parse(readFileSync('docs/openapi.yaml', 'utf8')) as { paths: Record<string, Record<string, unknown>> };

/** `/devices/press-01/approve` → `/devices/{id}/approve`, as openapi.yaml names it. */
function route(command: string): { method: string; path: string } {
  const method = /-X (\w+)/.exec(command)?.[1] ?? 'GET';
  const path = /localhost:8080(\/[^\s?']*)/.exec(command)?.[1] ?? '';
  const templated = path
    .replace(/^\/devices\/[^/]+/, (p) => (p === '/devices' ? p : '/devices/{id}'))
    .replace(/^\/things\/[^/]+$/, '/things/{id}')
    .replace(/^\/alarms\/(acknowledge|confirm|reset)$/, '/alarms/{command}');
  return { method: method.toLowerCase(), path: templated };
}

t.test('every curl example in docs/api.md answers the status it says, in order, against a real gateway', async (t) => {
  t.ok(EXAMPLES.length >= 15);
  const { ports } = await runningGateway(t, {
    opcua: { enabled: false },
    modbus: { enabled: false },
    registry: { policy: 'quarantine' },
    devices: [
      { id: 'press-01', labels: ['normal', 'wear'] },
      { id: 'esp-01', credentials: { httpTokenHash: await secretHash('tok-esp-01') } },
    ],
    rules: [
      {
        id: 'anomaly-high',
        pipeline: [{ persistence: { field: 'anomaly', atLeast: 0.9, n: 1, m: 1, clearAfter: 1 } }],
        outputs: { alarm: { severity: 700 } },
      },
    ],
  });
  for (const { expect, command } of EXAMPLES) {
    const local = command.replaceAll('localhost:8080', `127.0.0.1:${ports.http}`);
    // The quarantined device shows up once the pipeline has seen its event.
    if (/\/devices\/newcomer$/.test(command))
      await waitFor(async () => (await fetch(`http://127.0.0.1:${ports.http}/devices/newcomer`)).ok || undefined, 'newcomer');
    // Asynchronously: the gateway answering curl runs in this process.
    const { stdout: status } = await promisify(execFile)('bash', ['-c', `${local} -o /dev/null -w '%{http_code}' --max-time 10`]);
    t.equal(Number(status), expect, command.split('\n')[0]!);
  }
});

t.test('docs/openapi.yaml names every route the examples call', async (t) => {
  for (const { command } of EXAMPLES) {
    const { method, path } = route(command);
    t.ok(OPENAPI.paths[path]?.[method], `${method.toUpperCase()} ${path}`);
  }
});
