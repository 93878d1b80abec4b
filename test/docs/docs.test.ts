import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { format, resolveConfig } from 'prettier';
import { refreshDocument } from '../../src/docs/reference.js';
import { silentLogger } from '../../src/core/logger.js';
import { AlarmBook } from '../../src/state/alarm-book.js';
import type { AlarmEvent } from '../../src/core/alarm.js';
import { decodeMqttFrame } from '../../src/normalise/decode-mqtt.js';
import { parseConfig, parseRules } from '../../src/config/load.js';
import { replay, replayLine } from '../../src/cli/replay.js';
import { deviceAttributes } from '../../src/config/device-attributes.js';
import { decodeEventJson } from '../../src/normalise/decode-mqtt.js';
import { RuleEngine } from '../../src/cep/rules/engine.js';
import { rule } from '../../src/cep/rules/builder.js';
import { checkRuleText } from '../../src/node-red/cep-runner.js';
import { EdgeImpulseDecoder } from '../../src/normalise/serial/edge-impulse-text.js';
import { BinaryFrameDecoder } from '../../src/normalise/serial/binary-decoder.js';
import { of, lastValueFrom, toArray } from 'rxjs';

const DOCS = ['README.md', ...readdirSync('docs').map((f) => `docs/${f}`)].filter((f) => f.endsWith('.md'));

interface Block {
  file: string;
  lang: string;
  info: Record<string, string>;
  body: string;
}

function blocks(file: string): Block[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^```(\w+)([^\n]*)\n([\s\S]*?)^```$/gm)].map((m) => ({
    file,
    lang: m[1] ?? '',
    info: Object.fromEntries(
      (m[2] ?? '')
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map((kv) => (kv.includes('=') ? kv.split('=', 2) : [kv, 'true'])),
    ) as Record<string, string>,
    body: m[3] ?? '',
  }));
}

t.test('generated reference sections match the code (run `npm run docs` after a change)', async (t) => {
  for (const file of DOCS) {
    const text = readFileSync(file, 'utf8');
    const options = { ...(await resolveConfig(file)), filepath: file };
    t.equal(await format(refreshDocument(text), options), text, file);
  }
});

t.test('every event example decodes as the doc says', async (t) => {
  const examples = DOCS.flatMap(blocks).filter((b) => b.lang === 'json' && b.info.topic);
  t.ok(examples.length >= 6);
  for (const b of examples) {
    const decoded = decodeMqttFrame({ topic: b.info.topic!, payload: Buffer.from(b.body), receivedAt: 1 });
    t.equal(decoded.ok ? 'ok' : decoded.reason, b.info.expect, `${b.file}: ${b.body.slice(0, 60).replace(/\s+/g, ' ')}`);
  }
});

t.test('the alarm transition example has exactly the fields the gateway publishes', async (t) => {
  const [example] = DOCS.flatMap(blocks).filter((b) => b.lang === 'json' && b.info.alarm);
  const engine = new RuleEngine([rule('r').persistence({ atLeast: 0.5, n: 1, m: 1, clearAfter: 1 }).alarm().build()]);
  const emitted = await lastValueFrom(
    engine.connect(of({ device: 'd', ts: 1, model: { name: 'm', version: '1' }, anomaly: 1 })).pipe(toArray()),
  );
  const alarm = emitted.find((o) => o.type === 'alarm');
  // What is published is the alarm book's event: the rule's transition with the operators' states.
  const book = new AlarmBook({ now: () => 2 }, silentLogger());
  const published: AlarmEvent[] = [];
  book.events$.subscribe((e) => published.push(e));
  if (alarm?.type === 'alarm') book.apply(alarm.alarm);
  t.same(Object.keys(JSON.parse(example!.body) as object).sort(), Object.keys(published[0] ?? {}).sort());
});

t.test('every config example is valid', async (t) => {
  const examples = DOCS.flatMap(blocks).filter((b) => b.lang === 'yaml' && b.info.config);
  t.ok(examples.length >= 2);
  for (const b of examples) t.doesNotThrow(() => parseConfig(b.body, b.file), b.file);
});

t.test('every rule example in docs/rules.md prints exactly the lines shown when replayed', async (t) => {
  const all = blocks('docs/rules.md');
  const examples = all.filter((b) => b.lang === 'yaml' && b.info.example);
  t.ok(examples.length >= 15, `${examples.length} examples`);
  for (const ex of examples) {
    const name = ex.info.example!;
    const events = all.find((b) => b.info.events === name);
    const expected = all.find((b) => b.info.expect === name);
    if (!events || !expected) {
      t.fail(`${name}: needs a jsonl events= and expect= block`);
      continue;
    }
    const lines: string[] = [];
    const decoded = events.body
      .trim()
      .split('\n')
      .map((l) => decodeEventJson(JSON.parse(l) as unknown, 0));
    // An example with `devices:` is a whole config: its devices' attributes (line, tags) feed the rules.
    const config = /^devices:/m.test(ex.body) ? parseConfig(ex.body, name) : undefined;
    replay(
      config?.rules ?? parseRules(ex.body, name),
      decoded.flatMap((d) => (d.ok ? [d.event] : [])),
      (out) => lines.push(replayLine(out)),
      config && { attributes: deviceAttributes(config.devices) },
    );
    t.equal(decoded.filter((d) => !d.ok).length, 0, `${name}: every event is valid`);
    t.same(lines, expected.body.trim().split('\n'), name);
  }
});

t.test('every shipped rule template is documented, and every documented one is shipped', async (t) => {
  const shipped = readdirSync('gateway-config/rules').sort();
  const documented = [...readFileSync('docs/rules.md', 'utf8').matchAll(/^\| `([a-z-]+\.yaml)`\s*\|/gm)].map((m) => m[1]).sort();
  t.same(documented, shipped);
});

t.test('every cep-node rule example in the docs is valid', async (t) => {
  const examples = DOCS.flatMap(blocks).filter((b) => b.lang === 'yaml' && b.info.cep);
  t.ok(examples.length >= 2);
  for (const b of examples) t.same(checkRuleText(b.body), { ok: true, rules: [/^id: (\S+)/m.exec(b.body)?.[1]] }, b.file);
});

t.test('docs/serial.md: the Edge Impulse samples and the hex frame decode into valid events', async (t) => {
  const samples = blocks('docs/serial.md').filter((b) => b.lang === 'text' && b.info['edge-impulse']);
  t.equal(samples.length, 2);
  for (const b of samples) {
    const decoder = new EdgeImpulseDecoder({ device: 'doc', model: { name: 'm', version: '1' }, maxLineBytes: 256 });
    const out = [...decoder.push(Buffer.from(b.body)), ...decoder.flush()];
    t.same(
      out.map((o) => o.ok && decodeEventJson(o.json, 1).ok),
      [true],
      b.body.split('\n')[0] ?? '',
    );
  }
  const [frame] = blocks('docs/serial.md').filter((b) => b.lang === 'hex' && b.info.frame);
  const names = { devices: {}, devicePrefix: 'mcu-', models: { '3': { name: 'motor-ad', labels: ['normal', 'imbalance', 'wear'] } } };
  const [decoded] = new BinaryFrameDecoder(names).push(Buffer.from(frame!.body.trim(), 'hex'));
  t.match(decoded, {
    ok: true,
    json: { device: 'mcu-7', seq: 1, model: { name: 'motor-ad', version: '1.4' }, label: 'wear', anomaly: 0.75 },
  });
});
