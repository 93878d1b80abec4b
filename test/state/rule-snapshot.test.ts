import t from 'tap';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeSnapshot, encodeSnapshot, readSnapshot, writeSnapshot, type SnapshotBody } from '../../src/state/rule-snapshot.js';

const body: SnapshotBody = {
  at: 1234,
  gateway: 'gw-1',
  writtenAt: 5678,
  rules: [{ id: 'r', shape: 'abc', state: new Uint8Array([1, 2, 3, 4]) }],
};

t.test('a snapshot reads back as written', async (t) => {
  const read = decodeSnapshot(Buffer.concat(encodeSnapshot(body)), 'gw-1');
  t.ok(read.ok);
  if (read.ok)
    t.same(
      { ...read.body, rules: read.body.rules.map((r) => ({ ...r, state: [...r.state] })) },
      { ...body, rules: [{ ...body.rules[0], state: [1, 2, 3, 4] }] },
    );
});

t.test('a torn, altered, foreign or other-gateway snapshot is refused with its reason', async (t) => {
  const bytes = Buffer.concat(encodeSnapshot(body));
  const refused = (b: Buffer, gateway = 'gw-1'): string => {
    const read = decodeSnapshot(b, gateway);
    return read.ok ? 'accepted' : read.reason;
  };
  for (const n of [0, 5, 20, 55, bytes.length - 1]) t.match(refused(bytes.subarray(0, n)), /^torn: /, `cut to ${n} bytes`);
  const flipped = Buffer.from(bytes);
  flipped[flipped.length - 2]! ^= 0xff;
  t.match(refused(flipped), /^checksum mismatch/);
  t.match(refused(Buffer.from('{"rules": []}\n'.repeat(10))), /foreign file/);
  const future = Buffer.from(bytes);
  future.writeUInt32BE(9, 8);
  t.match(refused(future), /^snapshot format 9; this gateway reads format 1/);
  t.match(refused(bytes, 'gw-2'), /written by gateway 'gw-1', this is 'gw-2'/);
});

t.test('written atomically: the file is whole, no temporary is left; a missing file is not an error', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'rule-state.snapshot');
  t.match(await readSnapshot(file, 'gw-1'), { ok: false, missing: true });
  await writeSnapshot(file, encodeSnapshot(body));
  await writeSnapshot(file, encodeSnapshot({ ...body, at: 99 }));
  t.notOk(existsSync(`${file}.tmp`));
  t.match(await readSnapshot(file, 'gw-1'), { ok: true, body: { at: 99 } });
  // A crash mid-write leaves only the temporary file torn; the snapshot itself is the previous one.
  writeFileSync(`${file}.tmp`, readFileSync(file).subarray(0, 30));
  t.match(await readSnapshot(file, 'gw-1'), { ok: true, body: { at: 99 } });
});
