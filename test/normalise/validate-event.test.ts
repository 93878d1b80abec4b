import t from 'tap';
import { inferenceEventV1 } from '../../src/normalise/inference-event.js';
import { validateEvent } from '../../src/normalise/validate-event.js';
import { xorshift32 } from '../../src/bench/bench-util.js';

const ODD_VALUES: unknown[] = [
  undefined,
  null,
  0,
  -1,
  1.5,
  2,
  NaN,
  Infinity,
  -0,
  '',
  'x',
  'x'.repeat(65),
  '2026-12-03T08:00:00Z',
  '2026-12-03T08:00Z',
  '2026-13-45T99:00:00Z',
  '2026-12-03 08:00:00',
  '1970-01-01T00:00:00+01:00',
  true,
  [],
  {},
  { a: 1 },
  Number.MAX_SAFE_INTEGER + 2,
  9_223_372_036_855,
];

function validEvent(rnd: () => number): Record<string, unknown> {
  const e: Record<string, unknown> = { device: `d-${Math.floor(rnd() * 100)}`, model: { name: 'm', version: '1.0' } };
  if (rnd() < 0.5) e.v = 1;
  if (rnd() < 0.7) e.ts = rnd() < 0.8 ? Math.floor(rnd() * 2e12) : new Date(Math.floor(rnd() * 2e12)).toISOString();
  if (rnd() < 0.7) e.seq = Math.floor(rnd() * 1e6);
  if (rnd() < 0.7) e.label = rnd() < 0.5 ? 'normal' : 'bearing_wear';
  if (rnd() < 0.6) e.scores = { normal: rnd(), bearing_wear: rnd() };
  if (rnd() < 0.7) e.anomaly = rnd() * 3;
  if (rnd() < 0.4) e.timing = rnd() < 0.5 ? { dsp_ms: rnd() * 10 } : { dsp_ms: rnd() * 10, inference_ms: rnd() * 10 };
  if (rnd() < 0.3) e.values = { temp: rnd() * 100 - 20 };
  if (rnd() < 0.2) e.extra = 'ignored by both';
  return e;
}

/** One change somewhere: a field dropped, replaced by an odd value, or a nested key added. */
function mutate(e: Record<string, unknown>, rnd: () => number): Record<string, unknown> {
  const keys = ['v', 'device', 'ts', 'seq', 'model', 'label', 'scores', 'anomaly', 'timing', 'values'];
  const key = keys[Math.floor(rnd() * keys.length)]!;
  const odd = ODD_VALUES[Math.floor(rnd() * ODD_VALUES.length)];
  const out = structuredClone(e);
  const roll = rnd();
  if (roll < 0.2) delete out[key];
  else if (roll < 0.6) out[key] = odd;
  else if (key === 'model' || key === 'timing' || key === 'scores' || key === 'values') {
    const nested = { ...((out[key] as Record<string, unknown> | undefined) ?? {}) };
    const nestedKey = ['name', 'version', 'dsp_ms', 'inference_ms', 'other', '', 'x'.repeat(65)][Math.floor(rnd() * 7)]!;
    nested[nestedKey] = odd;
    out[key] = nested;
  } else out[key] = odd;
  return out;
}

t.test('the hand-written check accepts and rejects exactly what the zod schema does, and yields the same event', async (t) => {
  const rnd = xorshift32(19);
  let valid = 0;
  let invalid = 0;
  for (let i = 0; i < 20_000; i++) {
    let json: unknown = validEvent(rnd);
    for (let m = Math.floor(rnd() * 3); m > 0; m--) json = mutate(json as Record<string, unknown>, rnd);
    if (rnd() < 0.01) json = ODD_VALUES[Math.floor(rnd() * ODD_VALUES.length)];
    const zod = inferenceEventV1.safeParse(json);
    const fast = validateEvent(json);
    if (zod.success !== (fast !== undefined)) {
      t.fail(`zod ${zod.success ? 'accepts' : 'rejects'}, the hand-written check does not: ${JSON.stringify(json)}`);
      return;
    }
    if (!zod.success || !fast) {
      invalid++;
      continue;
    }
    valid++;
    const { v: _v, ts, ...rest } = zod.data;
    if (JSON.stringify(rest) !== JSON.stringify(fast.event) || ts !== fast.ts) {
      t.fail(
        `different events for ${JSON.stringify(json)}: ${JSON.stringify(rest)} ${String(ts)} vs ${JSON.stringify(fast.event)} ${fast.ts}`,
      );
      return;
    }
  }
  t.ok(valid > 2_000 && invalid > 2_000, `${valid} valid and ${invalid} invalid inputs compared`);
});

t.test('a record key zod would not keep as its own takes the zod path', async (t) => {
  t.equal(validateEvent(JSON.parse('{"device":"d","model":{"name":"m","version":"1"},"scores":{"__proto__":0.5}}')), undefined);
});
