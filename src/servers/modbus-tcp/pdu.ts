import type { ModbusTable } from '../../config/modbus-schema.js';

/** Modbus exception codes (Modbus Application Protocol V1.1b3, 7). */
export const EXCEPTION = {
  illegalFunction: 0x01,
  illegalAddress: 0x02,
  illegalValue: 0x03,
  deviceFailure: 0x04,
  gatewayTargetFailed: 0x0b,
} as const;

/** What a request may touch; a number is the exception to answer with. */
export interface PduTarget {
  readBits(table: ModbusTable, address: number, count: number): boolean[] | number;
  readRegisters(table: ModbusTable, address: number, count: number): number[] | number;
  write(table: ModbusTable, address: number, values: number[]): number | undefined;
}

/** Per function code: table and the quantity range the spec allows (6.1–6.12). */
const READS: Record<number, { table: ModbusTable; max: number; bits: boolean }> = {
  1: { table: 'coil', max: 2000, bits: true },
  2: { table: 'discrete_input', max: 2000, bits: true },
  3: { table: 'holding_register', max: 125, bits: false },
  4: { table: 'input_register', max: 125, bits: false },
};

export const exceptionPdu = (fc: number, code: number): Buffer => Buffer.from([fc | 0x80, code]);

/** One request PDU (function code + data) to its response PDU. */
export function handlePdu(pdu: Buffer, target: PduTarget): Buffer {
  const fc = pdu[0] ?? 0;
  const read = READS[fc];
  if (read) {
    if (pdu.length !== 5) return exceptionPdu(fc, EXCEPTION.illegalValue);
    const [address, count] = [pdu.readUInt16BE(1), pdu.readUInt16BE(3)];
    if (count < 1 || count > read.max) return exceptionPdu(fc, EXCEPTION.illegalValue);
    if (address + count > 65536) return exceptionPdu(fc, EXCEPTION.illegalAddress);
    return read.bits
      ? bitsResponse(fc, target.readBits(read.table, address, count))
      : registersResponse(fc, target.readRegisters(read.table, address, count));
  }
  switch (fc) {
    case 5: {
      if (pdu.length !== 5) return exceptionPdu(fc, EXCEPTION.illegalValue);
      const value = pdu.readUInt16BE(3);
      if (value !== 0x0000 && value !== 0xff00) return exceptionPdu(fc, EXCEPTION.illegalValue);
      return echo(fc, pdu, target.write('coil', pdu.readUInt16BE(1), [value === 0xff00 ? 1 : 0]), 5);
    }
    case 6:
      if (pdu.length !== 5) return exceptionPdu(fc, EXCEPTION.illegalValue);
      return echo(fc, pdu, target.write('holding_register', pdu.readUInt16BE(1), [pdu.readUInt16BE(3)]), 5);
    case 15: {
      const count = pdu.length >= 6 ? pdu.readUInt16BE(3) : 0;
      if (count < 1 || count > 0x7b0 || pdu[5] !== Math.ceil(count / 8) || pdu.length !== 6 + (pdu[5] ?? 0))
        return exceptionPdu(fc, EXCEPTION.illegalValue);
      const address = pdu.readUInt16BE(1);
      if (address + count > 65536) return exceptionPdu(fc, EXCEPTION.illegalAddress);
      const bits = Array.from({ length: count }, (_, i) => ((pdu[6 + (i >> 3)] ?? 0) >> (i & 7)) & 1);
      return echo(fc, pdu, target.write('coil', address, bits), 5);
    }
    case 16: {
      const count = pdu.length >= 6 ? pdu.readUInt16BE(3) : 0;
      if (count < 1 || count > 0x7b || pdu[5] !== 2 * count || pdu.length !== 6 + 2 * count)
        return exceptionPdu(fc, EXCEPTION.illegalValue);
      const address = pdu.readUInt16BE(1);
      if (address + count > 65536) return exceptionPdu(fc, EXCEPTION.illegalAddress);
      const registers = Array.from({ length: count }, (_, i) => pdu.readUInt16BE(6 + 2 * i));
      return echo(fc, pdu, target.write('holding_register', address, registers), 5);
    }
    default:
      return exceptionPdu(fc, EXCEPTION.illegalFunction);
  }
}

function bitsResponse(fc: number, bits: boolean[] | number): Buffer {
  if (typeof bits === 'number') return exceptionPdu(fc, bits);
  const out = Buffer.alloc(2 + Math.ceil(bits.length / 8));
  out[0] = fc;
  out[1] = out.length - 2;
  bits.forEach((b, i) => {
    if (b) out[2 + (i >> 3)]! |= 1 << (i & 7);
  });
  return out;
}

function registersResponse(fc: number, registers: number[] | number): Buffer {
  if (typeof registers === 'number') return exceptionPdu(fc, registers);
  const out = Buffer.alloc(2 + 2 * registers.length);
  out[0] = fc;
  out[1] = 2 * registers.length;
  registers.forEach((r, i) => out.writeUInt16BE(r & 0xffff, 2 + 2 * i));
  return out;
}

/** Writes answer with the request's first `length` bytes (function, address, value or quantity). */
function echo(fc: number, pdu: Buffer, exception: number | undefined, length: number): Buffer {
  return exception === undefined ? Buffer.from(pdu.subarray(0, length)) : exceptionPdu(fc, exception);
}
