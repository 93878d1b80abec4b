import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/temp-dir.js';

const UNIT = 'gateway-config/systemd/tinyml-gateway.service';

/** systemd-analyze exits 0 on some parse errors but prints them: a clean verify is exit 0 and silence. */
function verify(file: string): { status: number | null; output: string } {
  const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

const hasAnalyze = spawnSync('sh', ['-c', 'command -v systemd-analyze']).status === 0;

t.test('the unit file passes systemd-analyze verify', { skip: hasAnalyze ? false : 'systemd-analyze not installed' }, async (t) => {
  t.same(verify(UNIT), { status: 0, output: '' });
  const broken = join(tempDir(t, 'unit-'), 'tinyml-gateway.service');
  writeFileSync(broken, readFileSync(UNIT, 'utf8').replace('Type=notify', 'Type=notifyy'));
  t.not(verify(broken).output, '', 'a broken unit is reported (the check can fail)');
});

t.test('the unit asks for what the daemon provides', async (t) => {
  const unit = readFileSync(UNIT, 'utf8');
  for (const line of [
    'Type=notify',
    'StateDirectory=tinyml-gateway',
    'ProtectSystem=strict',
    'AmbientCapabilities=CAP_NET_BIND_SERVICE',
    'DynamicUser=yes',
  ]) {
    t.ok(unit.split('\n').includes(line), line);
  }
  t.match(unit, /^WatchdogSec=\d+$/m);
  t.match(unit, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
  t.match(unit, /--data-dir %S\/tinyml-gateway/);
});
