import t from 'tap';
import { createServer } from 'node:net';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { runCli, spawnGateway, writeConfig } from '../helpers/spawn-gateway.js';
import { testConfig } from '../helpers/gateway-config.js';
import { tempDir } from '../helpers/temp-dir.js';
import { verifyPassword } from '../../src/core/password.js';

// Every case spawns the CLI, which loads the whole gateway: seconds each on a busy 2-core machine.
t.setTimeout(300_000);

t.test('check: 0 for a valid file, 1 naming key and line for a misspelled one', async (t) => {
  const ok = runCli(['check', '--config', 'gateway-config/gateway.yaml']);
  t.equal(ok.status, 0);
  t.match(ok.stdout, /OK \(8 devices, 2 rules; 3 warnings: open to the network without authentication\)/);
  t.match(ok.stderr, /gateway\.yaml:\d+:\d+: mqtt\.broker\.allowAnonymous: warning: /, 'each warning names the key and its line');

  const dir = tempDir(t, 'check-');
  const bad = join(dir, 'bad.yaml');
  const lines = readFileSync('gateway-config/gateway.yaml', 'utf8').split('\n');
  const line = lines.findIndex((l) => l.startsWith('  wordOrder:'));
  lines[line] = lines[line]!.replace('wordOrder', 'wordorder');
  writeFileSync(bad, lines.join('\n'));
  const r = runCli(['check', '--config', bad]);
  t.equal(r.status, 1);
  t.equal(r.stderr.trim(), `${bad}:${line + 1}:3: modbus.wordorder: unknown key`);
});

t.test('check compiles every rule and names the file, line and YAML path of each problem', async (t) => {
  const dir = tempDir(t, 'check-');
  writeFileSync(join(dir, 'gateway.yaml'), 'ruleFiles: [rules.yaml]\n');
  const rules = [
    'rules:',
    '  - id: silent',
    '    pipeline:',
    '      - absence: { timeout: 5 mins }',
    '    outputs: { alarm: {} }',
    '  - id: typo',
    '    pipeline:',
    '      - window: { type: tumbling, size: 1m, aggregates: [avg] }',
    '      - threshold: { field: avg, above: 0.8, clearBelow: 0.5 }',
    '      - persistance: { atLeast: 0.7 }',
    '    outputs:',
    "      alarm: { message: '{device} {nope}' }",
  ];
  writeFileSync(join(dir, 'rules.yaml'), rules.join('\n') + '\n');
  const r = runCli(['check', '--config', join(dir, 'gateway.yaml')]);
  t.equal(r.status, 1);
  const file = join(dir, 'rules.yaml');
  t.same(r.stderr.trim().split('\n'), [
    `${file}:4:20: rules.0.pipeline.0.absence.timeout: bad duration '5 mins': use a number with ms, s, m, h or d, e.g. 30s or 5m`,
    `${file}:10:9: rules.1.pipeline.2.persistance: unknown operator (one of: ${'filter, dedupe, debounce, window, trend, join, persistence, threshold, absence, drift, pattern, notFollowedBy, mismatch'})`,
    `${file}:12:16: rules.1.outputs.alarm.message: unknown placeholder {nope} (use rule, device, key, state, value, ts, time or a field)`,
  ]);
  // With the operator fixed, the field checks run: a field that does not exist after a window.
  const fixed = rules.slice(5, 9).concat(rules.slice(10)).join('\n').replace('field: avg', 'field: anomaly');
  writeFileSync(join(dir, 'rules.yaml'), 'rules:\n' + fixed + '\n');
  const fields = runCli(['check', '--config', join(dir, 'gateway.yaml')]);
  t.equal(fields.status, 1);
  t.match(
    fields.stderr,
    new RegExp(
      `rules.yaml:5:\\d+: rules.0.pipeline.1.threshold.field: no field 'anomaly' here \\(available: device, ts, window.start, window.end, window.count, avg, line, tags.<name>, …\\)`,
    ),
  );
  t.match(fields.stderr, /rules.yaml:7:\d+: rules.0.outputs.alarm.message: unknown placeholder \{nope\}/);
});

t.test('usage errors exit 2 with a message', async (t) => {
  t.match(runCli(['check']), { status: 2, stderr: /check needs --config FILE/ });
  t.match(runCli(['frobnicate']), { status: 2, stderr: /unknown command 'frobnicate'/ });
  t.match(runCli(['run', '--config', 'x', '--bogus']), { status: 2, stderr: /bogus/ });
  t.match(runCli(['--help']), { status: 0, stdout: /usage:/ });
  t.match(runCli(['simulate', '--broker', 'mqtt://127.0.0.1:1', '--rate', '0']), { status: 2, stderr: /--rate must be a positive number/ });
  t.match(runCli(['--version']), { status: 0, stdout: /^\d+\.\d+\.\d+/ });
});

