import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { freePort, waitFor } from '../helpers/ports.js';
import { tempDir } from '../helpers/temp-dir.js';

t.setTimeout(120_000);

const ROOT = resolve(import.meta.dirname, '..', '..');
const RED = createRequire(import.meta.url).resolve('node-red/red.js');

t.test('examples/ (what the editor shows under Import ▸ Examples) mirrors flows/', async (t) => {
  for (const name of ['tinyml-events-to-debug.json']) {
    t.equal(readFileSync(join(ROOT, 'examples', name), 'utf8'), readFileSync(join(ROOT, 'flows', name), 'utf8'), name);
  }
});

t.test('a real Node-RED 4 runtime loads the package and deploys the example flow', async (t) => {
  const userDir = tempDir(t, 'nodered-');
  mkdirSync(join(userDir, 'node_modules'));
  symlinkSync(ROOT, join(userDir, 'node_modules', 'tinyml-gateway'), 'dir');
  writeFileSync(join(userDir, 'package.json'), JSON.stringify({ name: 'nr-user', dependencies: { 'tinyml-gateway': '*' } }));
  const port = await freePort();
  const child = spawn(process.execPath, [RED, '--userDir', userDir, '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  t.teardown(() => {
    child.kill('SIGTERM');
  });
  const admin = `http://127.0.0.1:${port}`;
  await waitFor(() => /Started flows|Server now running/.test(out) || undefined, 'Node-RED to start', 60_000, 200);

  const nodes = (await (await fetch(`${admin}/nodes`, { headers: { accept: 'application/json' } })).json()) as {
    module: string;
    types: string[];
    enabled: boolean;
    err?: string;
  }[];
  const ours = nodes.find((n) => n.module === 'tinyml-gateway');
  t.ok(ours, `tinyml-gateway listed in /nodes\n${out}`);
  t.match(ours, { types: ['tinyml-event-in'], enabled: true });
  t.notOk(ours?.err, 'loaded without error');
  const editorHtml = await (await fetch(`${admin}/nodes`, { headers: { accept: 'text/html' } })).text();
  t.match(editorHtml, /data-help-name="tinyml-event-in"/, 'help text is served to the editor');

  const flow = JSON.parse(readFileSync(join(ROOT, 'examples', 'tinyml-events-to-debug.json'), 'utf8')) as object[];
  const deploy = await fetch(`${admin}/flows`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'node-red-deployment-type': 'full' },
    body: JSON.stringify(flow),
  });
  t.ok([200, 204].includes(deploy.status), `the example flow deploys (${deploy.status})`);
  const deployed = (await (await fetch(`${admin}/flows`, { headers: { accept: 'application/json' } })).json()) as { type: string }[];
  t.ok(deployed.some((n) => n.type === 'tinyml-event-in'));
  await waitFor(() => /Started flows/.test(out.split('Stopping flows').at(-1) ?? '') || undefined, 'flows restarted', 30_000);
  t.notMatch(out, /Waiting for missing types|\[error\]/, 'no missing types or errors');
});
