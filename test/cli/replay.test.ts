import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { replayCommand } from '../../src/cli/replay.js';
import { runCli } from '../helpers/spawn-gateway.js';
import { tempDir } from '../helpers/temp-dir.js';

const CONFIG = 'test/fixtures/replay.yaml';
const EVENTS = 'test/fixtures/press-line-100s.jsonl';
const T0 = Date.UTC(2026, 10, 22, 8, 0, 0);

function replay(eventsFile: string, configFile = CONFIG): { code: number; out: string; err: string } {
  let out = '';
  let err = '';
  const code = replayCommand({ configFile, eventsFile }, { out: (s) => (out += s), err: (s) => (err += s) });
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
