import type { ModbusTable } from '../../config/modbus-schema.js';
import type { Placed } from './address-space.js';
import { typeName } from '../../core/register-codec.js';

export const MAP_FORMATS = ['csv', 'md', 'json'] as const;
export type MapFormat = (typeof MAP_FORMATS)[number];

const COLUMNS = ['unit', 'device', 'field', 'table', 'address', 'reference', 'type', 'word_order', 'access', 'description'] as const;
type Row = Record<(typeof COLUMNS)[number], string | number>;

const TABLE_PREFIX: Record<ModbusTable, number> = { coil: 0, discrete_input: 1, input_register: 3, holding_register: 4 };

/**
 * PLC notation of a 0-based address: 00001, 10001, 30001 or 40001 + address by table, with six
 * digits (400001 + address) past address 9998.
 */
export function reference(table: ModbusTable, address: number): string {
  const prefix = TABLE_PREFIX[table];
  const n = address <= 9998 ? prefix * 10_000 + address + 1 : prefix * 100_000 + address + 1;
  return String(n).padStart(address <= 9998 ? 5 : 6, '0');
}

/** The order that applies: none for bits and 16-bit values (docs/modbus.md#byte-and-word-order). */
function orderOf(p: Placed): string {
  const type = p.encoding?.type;
  return type === undefined || type === 'uint16' || type === 'int16' ? '' : p.encoding!.order;
}

function row(p: Placed): Row {
  return {
    unit: p.unit,
    device: p.device ?? '',
    field: p.field,
    table: p.table,
    address: p.address,
    reference: reference(p.table, p.address),
    type: p.type === 'bit' ? 'bit' : typeName(p.type) + scaling(p),
    word_order: orderOf(p),
    access: p.writable ? 'read-write' : 'read',
    description: p.description,
  };
}

function scaling(p: Placed): string {
  const { scale, offset } = p.encoding ?? {};
  return scale === undefined && offset === undefined ? '' : ` ×${scale ?? 1}${offset ? ` +${offset}` : ''}`;
}

/** The map as CSV (0-based addresses), a Markdown table or JSON; rows by unit, table, address. */
export function formatMap(placed: readonly Placed[], format: MapFormat): string {
  const order: ModbusTable[] = ['input_register', 'holding_register', 'discrete_input', 'coil'];
  const rows = [...placed]
    .sort((a, b) => a.unit - b.unit || order.indexOf(a.table) - order.indexOf(b.table) || a.address - b.address)
    .map(row);
  if (format === 'json') return JSON.stringify(rows, null, 2) + '\n';
  if (format === 'md') {
    const lines = [`| ${COLUMNS.join(' | ')} |`, `| ${COLUMNS.map(() => '---').join(' | ')} |`];
    for (const r of rows) lines.push(`| ${COLUMNS.map((c) => String(r[c]).replaceAll('|', '\\|')).join(' | ')} |`);
    return lines.join('\n') + '\n';
  }
  const lines = [COLUMNS.join(',')];
  for (const r of rows) lines.push(COLUMNS.map((c) => String(r[c]).replaceAll(',', ';')).join(','));
  return lines.join('\n') + '\n';
}
