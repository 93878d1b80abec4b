/** Byte and word orders of multi-byte values in registers (docs/modbus.md#byte-and-word-order). */
export const WORD_ORDERS = ['ABCD', 'CDAB', 'BADC', 'DCBA'] as const;
export type WordOrder = (typeof WORD_ORDERS)[number];

/** Register types of a map: numbers of 16, 32 or 64 bits, and text of `length` bytes. */
export const INTEGER_TYPES = ['int16', 'uint16', 'int32', 'uint32'] as const;
export const NUMBER_TYPES = [...INTEGER_TYPES, 'float32', 'float64'] as const;
export type NumberType = (typeof NUMBER_TYPES)[number];
/** Whether a type takes scale and offset. */
export const isInteger = (type: unknown): boolean => (INTEGER_TYPES as readonly unknown[]).includes(type);
export type ValueType = NumberType | { string: number };

export interface Encoding {
  type: ValueType;
  order: WordOrder;
  /** Integer encodings: value = raw × scale + offset. */
  scale?: number;
  offset?: number;
}

interface NumberCodec {
  bytes: number;
  /** Integers only: the raw range, which scaled values are clamped to. */
  range?: [number, number];
  read(b: Buffer): number;
  write(b: Buffer, v: number): void;
}

/** One row per type: its size, range and big-endian accessors. */
const NUMBERS: Record<NumberType, NumberCodec> = {
  int16: { bytes: 2, range: [-0x8000, 0x7fff], read: (b) => b.readInt16BE(), write: (b, v) => b.writeInt16BE(v) },
  uint16: { bytes: 2, range: [0, 0xffff], read: (b) => b.readUInt16BE(), write: (b, v) => b.writeUInt16BE(v) },
  int32: { bytes: 4, range: [-0x80000000, 0x7fffffff], read: (b) => b.readInt32BE(), write: (b, v) => b.writeInt32BE(v) },
  uint32: { bytes: 4, range: [0, 0xffffffff], read: (b) => b.readUInt32BE(), write: (b, v) => b.writeUInt32BE(v) },
  float32: { bytes: 4, read: (b) => b.readFloatBE(), write: (b, v) => b.writeFloatBE(v) },
  float64: { bytes: 8, read: (b) => b.readDoubleBE(), write: (b, v) => b.writeDoubleBE(v) },
};

export const registerCount = (type: ValueType): number => (typeof type === 'string' ? NUMBERS[type].bytes / 2 : Math.ceil(type.string / 2));

export const typeName = (type: ValueType): string => (typeof type === 'string' ? type : `string(${type.string})`);

/**
 * What an unknown value reads as: NaN for floats, the largest value of an unsigned and the
 * smallest of a signed integer, zero bytes for text. Documented per field in docs/modbus.md.
 */
export function unknownRaw(type: NumberType): number {
  const range = NUMBERS[type].range;
  return range ? (type.startsWith('u') ? range[1] : range[0]) : Number.NaN;
}

/** The value's bytes, most significant first, laid into registers in `order` (docs/modbus.md#byte-and-word-order). */
export function encode(value: number | string | undefined, e: Encoding): number[] {
  if (typeof e.type !== 'string') return toRegisters(textBytes(value, e.type.string), e.order, true);
  const codec = NUMBERS[e.type];
  const bytes = Buffer.alloc(codec.bytes);
  const n = typeof value === 'number' ? value : Number.NaN;
  if (!codec.range) codec.write(bytes, n);
  else {
    const scaled = Number.isFinite(n) ? Math.round((n - (e.offset ?? 0)) / (e.scale ?? 1)) : unknownRaw(e.type);
    codec.write(bytes, Math.min(codec.range[1], Math.max(codec.range[0], scaled)));
  }
  return toRegisters(bytes, e.order, false);
}

export function decode(registers: readonly number[], e: Encoding): number | string {
  const bytes = fromRegisters(registers.slice(0, registerCount(e.type)), e.order, typeof e.type !== 'string');
  if (typeof e.type !== 'string') return bytes.toString('latin1').replace(/\0+$/, '');
  const codec = NUMBERS[e.type];
  const raw = codec.read(bytes);
  return codec.range ? raw * (e.scale ?? 1) + (e.offset ?? 0) : raw;
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
