import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { format, resolveConfig } from 'prettier';
import { refreshDocument } from '../../src/docs/reference.js';
import { decodeMqttFrame } from '../../src/normalise/decode-mqtt.js';
import { parseConfig } from '../../src/config/load.js';
import { RuleEngine } from '../../src/cep/rules/engine.js';
import { rule } from '../../src/cep/rules/builder.js';
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

t.test('the alarm transition example has exactly the fields a rule emits', async (t) => {
  const [example] = DOCS.flatMap(blocks).filter((b) => b.lang === 'json' && b.info.alarm);
  const engine = new RuleEngine([rule('r').persistence({ atLeast: 0.5, n: 1, m: 1, clearAfter: 1 }).alarm().build()]);
  const emitted = await lastValueFrom(
    engine.connect(of({ device: 'd', ts: 1, model: { name: 'm', version: '1' }, anomaly: 1 })).pipe(toArray()),
  );
  const alarm = emitted.find((o) => o.type === 'alarm');
  t.same(Object.keys(JSON.parse(example!.body) as object).sort(), Object.keys(alarm?.type === 'alarm' ? alarm.alarm : {}).sort());
});

t.test('every config example is valid', async (t) => {
  const examples = DOCS.flatMap(blocks).filter((b) => b.lang === 'yaml' && b.info.config);
  t.ok(examples.length >= 2);
  for (const b of examples) t.doesNotThrow(() => parseConfig(b.body, b.file), b.file);
});
