import type { WordOrder } from '../../config/schema.js';

/**
 * Splits the big-endian bytes A B C D of a 32-bit value into two registers in the given order:
 * ABCD = high word first (Modicon default), CDAB = low word first, BADC/DCBA = bytes swapped.
 */
export function toRegisters(bytes: Buffer, order: WordOrder): [number, number] {
  const [a, b, c, d] = [bytes[0] ?? 0, bytes[1] ?? 0, bytes[2] ?? 0, bytes[3] ?? 0];
  switch (order) {
    case 'ABCD':
      return [(a << 8) | b, (c << 8) | d];
    case 'CDAB':
      return [(c << 8) | d, (a << 8) | b];
    case 'BADC':
      return [(b << 8) | a, (d << 8) | c];
    case 'DCBA':
      return [(d << 8) | c, (b << 8) | a];
  }
}

export function float32Registers(value: number, order: WordOrder): [number, number] {
  const bytes = Buffer.alloc(4);
  bytes.writeFloatBE(value);
  return toRegisters(bytes, order);
}

export function uint32Registers(value: number, order: WordOrder): [number, number] {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(Math.max(0, Math.min(0xffffffff, Math.trunc(value))));
  return toRegisters(bytes, order);
}

/** Inverse of toRegisters, for clients and tests. */
export function fromRegisters(registers: [number, number], order: WordOrder): Buffer {
  const [r0, r1] = registers;
  const bytes = Buffer.alloc(4);
  const hi = (r: number): number => (r >> 8) & 0xff;
  const lo = (r: number): number => r & 0xff;
  const layout: Record<WordOrder, number[]> = {
    ABCD: [hi(r0), lo(r0), hi(r1), lo(r1)],
    CDAB: [hi(r1), lo(r1), hi(r0), lo(r0)],
    BADC: [lo(r0), hi(r0), lo(r1), hi(r1)],
    DCBA: [lo(r1), hi(r1), lo(r0), hi(r0)],
  };
  layout[order].forEach((byte, i) => bytes.writeUInt8(byte, i));
  return bytes;
}
