import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfigAside, loadHere } from '../../src/config/load-aside.js';
import { ConfigError } from '../../src/core/errors.js';

const example = join(import.meta.dirname, '..', '..', 'gateway-config', 'gateway.yaml');

t.test('a load beside the event thread gives what a load on it gives, warnings and all', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'open.yaml');
  // Anonymous OPC UA without security: a warning with its line.
  writeFileSync(file, 'devices:\n  - id: press-01\nopcua:\n  security:\n    modes: [None]\n    allowAnonymous: true\n');
  for (const f of [example, file]) {
    const aside = await loadConfigAside(f, { dataDir: dir });
    t.equal(aside.aside, true, 'loaded by the worker');
    t.same({ ...aside, aside: false }, loadHere({ file: f, overrides: { dataDir: dir } }), f);
    t.equal(aside.config.gateway.dataDir, dir, 'the --data-dir override holds');
  }
  t.ok(
    (await loadConfigAside(file)).warnings.some((w) => w.line !== undefined),
    'a warning names its line',
  );
});

t.test('a wrong config rejects with the ConfigError a load here throws', async (t) => {
  const file = join(t.testdir(), 'wrong.yaml');
  writeFileSync(file, 'gateway:\n  id: gw\n  nonsense: 1\n');
  const err = await loadConfigAside(file).catch((e: unknown) => e);
  t.ok(err instanceof ConfigError);
  t.same((err as ConfigError).problems, [{ path: 'gateway.nonsense', message: 'unknown key', line: 3, column: 3 }]);
  t.equal((err as ConfigError).file, file);
});

t.test('when the worker cannot run, the load happens here', async (t) => {
  const missing = new URL('./no-such-worker.js', import.meta.url);
  const loaded = await loadConfigAside(example, {}, missing);
  t.equal(loaded.aside, false);
  t.same(loaded, loadHere({ file: example, overrides: {} }));
  const wrong = join(t.testdir(), 'wrong.yaml');
  writeFileSync(wrong, 'nonsense: 1\n');
  t.rejects(loadConfigAside(wrong, {}, missing), ConfigError, 'and its errors are the same');
});
