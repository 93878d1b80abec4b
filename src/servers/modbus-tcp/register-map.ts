import type { DeviceConfig, WordOrder } from '../../config/schema.js';
/** What the register map reads of a device's config. */
type MappedDevice = Pick<DeviceConfig, 'id' | 'labels'>;
import type { DeviceState } from '../../state/device-state.js';
import { float32Registers, uint32Registers } from './word-order.js';

export type RegisterTable = 'input_register' | 'discrete_input';
export type RegisterType = 'float32' | 'uint16' | 'uint32' | 'bit';

export interface FieldContext {
  device: DeviceState | undefined;
  online: boolean;
  nowMs: number;
}

interface FieldSpec {
  field: string;
  offset: number;
  type: Exclude<RegisterType, 'bit'>;
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
  type: RegisterType;
  wordOrder: WordOrder | '';
  description: string;
}

/**
 * The register map: device i (in config order) owns input registers [16·i, 16·i+16), discrete
 * input i (an alarm active) and discrete input n+i (an alarm not acknowledged), for n devices.
 * Addresses depend only on the config, never on arrival order.
 */
export class RegisterMap {
  readonly rows: MapRow[];
  private readonly inputRegisterCount: number;

  constructor(
    readonly devices: MappedDevice[],
    readonly wordOrder: WordOrder,
  ) {
    this.inputRegisterCount = devices.length * BLOCK_SIZE;
    this.rows = devices.flatMap((d, i) => [
      ...DEVICE_FIELDS.map((f) => ({
        device: d.id,
        field: f.field,
        table: 'input_register' as const,
        address: i * BLOCK_SIZE + f.offset,
        type: f.type,
        wordOrder: f.type === 'uint16' ? ('' as const) : wordOrder,
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
  }

  inputRegistersInRange(address: number, count: number): boolean {
    return address >= 0 && count >= 1 && address + count <= this.inputRegisterCount;
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
      if (f.type === 'uint16') block[f.offset] = value & 0xffff;
      else {
        const [w0, w1] = f.type === 'float32' ? float32Registers(value, this.wordOrder) : uint32Registers(value, this.wordOrder);
        block[f.offset] = w0;
        block[f.offset + 1] = w1;
      }
    }
    return block;
  }

  toCsv(): string {
    const lines = ['device,field,table,address,type,word_order'];
    for (const r of this.rows) lines.push([r.device, r.field, r.table, r.address, r.type, r.wordOrder].join(','));
    return lines.join('\n') + '\n';
  }
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
