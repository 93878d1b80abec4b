import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BinaryFrameDecoder } from '../../../src/normalise/serial/binary-decoder.js';
import { decodeEventJson } from '../../../src/normalise/decode-mqtt.js';
import { buildSketch, buildWithFrameLib } from '../../helpers/firmware.js';
import { tempDir } from '../../helpers/temp-dir.js';
import type { FrameVector } from './codecs.test.js';

t.setTimeout(120_000);
const VECTORS = JSON.parse(readFileSync('test/fixtures/binary-frames.json', 'utf8')) as FrameVector[];

/** A C program that encodes every shared vector with the reference encoder and prints each frame in hex. */
function vectorProgram(): string {
  const f = (x: number): string => `${Number.isInteger(x) ? `${x}.0` : x}f`;
  const cases = VECTORS.map(({ result: r }) => {
    const fields = [
      `.device = ${r.device}u`,
      `.seq = ${r.seq}u`,
      `.model = ${r.model}u`,
      `.version_major = ${r.version[0]}`,
      `.version_minor = ${r.version[1]}`,
      `.label = ${r.labelIndex ?? 255}`,
      `.score_count = ${r.scores.length}`,
      `.float16_scores = ${r.float16 ? 1 : 0}`,
      `.has_anomaly = ${r.anomaly === undefined ? 0 : 1}`,
      `.anomaly = ${f(r.anomaly ?? 0)}`,
      `.scores = {${r.scores.length > 0 ? r.scores.map(f).join(', ') : '0.0f'}}`,
    ];
    return `  { ${fields.join(', ')} },`;
  });
  return `#include <stdio.h>
#include "tinyml_frame.h"
static const tinyml_result_t cases[] = {
${cases.join('\n')}
};
int main(void) {
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    uint8_t frame[TINYML_FRAME_MAX_BYTES];
    size_t n = tinyml_frame_encode(&cases[c], frame, sizeof frame);
    for (size_t i = 0; i < n; i++) printf("%02x", frame[i]);
    printf("\\n");
  }
  return 0;
}
`;
}

t.test('the C reference encoder produces exactly the shared test vectors', async (t) => {
  const dir = tempDir(t, 'c-encoder-');
  const source = join(dir, 'vectors.c');
  writeFileSync(source, vectorProgram());
  const lines = execFileSync(buildWithFrameLib(dir, source), { encoding: 'utf8' }).trim().split('\n');
  t.same(
    lines,
    VECTORS.map((v) => v.frame),
  );
});

t.test('the Arduino sketch builds with a host compiler and its frames decode into valid events', async (t) => {
  const dir = tempDir(t, 'sketch-');
  const sent = execFileSync(buildSketch(dir), ['12']);
  const decoder = new BinaryFrameDecoder({
    devices: { '7': 'fan-07' },
    devicePrefix: 'mcu-',
    models: { '3': { name: 'motor-ad', labels: ['normal', 'imbalance', 'wear'] } },
  });
  const out = decoder.push(sent);
  t.equal(out.length, 12);
  const events = out.map((o) => (o.ok ? decodeEventJson(o.json, 1) : undefined));
  t.ok(
    events.every((e) => e?.ok),
    'every frame is a valid InferenceEvent',
  );
  const first = events[6];
  t.match(first?.ok && first.event, {
    device: 'fan-07',
    seq: 6,
    model: { name: 'motor-ad', version: '1.4' },
    label: 'wear',
    anomaly: 0.60009765625, // 0.6 as float16
  });
});
