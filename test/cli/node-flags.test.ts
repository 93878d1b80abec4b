import t from 'tap';
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { MAIN, nodeFlags } from '../../src/bench/gateway-process.js';

t.test('the CLI runs with a 16 MiB young generation and a 1.2 heap growth factor', async (t) => {
  const flags = nodeFlags();
  t.same(flags, ['--max-semi-space-size=8', '--heap-growing-percent=20']);
  // Node refuses a flag it does not know, so a typo on the #! line fails here, not on a plant's box.
  // Garbage with survivors grows the young generation to its limit.
  const churn = `let k = []; for (let i = 0; i < 3e6; i++) { const o = { i }; if (i % 10 === 0) k.push(o); if (k.length > 1e5) k = []; }
    console.log(v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size)`;
  const r = spawnSync(process.execPath, [...flags, '-e', churn], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  t.equal(Number(r.stdout.trim()), 16 * 1024 * 1024);
});

t.test('the built CLI starts through its #! line, as the systemd unit and npm start run it', async (t) => {
  accessSync(MAIN, constants.X_OK);
  const r = spawnSync(MAIN, ['--version'], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /\d+\.\d+\.\d+/);
});
