import type { WordOrder } from '../../config/modbus-schema.js';
import { encode, registerCount, type ValueType } from '../../core/register-codec.js';

interface PatternField {
  field: string;
  offset: number;
  type: ValueType;
  value: number | string;
}

/**
 * Known values at a fixed address, in the map's byte and word order: read the 16 registers once
 * and check your master decodes each as listed (docs/modbus.md#test-pattern).
 */
export const TEST_PATTERN: readonly PatternField[] = [
  { field: 'test_uint16', offset: 0, type: 'uint16', value: 0x1234 },
  { field: 'test_int16', offset: 1, type: 'int16', value: -2 },
  { field: 'test_uint32', offset: 2, type: 'uint32', value: 0x12345678 },
  { field: 'test_int32', offset: 4, type: 'int32', value: -2 },
  { field: 'test_float32', offset: 6, type: 'float32', value: 123.456 },
  { field: 'test_float64', offset: 8, type: 'float64', value: 123.456789 },
  { field: 'test_string', offset: 12, type: { string: 8 }, value: 'TinyML01' },
];

export const TEST_PATTERN_SIZE = 16;

/** The pattern's registers in `order`. */
export function testPatternRegisters(order: WordOrder): number[] {
  const registers = new Array<number>(TEST_PATTERN_SIZE).fill(0);
  for (const f of TEST_PATTERN) {
    const encoded = encode(f.value, { type: f.type, order });
    for (let i = 0; i < registerCount(f.type); i++) registers[f.offset + i] = encoded[i]!;
  }
  return registers;
}
