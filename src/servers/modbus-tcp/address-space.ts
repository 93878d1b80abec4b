import { fieldType, gatewayUnitId, type ModbusTable } from '../../config/modbus-schema.js';
import type { GatewayConfig } from '../../config/schema.js';
import type { Command, FieldContext } from './device-fields.js';
import { resolveField } from './device-fields.js';
import { layoutDevices, type DeviceLayout, type LaidOutDevice, type LayoutProblem, type ModbusLayoutConfig } from './layout.js';
import { decode, encode, registerCount, type Encoding, type ValueType } from '../../core/register-codec.js';
import { TEST_PATTERN } from './test-pattern.js';

/** One thing at an address range: a device field, a test pattern value or a rule's coil. */
export interface Placed {
  /** Undefined for the gateway's own addresses (test pattern, rule coils). */
  device?: string;
  unit: number;
  field: string;
  table: ModbusTable;
  address: number;
  size: number;
  type: ValueType | 'bit';
  encoding?: Encoding;
  writable: boolean;
  description: string;
  labels: readonly string[];
  read: (c: FieldContext, coilOn: (address: number) => boolean) => number | string;
  command?: Command;
}

/** What a read needs from outside: a device's context, and whether a rule holds a coil on. */
export interface ReadSource {
  context(device: string | undefined, labels: readonly string[]): FieldContext;
  coilOn(address: number): boolean;
}

/** A write's effect: commands to run, or the reason nothing was written. */
export type WriteResult =
  | { ok: true; commands: { device: string; command: Command; value: number }[] }
  | { ok: false; reason: 'unmapped' | 'read-only' };

/** An address inside a device's span: the field there, or nothing (reads 0). */
type Slot = { placed: Placed; word: number } | null;

/**
 * Every unit's four tables, built once from the config (and again on reload or rule change):
 * which field sits at which address, so a request costs one map lookup per address.
 */
export class AddressSpace {
  readonly placed: Placed[] = [];
  readonly problems: LayoutProblem[];
  private readonly units = new Map<number, Map<ModbusTable, Map<number, Slot>>>();
  private readonly gatewayUnit: number;

  constructor(config: ModbusLayoutConfig, devices: readonly LaidOutDevice[], ruleCoils: readonly { rule: string; address: number }[] = []) {
    const { layouts, problems } = layoutDevices(config, devices);
    this.problems = problems;
    const gatewayUnit = gatewayUnitId(config);
    this.gatewayUnit = gatewayUnit;
    this.unit(gatewayUnit);
    for (const layout of layouts) this.placeDevice(layout);
    if (config.testPattern.enabled) this.placePattern(gatewayUnit, config.testPattern.address, config.wordOrder);
    for (const { rule, address } of ruleCoils) {
      // A rule may take a coil a device block leaves unused, not one of its fields.
      if (this.unit(gatewayUnit).get('coil')!.get(address)) {
        this.problems.push({
          path: ['rules'],
          message: `rule ${rule}: coil ${address} belongs to a device map; the rule's action is not served`,
        });
        continue;
      }
      if (this.placed.some((p) => p.field === `rule:${rule}` && p.address === address)) continue;
      this.place({
        unit: gatewayUnit,
        field: `rule:${rule}`,
        table: 'coil',
        address,
        type: 'bit',
        writable: false,
        description: `on while rule ${rule} holds an alarm that drives it`,
        labels: [],
        read: (_c, coilOn) => (coilOn(address) ? 1 : 0),
      });
    }
  }

  /** The space of a config: device maps, test pattern, and the coils rule actions drive. */
  static fromConfig(config: Pick<GatewayConfig, 'modbus' | 'devices' | 'rules'>): AddressSpace {
    const coils = config.rules.flatMap((r) =>
      (r.outputs.actions ?? []).flatMap((a) => (a.modbusCoil === undefined ? [] : [{ rule: r.id, address: a.modbusCoil }])),
    );
    return new AddressSpace(config.modbus, config.devices, coils);
  }

  hasUnit(unit: number): boolean {
    return this.units.has(this.unitOf(unit));
  }

  /** 255 is Modbus TCP's "this server": the gateway's own unit, unless a device has it. */
  private unitOf(unit: number): number {
    return unit === 255 && !this.units.has(255) ? this.gatewayUnit : unit;
  }

  /** Register values, or undefined when any address of the range is not mapped (exception 02). */
  readRegisters(unit: number, table: ModbusTable, address: number, count: number, source: ReadSource): number[] | undefined {
    const slots = this.slots(unit, table, address, count);
    if (!slots) return undefined;
    const cache = new Map<Placed, number[]>();
    return slots.map((slot) => {
      if (!slot) return 0;
      let registers = cache.get(slot.placed);
      if (!registers) {
        registers = encodePlaced(slot.placed, source);
        cache.set(slot.placed, registers);
      }
      return registers[slot.word] ?? 0;
    });
  }

