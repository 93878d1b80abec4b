import type { WordOrder } from '../../config/schema.js';

/** Register types of a map: numbers of 16, 32 or 64 bits, and text of `length` bytes. */
export type NumberType = 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32' | 'float64';
export type ValueType = NumberType | { string: number };

export interface Encoding {
  type: ValueType;
  order: WordOrder;
  /** Integer encodings: value = raw × scale + offset. */
  scale?: number;
  offset?: number;
}

const BYTES: Record<NumberType, number> = { int16: 2, uint16: 2, int32: 4, uint32: 4, float32: 4, float64: 8 };
const RANGE: Partial<Record<NumberType, [number, number]>> = {
  int16: [-0x8000, 0x7fff],
  uint16: [0, 0xffff],
  int32: [-0x80000000, 0x7fffffff],
  uint32: [0, 0xffffffff],
};

export const registerCount = (type: ValueType): number => (typeof type === 'string' ? BYTES[type] / 2 : Math.ceil(type.string / 2));

export const typeName = (type: ValueType): string => (typeof type === 'string' ? type : `string(${type.string})`);

/**
 * What an unknown value reads as: NaN for floats, the largest value of an unsigned and the
 * smallest of a signed integer, zero bytes for text. Documented per field in docs/modbus.md.
 */
export function unknownRaw(type: NumberType): number {
  const range = RANGE[type];
  return range ? (type.startsWith('u') ? range[1] : range[0]) : Number.NaN;
}

/** The value's bytes, most significant first, laid into registers in `order` (docs/modbus.md#byte-and-word-order). */
export function encode(value: number | string | undefined, e: Encoding): number[] {
  const bytes = typeof e.type === 'string' ? numberBytes(value, e.type, e) : textBytes(value, e.type.string);
  return toRegisters(bytes, e.order, typeof e.type !== 'string');
}

export function decode(registers: readonly number[], e: Encoding): number | string {
  const text = typeof e.type !== 'string';
  const bytes = fromRegisters(registers.slice(0, registerCount(e.type)), e.order, text);
  if (typeof e.type !== 'string') return bytes.toString('latin1').replace(/\0+$/, '');
  const raw = readNumber(bytes, e.type);
  return RANGE[e.type] ? raw * (e.scale ?? 1) + (e.offset ?? 0) : raw;
}

function numberBytes(value: number | string | undefined, type: NumberType, e: Encoding): Buffer {
  const bytes = Buffer.alloc(BYTES[type]);
  const n = typeof value === 'number' ? value : Number.NaN;
  const range = RANGE[type];
  if (!range) {
    if (type === 'float32') bytes.writeFloatBE(n);
    else bytes.writeDoubleBE(n);
    return bytes;
  }
  const scaled = Number.isFinite(n) ? Math.round((n - (e.offset ?? 0)) / (e.scale ?? 1)) : unknownRaw(type);
  const raw = Math.min(range[1], Math.max(range[0], scaled));
  if (type === 'int16') bytes.writeInt16BE(raw);
  else if (type === 'uint16') bytes.writeUInt16BE(raw);
  else if (type === 'int32') bytes.writeInt32BE(raw);
  else bytes.writeUInt32BE(raw);
  return bytes;
}

function readNumber(bytes: Buffer, type: NumberType): number {
  switch (type) {
    case 'int16':
      return bytes.readInt16BE();
    case 'uint16':
      return bytes.readUInt16BE();
    case 'int32':
      return bytes.readInt32BE();
    case 'uint32':
      return bytes.readUInt32BE();
    case 'float32':
      return bytes.readFloatBE();
    case 'float64':
      return bytes.readDoubleBE();
  }
}

/** Latin-1 text, cut or zero-padded to `length` bytes (an odd length pads the last register). */
function textBytes(value: number | string | undefined, length: number): Buffer {
  const bytes = Buffer.alloc(registerCount({ string: length }) * 2);
  if (value !== undefined) bytes.write(String(value).slice(0, length), 'latin1');
  return bytes;
}

/**
 * Big-endian bytes A B C D … into registers. ABCD: in order. CDAB: the registers reversed (low
 * word first). BADC: the two bytes of each register swapped. DCBA: both, i.e. little-endian.
 * Text keeps its registers in reading order; only the byte swap applies to it.
 */
function toRegisters(bytes: Buffer, order: WordOrder, text: boolean): number[] {
  const swapBytes = order === 'BADC' || order === 'DCBA';
  const registers: number[] = [];
  for (let i = 0; i < bytes.length; i += 2) {
    const [hi, lo] = [bytes[i] ?? 0, bytes[i + 1] ?? 0];
    registers.push(swapBytes ? (lo << 8) | hi : (hi << 8) | lo);
  }
  const swapWords = !text && (order === 'CDAB' || order === 'DCBA');
  return swapWords ? registers.reverse() : registers;
}

function fromRegisters(registers: readonly number[], order: WordOrder, text: boolean): Buffer {
  const swapWords = !text && (order === 'CDAB' || order === 'DCBA');
  const swapBytes = order === 'BADC' || order === 'DCBA';
  const ordered = swapWords ? [...registers].reverse() : registers;
  const bytes = Buffer.alloc(ordered.length * 2);
  ordered.forEach((r, i) => {
    const [hi, lo] = [(r >> 8) & 0xff, r & 0xff];
    bytes[2 * i] = swapBytes ? lo : hi;
    bytes[2 * i + 1] = swapBytes ? hi : lo;
  });
  return bytes;
}
