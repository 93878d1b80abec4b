import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { replay as runReplay, replayCommand } from '../../src/cli/replay.js';
import type { EngineCheckpoint } from '../../src/cep/rules/checkpoint.js';
import { loadConfig } from '../../src/config/load.js';
import { decodeEventJson } from '../../src/normalise/decode-mqtt.js';
import { encodeSnapshot } from '../../src/state/rule-snapshot.js';
import { runCli } from '../helpers/spawn-gateway.js';
import { tempDir } from '../helpers/temp-dir.js';

const CONFIG = 'test/fixtures/replay.yaml';
const EVENTS = 'test/fixtures/press-line-100s.jsonl';
const T0 = Date.UTC(2026, 10, 22, 8, 0, 0);

function replay(eventsFile: string, configFile = CONFIG, order?: 'time' | 'file'): { code: number; out: string; err: string } {
  let out = '';
  let err = '';
  const code = replayCommand({ configFile, eventsFile, order }, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

t.test(
  'the recorded line: press-02 raises at 29 s and clears at 74 s; its wear trend is seen at 2 s; 10 s windows per press',
  async (t) => {
    const r = replay(EVENTS);
    t.equal(r.code, 0);
    const lines = r.out
      .trim()
      .split('\n')
      .map(
        (l) => JSON.parse(l) as { type: string; rule: string; device: string; state: string; ts: number; fields?: Record<string, number> },
      );
    const alarms = (rule: string) => lines.filter((l) => l.type === 'alarm' && l.rule === rule).map((l) => [l.device, l.state, l.ts - T0]);
    t.same(alarms('anomaly-persistence'), [
      ['press-02', 'raised', 29_007],
      ['press-02', 'cleared', 74_007],
    ]);
    t.same(
      alarms('anomaly-trend-rul'),
      [
        ['press-02', 'raised', 2_007],
        ['press-02', 'cleared', 76_007],
      ],
      'the wear ramp is seen 27 s before the persistence alarm; healthy press-01 never',
    );
    const windows = lines.filter((l) => l.rule === 'anomaly-10s');
    t.equal(windows.length, 20, 'ten 10 s windows for each press');
    t.ok(
      windows.every((w) => w.fields?.count === 10),
      'each holds the 10 events of its 10 s',
    );
    t.match(r.err, /replayed 200 events \(0 rejected\) through 3 rules: 4 alarm transitions, 22 derived events, 0 actions/);
  },
);

t.test('same input, byte-identical output: twice in process, twice as a real CLI', async (t) => {
  const first = replay(EVENTS).out;
  t.equal(replay(EVENTS).out, first);
  const a = runCli(['replay', '--config', CONFIG, '--events', EVENTS]);
  const b = runCli(['replay', '--config', CONFIG, '--events', EVENTS]);
  t.equal(a.status, 0);
  t.equal(a.stdout, first);
  t.equal(b.stdout, a.stdout);
});

t.test('event time, not file order: a shuffled recording replays the same', async (t) => {
  const dir = tempDir(t, 'replay-');
  const lines = readFileSync(EVENTS, 'utf8').trim().split('\n');
  const shuffled = join(dir, 'shuffled.jsonl');
  writeFileSync(
    shuffled,
    lines
      .map((l, i) => [l, (i * 7919) % lines.length] as const)
      .sort((x, y) => x[1] - y[1])
      .map(([l]) => l)
      .join('\n'),
  );
  t.equal(replay(shuffled).out, replay(EVENTS).out);
});

t.test('bad lines are reported with their line number and skipped', async (t) => {
  const dir = tempDir(t, 'replay-');
  const file = join(dir, 'bad.jsonl');
  const good = readFileSync(EVENTS, 'utf8').split('\n').slice(0, 3);
  writeFileSync(
    file,
    [
      good[0],
      '{oops',
      '{"device":"press-01","model":{"name":"m","version":"1"},"anomaly":0.1}',
      '',
      good[1],
      '{"device":"x y","ts":1,"model":{"name":"m","version":"1"},"anomaly":1}',
      good[2],
    ].join('\n'),
  );
  const r = replay(file);
  t.equal(r.code, 0);
  t.match(r.err, new RegExp(`${file}:2: bad JSON`));
  t.match(r.err, new RegExp(`${file}:3: no ts`));
  t.match(r.err, new RegExp(`${file}:6: schema: device`));
  t.match(r.err, /replayed 3 events \(3 rejected\)/);
});

t.test('a bad config exits 1 with its problems; usage errors exit 2', async (t) => {
  const dir = tempDir(t, 'replay-');
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'rules:\n  - id: r\n    pipeline: [{ persistence: { atLeast: 1, n: 1, m: 1, clearAfter: 1 } }]\n    outputs: {}\n');
  const r = replay(EVENTS, bad);
  t.equal(r.code, 1);
  t.match(r.err, /bad\.yaml:4:5: rules\.0\.outputs: a rule needs at least one output/);
  t.match(runCli(['replay', '--config', CONFIG]), { status: 2, stderr: /replay needs --events/ });
});

t.test('--order file: events as recorded, so outOfOrder and lateness replay; late events are output lines', async (t) => {
  const dir = tempDir(t, 'replay-');
  const config = join(dir, 'late.yaml');
  writeFileSync(
    config,
    [
      'rules:',
      '  - id: w',
      '    pipeline:',
      '      - window: { type: tumbling, size: 10s, field: anomaly, aggregates: [count], outOfOrder: 2s }',
      '    outputs: { derived: { fields: [count] } }',
    ].join('\n'),
  );
  const ev = (ts: number, seq: number) => JSON.stringify({ device: 'm1', ts, seq, model: { name: 'm', version: '1' }, anomaly: 0.1 });
  const events = join(dir, 'late.jsonl');
  // 9 s comes after 11 s but within outOfOrder; 5 s comes after 13 s, past the window's close.
  writeFileSync(events, [ev(1000, 1), ev(11_000, 2), ev(9000, 3), ev(13_000, 4), ev(5000, 5), ev(25_000, 6)].join('\n'));
  const asRecorded = replay(events, config, 'file');
  t.equal(asRecorded.code, 0);
  t.same(
    asRecorded.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>),
    [
      { type: 'derived', rule: 'w', name: 'w', device: 'm1', key: 'm1', ts: 10_000, state: 'event', value: 2, fields: { count: 2 } },
      { type: 'late', rule: 'w', device: 'm1', ts: 5000, seq: 5 },
      { type: 'derived', rule: 'w', name: 'w', device: 'm1', key: 'm1', ts: 20_000, state: 'event', value: 2, fields: { count: 2 } },
      { type: 'derived', rule: 'w', name: 'w', device: 'm1', key: 'm1', ts: 30_000, state: 'event', value: 1, fields: { count: 1 } },
    ],
  );
  t.match(asRecorded.err, /replayed 6 events \(0 rejected\) through 1 rules: 0 alarm transitions, 3 derived events, 0 actions, 1 late/);
  const byTime = replay(events, config);
  t.notMatch(byTime.out, /"late"/, 'in time order nothing is late');
  t.match(byTime.out, /"ts":10000,"state":"event","value":3/, 'and the first window holds 1 s, 5 s and 9 s');
});

