import { createHash } from 'node:crypto';
import { open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import type { EngineCheckpoint } from '../cep/rules/checkpoint.js';

/** Rule state snapshots: `<dataDir>/rule-state.snapshot`. */
export const SNAPSHOT_FILE = 'rule-state.snapshot';

const MAGIC = Buffer.from('TMLGRULE');
export const SNAPSHOT_FORMAT = 1;
/** magic, format, reserved, body length, SHA-256 of the body. */
const HEADER = 8 + 4 + 4 + 8 + 32;

export interface SnapshotBody extends EngineCheckpoint {
  /** The gateway that wrote it (`gateway.id`): a snapshot copied from another gateway is refused. */
  gateway: string;
  /** Wall-clock time of writing, epoch ms. */
  writtenAt: number;
}

export type SnapshotRead = { ok: true; body: SnapshotBody; bytes: number } | { ok: false; missing: boolean; reason: string };

/**
 * The snapshot as the pieces of one file, header first: a fixed header with the body's length and
 * checksum, so a torn or altered file is told apart, then an index (times, gateway, each rule's id,
 * shape and length) and each rule's state as it was encoded. The rule states are not copied: a
 * snapshot is taken on the engine's thread, and written piece by piece.
 */
export function encodeSnapshot(body: SnapshotBody): Buffer[] {
  const { rules, ...rest } = body;
  const index = serialize({ ...rest, rules: rules.map((r) => ({ id: r.id, shape: r.shape, length: r.state.byteLength })) });
  const indexLength = Buffer.alloc(4);
  indexLength.writeUInt32BE(index.length);
  const parts = [indexLength, index, ...rules.map((r) => Buffer.from(r.state.buffer, r.state.byteOffset, r.state.byteLength))];
  const hash = createHash('sha256');
  let length = 0;
  for (const p of parts) (hash.update(p), (length += p.length));
  const header = Buffer.alloc(HEADER);
  MAGIC.copy(header, 0);
  header.writeUInt32BE(SNAPSHOT_FORMAT, 8);
  header.writeBigUInt64BE(BigInt(length), 16);
  hash.digest().copy(header, 24);
  return [header, ...parts];
}

/** Reads a snapshot back, or says why it cannot be used; never throws on a bad file. */
export function decodeSnapshot(bytes: Buffer, gateway: string): SnapshotRead {
  const refuse = (reason: string): SnapshotRead => ({ ok: false, missing: false, reason });
  if (bytes.length < HEADER || !bytes.subarray(0, 8).equals(MAGIC)) {
    if (bytes.length < HEADER && MAGIC.subarray(0, bytes.length).equals(bytes.subarray(0, 8)))
      return refuse(`torn: ${bytes.length} bytes, shorter than the ${HEADER}-byte header`);
    return refuse('not a rule-state snapshot (foreign file)');
  }
  const format = bytes.readUInt32BE(8);
  if (format !== SNAPSHOT_FORMAT) return refuse(`snapshot format ${format}; this gateway reads format ${SNAPSHOT_FORMAT}`);
  const length = Number(bytes.readBigUInt64BE(16));
  const payload = bytes.subarray(HEADER);
  if (payload.length !== length) return refuse(`torn: ${payload.length} of ${length} bytes after the header`);
  const sum = createHash('sha256').update(payload).digest();
  if (!sum.equals(bytes.subarray(24, HEADER))) return refuse('checksum mismatch: the file was altered or damaged');
  let body: SnapshotBody;
  try {
    body = parseBody(payload);
  } catch (err) {
    return refuse(`unreadable: ${(err as Error).message}`);
  }
  if (body.gateway !== gateway) return refuse(`written by gateway '${String(body.gateway)}', this is '${gateway}'`);
  return { ok: true, body, bytes: bytes.length };
}

/** The index, then each rule's state as a view of the file's bytes. */
function parseBody(payload: Buffer): SnapshotBody {
  const indexLength = payload.readUInt32BE(0);
  const index = deserialize(payload.subarray(4, 4 + indexLength)) as Omit<SnapshotBody, 'rules'> & {
    rules: { id: string; shape: string; length: number }[];
  };
  if (typeof index?.at !== 'number' || !Array.isArray(index.rules)) throw new Error('no time or rules in the index');
  let offset = 4 + indexLength;
  const rules = index.rules.map((r) => {
    const state = payload.subarray(offset, (offset += r.length));
    if (state.length !== r.length) throw new Error(`rule ${r.id}: ${state.length} of ${r.length} bytes`);
    return { id: r.id, shape: r.shape, state };
  });
  return { ...index, rules };
}

export async function readSnapshot(file: string, gateway: string): Promise<SnapshotRead> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    return { ok: false, missing, reason: missing ? 'no snapshot yet' : `cannot read: ${(err as Error).message}` };
  }
  return decodeSnapshot(bytes, gateway);
}

/**
 * Writes the snapshot atomically: a temporary file, fsync, rename over the old one, fsync of the
 * directory. A crash at any point leaves the old snapshot or the new one, never a mix.
 */
export async function writeSnapshot(file: string, parts: Buffer[]): Promise<void> {
  const tmp = `${file}.tmp`;
  const fd = await open(tmp, 'w', 0o600);
  try {
    await fd.writev(parts);
    await fd.sync();
  } finally {
    await fd.close();
  }
  await rename(tmp, file);
  const dir = await open(dirname(file), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