  readBits(unit: number, table: ModbusTable, address: number, count: number, source: ReadSource): boolean[] | undefined {
    const slots = this.slots(unit, table, address, count);
    return slots?.map((slot) => (slot ? truthy(valueOf(slot.placed, source)) : false));
  }

  /** A write of `values` from `address`: all of it lands on writable fields, or none of it is applied. */
  write(unit: number, table: ModbusTable, address: number, values: readonly number[]): WriteResult {
    const slots = this.slots(unit, table, address, values.length);
    if (!slots) return { ok: false, reason: 'unmapped' };
    if (slots.some((s) => !s?.placed.writable) || slots[0]!.word !== 0) return { ok: false, reason: 'read-only' };
    const commands: { device: string; command: Command; value: number }[] = [];
    for (let i = 0; i < slots.length; i++) {
      const { placed, word } = slots[i]!;
      if (word !== 0) continue;
      // A command of several registers acts on its whole value, in its order; half of one is refused.
      if (i + placed.size > slots.length) return { ok: false, reason: 'read-only' };
      const value = placed.encoding ? Number(decode(values.slice(i, i + placed.size), placed.encoding)) : (values[i] ?? 0);
      if (placed.command && placed.device !== undefined) commands.push({ device: placed.device, command: placed.command, value });
    }
    return { ok: true, commands };
  }

  private slots(unit: number, table: ModbusTable, address: number, count: number): Slot[] | undefined {
    const cells = this.units.get(this.unitOf(unit))?.get(table);
    if (!cells || count < 1) return undefined;
    const out: Slot[] = new Array<Slot>(count);
    for (let i = 0; i < count; i++) {
      const slot = cells.get(address + i);
      if (slot === undefined) return undefined;
      out[i] = slot;
    }
    return out;
  }

  private unit(unit: number): Map<ModbusTable, Map<number, Slot>> {
    let tables = this.units.get(unit);
    if (!tables) {
      tables = new Map([
        ['coil', new Map()],
        ['discrete_input', new Map()],
        ['input_register', new Map()],
        ['holding_register', new Map()],
      ]);
      this.units.set(unit, tables);
    }
    return tables;
  }

  private placeDevice(layout: DeviceLayout): void {
    const tables = this.unit(layout.unit);
    for (const [table, span] of Object.entries(layout.spans) as [ModbusTable, number][])
      for (let a = layout.base; a < layout.base + span; a++) tables.get(table)!.set(a, null);
    for (const f of layout.profile.fields) {
      const def = resolveField(f.field)!;
      const type = fieldType(f);
      this.place({
        device: layout.device.id,
        unit: layout.unit,
        field: f.field,
        table: f.table,
        address: layout.base + f.address,
        type,
        ...(type === 'bit' ? {} : { encoding: { type, order: layout.order, scale: f.scale, offset: f.offset } }),
        writable: f.writable,
        description: def.description,
        labels: layout.device.labels,
        read: (c) => def.read(c),
        ...(def.command ? { command: def.command } : {}),
      });
    }
  }

  private placePattern(unit: number, address: number, order: Encoding['order']): void {
    for (const table of ['input_register', 'holding_register'] as const)
      for (const f of TEST_PATTERN)
        this.place({
          unit,
          field: f.field,
          table,
          address: address + f.offset,
          type: f.type,
          encoding: { type: f.type, order },
          writable: false,
          description: `test pattern: reads ${JSON.stringify(f.value)}`,
          labels: [],
          read: () => f.value,
        });
  }

  private place(p: Omit<Placed, 'size'>): void {
    const size = p.type === 'bit' ? 1 : registerCount(p.type);
    const placed = { ...p, size };
    this.placed.push(placed);
    const cells = this.unit(p.unit).get(p.table)!;
    for (let word = 0; word < size; word++) cells.set(p.address + word, { placed, word });
  }
}

function valueOf(p: Placed, source: ReadSource): number | string {
  return p.read(source.context(p.device, p.labels), (a) => source.coilOn(a));
}

function encodePlaced(p: Placed, source: ReadSource): number[] {
  const value = valueOf(p, source);
  return p.encoding ? encode(value, p.encoding) : [truthy(value) ? 1 : 0];
}

const truthy = (v: number | string): boolean => (typeof v === 'number' ? v !== 0 && !Number.isNaN(v) : v.length > 0);