t.test('replay takes no event larger than the live path does, and names the file it cannot read', async (t) => {
  const dir = tempDir(t, 'replay-');
  const file = join(dir, 'big.jsonl');
  const good = readFileSync(EVENTS, 'utf8').split('\n')[0]!;
  const big = JSON.stringify({
    device: 'press-01',
    ts: T0,
    model: { name: 'm', version: '1' },
    anomaly: 0.1,
    values: { pad: 1 },
    x: 'y'.repeat(17_000),
  });
  writeFileSync(file, [good, big].join('\n'));
  const r = replay(file);
  t.match(r.err, new RegExp(`${file}:2: oversize: \\d+ bytes > 16384, the limit of a live event`));
  t.match(r.err, /replayed 1 events \(1 rejected\)/);
  const missing = replay(dir);
  t.equal(missing.code, 1);
  t.match(missing.err, new RegExp(`^${dir}: cannot read the events: EISDIR`));
});

t.test('--snapshot: a replay continues from a gateway snapshot; a damaged one is refused', async (t) => {
  const dir = tempDir(t, 'replay-snapshot-');
  const lines = readFileSync(EVENTS, 'utf8').trim().split('\n');
  const half = Math.floor(lines.length / 2);
  writeFileSync(join(dir, 'first.jsonl'), lines.slice(0, half).join('\n') + '\n');
  writeFileSync(join(dir, 'rest.jsonl'), lines.slice(half).join('\n') + '\n');
  const config = loadConfig(CONFIG);
  const events = lines.map((l) => decodeEventJson(JSON.parse(l), 0)).flatMap((d) => (d.ok ? [d.event] : []));
  let checkpoint: EngineCheckpoint | undefined;
  runReplay(config.rules, events.slice(0, half), () => undefined, { checkpoint: (cp) => (checkpoint = cp) });
  const snapshot = join(dir, 'rule-state.snapshot');
  writeFileSync(snapshot, Buffer.concat(encodeSnapshot({ ...checkpoint!, gateway: config.gateway.id, writtenAt: 0 })));

  const whole = replay(EVENTS).out.trim().split('\n');
  const cut = events[half - 1]!.ts;
  const continued = runCli(['replay', '--config', CONFIG, '--events', join(dir, 'rest.jsonl'), '--snapshot', snapshot]);
  t.equal(continued.status, 0, continued.stderr);
  t.match(continued.stderr, /continuing \d+ rules from the snapshot/);
  const after = (out: string[]): string[] => out.filter((l) => (JSON.parse(l) as { ts: number }).ts > cut).sort();
  t.same(after(continued.stdout.trim().split('\n')), after(whole), 'what follows the cut, as in the whole replay');
  const cold = replay(join(dir, 'rest.jsonl')).out.trim().split('\n');
  t.not(after(cold).join('\n'), after(whole).join('\n'), 'without the snapshot it differs');

  writeFileSync(snapshot, readFileSync(snapshot).subarray(0, 100));
  const torn = runCli(['replay', '--config', CONFIG, '--events', join(dir, 'rest.jsonl'), '--snapshot', snapshot]);
  t.equal(torn.status, 1);
  t.match(torn.stderr, /snapshot refused: torn: /);
});
