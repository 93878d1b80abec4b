import type { DeviceConfig, WordOrder } from '../../config/schema.js';
/** What the register map reads of a device's config. */
type MappedDevice = Pick<DeviceConfig, 'id' | 'labels'>;
import type { DeviceState } from '../../state/device-state.js';
import { encode, typeName, type ValueType } from './register-codec.js';
import { TEST_PATTERN, TEST_PATTERN_SIZE, testPatternRegisters } from './test-pattern.js';

export type RegisterTable = 'input_register' | 'holding_register' | 'discrete_input';

export interface FieldContext {
  device: DeviceState | undefined;
  online: boolean;
  nowMs: number;
}

interface FieldSpec {
  field: string;
  offset: number;
  type: 'float32' | 'uint16' | 'uint32';
  read: (c: FieldContext, labels: string[]) => number;
  description: string;
}

export const BLOCK_SIZE = 16;
const UNKNOWN16 = 0xffff;
const UNKNOWN32 = 0xffffffff;

/** One device's input-register block; offsets are relative to the device's base address. */
export const DEVICE_FIELDS: readonly FieldSpec[] = [
  {
    field: 'anomaly',
    offset: 0,
    type: 'float32',
    read: (c) => c.device?.anomaly ?? Number.NaN,
    description: 'anomaly score (NaN until known)',
  },
  {
    field: 'confidence',
    offset: 2,
    type: 'float32',
    read: (c) => c.device?.confidence ?? Number.NaN,
    description: 'score of the top label, 0..1 (NaN until known)',
  },
  {
    field: 'label_index',
    offset: 4,
    type: 'uint16',
    read: (c, labels) => labelIndex(c.device?.label, labels),
    description: 'position of the label in the device labels list (65535: unknown)',
  },
  {
    field: 'model_version_major',
    offset: 5,
    type: 'uint16',
    read: (c) => versionPart(c.device, 0),
    description: 'model version, first number',
  },
  {
    field: 'model_version_minor',
    offset: 6,
    type: 'uint16',
    read: (c) => versionPart(c.device, 1),
    description: 'model version, second number',
  },
  {
    field: 'model_version_patch',
    offset: 7,
    type: 'uint16',
    read: (c) => versionPart(c.device, 2),
    description: 'model version, third number',
  },
  {
    field: 'seconds_since_last_seen',
    offset: 8,
    type: 'uint32',
    read: sinceLastSeen,
    description: 'seconds since the last event (4294967295: never)',
  },
  {
    field: 'seq',
    offset: 10,
    type: 'uint32',
    read: (c) => (c.device?.seq ?? 0) % 2 ** 32,
    description: 'last sequence counter, low 32 bits',
  },
  { field: 'alarm_count', offset: 12, type: 'uint16', read: (c) => c.device?.alarms.size ?? 0, description: 'alarms active on the device' },
  { field: 'online', offset: 13, type: 'uint16', read: (c) => (c.online ? 1 : 0), description: '1 while the device sends events' },
  {
    field: 'events_total',
    offset: 14,
    type: 'uint32',
    read: (c) => (c.device?.events ?? 0) % 2 ** 32,
    description: 'events accepted since start',
  },
];

export interface MapRow {
  device: string;
  field: string;
  table: RegisterTable;
  address: number;
  /** A register type (docs/modbus.md), or `bit`. */
  type: string;
  wordOrder: WordOrder | '';
  description: string;
}

export interface MapOptions {
  wordOrder: WordOrder;
  testPattern?: { enabled: boolean; address: number };
}

/**
 * The register map: device i (in config order) owns input registers [16·i, 16·i+16), discrete
 * input i (an alarm active) and discrete input n+i (an alarm not acknowledged), for n devices;
 * the test pattern sits at its own address in both register tables. Addresses depend only on the
 * config, never on arrival order.
 */
export class RegisterMap {
  readonly rows: MapRow[];
  readonly wordOrder: WordOrder;
  private readonly inputRegisterCount: number;
  private readonly pattern?: { address: number; registers: number[] };

  constructor(
    readonly devices: MappedDevice[],
    options: MapOptions,
  ) {
    const { wordOrder } = options;
    this.wordOrder = wordOrder;
    if (options.testPattern?.enabled) this.pattern = { address: options.testPattern.address, registers: testPatternRegisters(wordOrder) };
    this.inputRegisterCount = devices.length * BLOCK_SIZE;
    this.rows = devices.flatMap((d, i) => [
      ...DEVICE_FIELDS.map((f) => ({
        device: d.id,
        field: f.field,
        table: 'input_register' as const,
        address: i * BLOCK_SIZE + f.offset,
        type: f.type,
        wordOrder: orderOf(f.type, wordOrder),
        description: f.description,
      })),
      {
        device: d.id,
        field: 'alarm',
        table: 'discrete_input' as const,
        address: i,
        type: 'bit' as const,
        wordOrder: '' as const,
        description: 'any alarm active',
      },
      {
        device: d.id,
        field: 'alarm_unacked',
        table: 'discrete_input' as const,
        address: devices.length + i,
        type: 'bit' as const,
        wordOrder: '' as const,
        description: 'any alarm not acknowledged (active or not)',
      },
    ]);
    const pattern = this.pattern;
    if (pattern)
      for (const table of ['input_register', 'holding_register'] as const)
        for (const f of TEST_PATTERN)
          this.rows.push({
            device: '',
            field: f.field,
            table,
            address: pattern.address + f.offset,
            type: typeName(f.type),
            wordOrder: orderOf(f.type, wordOrder),
            description: `test pattern: reads ${JSON.stringify(f.value)}`,
          });
  }