t.test('hash-password and pki: what an integrator runs to set up OPC UA users and trust', async (t) => {
  const hashed = runCli(['hash-password'], {}, 'correct horse battery\n');
  t.equal(hashed.status, 0);
  const hash = hashed.stdout.trim();
  t.match(hash, /^scrypt\$16384\$/);
  t.ok(await verifyPassword('correct horse battery', hash), 'the printed hash verifies the password (newline not included)');
  t.notOk(await verifyPassword('correct horse', hash));
  t.match(runCli(['hash-password'], {}, 'short\n').stderr, /at least 8 characters/);

  const dataDir = tempDir(t, 'pki-');
  const list = runCli(['pki', 'list', '--data-dir', dataDir]);
  t.equal(list.status, 0);
  t.match(list.stdout, /no client certificates under/);
  const trust = runCli(['pki', 'trust', 'deadbeef00', '--data-dir', dataDir]);
  t.equal(trust.status, 1);
  t.match(trust.stderr, /no certificate matches 'deadbeef00'/);
  t.equal(runCli(['pki', 'forget', '--data-dir', dataDir]).status, 2, 'an unknown pki action is a usage error');
  t.match(runCli(['pki', 'list']).stderr, /pki needs --config FILE or --data-dir DIR/);
});

t.test('modbus-map prints the CSV with the documented header', async (t) => {
  const r = runCli(['modbus-map', '--config', 'gateway-config/gateway.yaml']);
  t.equal(r.status, 0);
  const rows = r.stdout.trim().split('\n');
  t.equal(rows[0], 'unit,device,field,table,address,reference,type,word_order,access,description');
  t.ok(rows.some((l) => l.startsWith('1,sim-02,anomaly,input_register,16,30017,float32,ABCD,read,')));
  t.ok(rows.some((l) => l.startsWith('1,sim-08,alarm,discrete_input,112,10113,bit,,read,')));
  t.ok(rows.some((l) => l.startsWith('1,sim-08,ack,coil,112,00113,bit,,read-write,')));
  t.ok(
    rows.some((l) => l.startsWith('1,,test_float32,holding_register,9006,49007,float32,ABCD,read,')),
    'the test pattern, in both register tables',
  );

  const md = runCli(['modbus-map', '--config', 'gateway-config/gateway.yaml', '--format', 'md']).stdout.split('\n');
  t.equal(md[0], '| unit | device | field | table | address | reference | type | word_order | access | description |');
  t.ok(md.some((l) => l.startsWith('| 1 | sim-02 | anomaly | input_register | 16 | 30017 | float32 | ABCD | read |')));
  const json = JSON.parse(runCli(['modbus-map', '--config', 'gateway-config/gateway.yaml', '--format', 'json']).stdout) as Record<
    string,
    unknown
  >[];
  t.match(
    json.find((r) => r.device === 'sim-02' && r.field === 'anomaly'),
    { unit: 1, address: 16, reference: '30017', type: 'float32', word_order: 'ABCD', access: 'read' },
  );
  const bad = runCli(['modbus-map', '--config', 'gateway-config/gateway.yaml', '--format', 'xml']);
  t.equal(bad.status, 1);
  t.match(bad.stderr, /--format must be one of csv, md, json/);
});

t.test('run with an invalid config exits 1 with the problems', async (t) => {
  const dir = tempDir(t, 'run-');
  const file = writeConfig(dir, { http: { port: 'eighty' } });
  const gw = spawnGateway(['--config', file]);
  t.equal((await gw.exited).code, 1);
  t.match(gw.stderr(), /http\.port: .*expected number/);
});

t.test('a part that cannot start is named and the process exits non-zero', async (t) => {
  const { raw, ports } = await testConfig(t);
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(ports.modbus, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => blocker.close(() => r())));
  const dir = (raw.gateway as { dataDir: string }).dataDir;
  const gw = spawnGateway(['--config', writeConfig(dir, raw)]);
  t.teardown(() => gw.stop());
  const { code } = await gw.exited;
  t.equal(code, 1);
  t.match(gw.stderr(), /part 'modbus' failed to start: .*EADDRINUSE/);
  t.ok(gw.logs.some((l) => l.msg === 'start failed' && l.part === 'modbus'));
  t.notOk(
    gw.logs.some((l) => l.msg === 'HTTP listening'),
    'later parts never started',
  );
  t.ok(
    gw.logs.some((l) => l.msg === 'OPC UA server listening'),
    'OPC UA had started (and was stopped again)',
  );
  t.same(
    gw.logs.filter((l) => 'raw' in l),
    [],
    'stdout is JSON lines only, node-opcua output included',
  );
});

t.test('the installed CLI runs as a program with its memory setting', async (t) => {
  const main = join(import.meta.dirname, '..', '..', 'dist', 'main.js');
  t.ok(statSync(main).mode & 0o111, 'dist/main.js is executable');
  t.match(execFileSync(main, ['--version'], { encoding: 'utf8' }), /^\d+\.\d+\.\d+/, 'through its own first line');
  // The same first line in front of a probe: what node runs with when started that way.
  const probe = join(tempDir(t, 'shebang-'), 'probe.cjs');
  const shebang = readFileSync(main, 'utf8').split('\n')[0]!;
  writeFileSync(probe, `${shebang}\nconsole.log(JSON.stringify({ flags: process.execArgv, arenas: process.env.MALLOC_ARENA_MAX }));\n`, {
    mode: 0o755,
  });
  t.same(JSON.parse(execFileSync(probe, { encoding: 'utf8' })), { flags: [], arenas: '2' });
});