  inputRegistersInRange(address: number, count: number): boolean {
    return (address >= 0 && count >= 1 && address + count <= this.inputRegisterCount) || this.holdingRegistersInRange(address, count);
  }

  /** Holding registers hold only the test pattern (for masters that read with function 03). */
  holdingRegistersInRange(address: number, count: number): boolean {
    const p = this.pattern;
    return p !== undefined && count >= 1 && address >= p.address && address + count <= p.address + TEST_PATTERN_SIZE;
  }

  readHoldingRegisters(address: number, count: number): number[] {
    const p = this.pattern;
    return p ? p.registers.slice(address - p.address, address - p.address + count) : [];
  }

  discreteInputsInRange(address: number, count: number): boolean {
    return address >= 0 && count >= 1 && address + count <= 2 * this.devices.length;
  }

  /** Discrete input `address`: the device it belongs to, and whether it is the unacknowledged bit. */
  discreteInput(address: number): { device: MappedDevice | undefined; unacked: boolean } {
    const n = this.devices.length;
    return { device: this.devices[address % n], unacked: address >= n };
  }

  /** Register values for [address, address+count), computing each touched device block once. */
  readInputRegisters(address: number, count: number, context: (id: string) => FieldContext): number[] {
    if (this.holdingRegistersInRange(address, count)) return this.readHoldingRegisters(address, count);
    const out = new Array<number>(count);
    let blockIndex = -1;
    let block: number[] = [];
    for (let i = 0; i < count; i++) {
      const a = address + i;
      const index = Math.floor(a / BLOCK_SIZE);
      if (index !== blockIndex) {
        const device = this.devices[index];
        block = device ? this.encodeBlock(device, context(device.id)) : [];
        blockIndex = index;
      }
      out[i] = block[a % BLOCK_SIZE] ?? 0;
    }
    return out;
  }

  encodeBlock(device: MappedDevice, c: FieldContext): number[] {
    const block = new Array<number>(BLOCK_SIZE).fill(0);
    for (const f of DEVICE_FIELDS) {
      const value = f.read(c, device.labels);
      encode(value, { type: f.type, order: this.wordOrder }).forEach((register, i) => (block[f.offset + i] = register));
    }
    return block;
  }

  toCsv(): string {
    const lines = [MAP_COLUMNS.join(',')];
    for (const r of this.rows) lines.push(cells(r).join(','));
    return lines.join('\n') + '\n';
  }

  toMarkdown(): string {
    const lines = [`| ${MAP_COLUMNS.join(' | ')} |`, `| ${MAP_COLUMNS.map(() => '---').join(' | ')} |`];
    for (const r of this.rows) lines.push(`| ${cells(r).join(' | ')} |`);
    return lines.join('\n') + '\n';
  }

  toJson(): string {
    return (
      JSON.stringify(
        this.rows.map((r) => ({ ...r, reference: reference(r.table, r.address) })),
        null,
        2,
      ) + '\n'
    );
  }
}

const MAP_COLUMNS = ['device', 'field', 'table', 'address', 'reference', 'type', 'word_order', 'description'] as const;

const cells = (r: MapRow): (string | number)[] => [
  r.device,
  r.field,
  r.table,
  r.address,
  reference(r.table, r.address),
  r.type,
  r.wordOrder,
  r.description.replaceAll(',', ';'),
];

const TABLE_PREFIX: Record<RegisterTable, number> = { discrete_input: 1, input_register: 3, holding_register: 4 };

/**
 * PLC notation of a 0-based address: 30001 + address for input registers, 40001 for holding
 * registers, 10001 for discrete inputs; six digits (300001 + address) past address 9998.
 */
export function reference(table: RegisterTable, address: number): string {
  const prefix = TABLE_PREFIX[table];
  return String(address <= 9998 ? prefix * 10_000 + address + 1 : prefix * 100_000 + address + 1);
}

/** The order that applies to a type: none for bits and 16-bit values (docs/modbus.md#byte-and-word-order). */
function orderOf(type: ValueType, order: WordOrder): WordOrder | '' {
  return type === 'uint16' || type === 'int16' ? '' : order;
}

function labelIndex(label: string | undefined, labels: string[]): number {
  const i = label === undefined ? -1 : labels.indexOf(label);
  return i < 0 ? UNKNOWN16 : i;
}

function versionPart(d: DeviceState | undefined, part: number): number {
  const m = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(d?.model?.version ?? '');
  return m ? Math.min(Number(m[part + 1] ?? 0), 0xffff) : 0;
}

function sinceLastSeen(c: FieldContext): number {
  const at = c.device?.lastSeenAt;
  return at === undefined ? UNKNOWN32 : Math.max(0, Math.floor((c.nowMs - at) / 1000));
}
