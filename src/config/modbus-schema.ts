import { z } from 'zod';
import { resolveField, FIELD_NAMES } from '../servers/modbus-tcp/device-fields.js';
import { isInteger, NUMBER_TYPES, registerCount, type ValueType } from '../core/register-codec.js';
import { TEST_PATTERN_SIZE } from '../servers/modbus-tcp/test-pattern.js';

import { WORD_ORDERS } from '../core/register-codec.js';
export { WORD_ORDERS, type WordOrder } from '../core/register-codec.js';
export const MODBUS_TABLES = ['coil', 'discrete_input', 'input_register', 'holding_register'] as const;
export type ModbusTable = (typeof MODBUS_TABLES)[number];
export const BIT_TABLES: readonly ModbusTable[] = ['coil', 'discrete_input'];
/** Tables a Modbus master can write to. */
export const WRITABLE_TABLES: readonly ModbusTable[] = ['coil', 'holding_register'];
const STRING_TYPE = /^string\((\d{1,3})\)$/;

const isRegisterType = (t: string): boolean =>
  t === 'bit' || (NUMBER_TYPES as readonly string[]).includes(t) || stringLength(t) !== undefined;

const registerType = z.string().refine(isRegisterType, {
  message: `type must be one of ${NUMBER_TYPES.join(', ')}, string(n) with n 1..240, or bit`,
});

const mapField = z
  .strictObject({
    field: z
      .string()
      .min(1)
      .describe(`What the address shows: ${FIELD_NAMES.join(', ')} (docs/modbus.md#fields)`),
    table: z.enum(MODBUS_TABLES).describe('Modbus table'),
    address: z.number().int().min(0).max(65535).describe("0-based address, relative to the device's base"),
    type: registerType.optional().describe("int16, uint16, int32, uint32, float32, float64, string(n) or bit (default: the field's type)"),
    scale: z
      .number()
      .finite()
      .refine((s) => s !== 0, 'scale must not be 0')
      .optional()
      .describe('Integer types: value = raw × scale + offset'),
    offset: z.number().finite().optional().describe('Integer types: value = raw × scale + offset'),
    writable: z.boolean().default(false).describe('Commands only (ack, ack.<rule>, reset): a master may write it'),
  })
  .superRefine(checkField);

export type MapFieldConfig = z.output<typeof mapField>;

const profile = z
  .strictObject({
    wordOrder: z.enum(WORD_ORDERS).optional().describe('Byte and word order of this map (default: modbus.wordOrder)'),
    fields: z.array(mapField).min(1).superRefine(checkOverlaps).describe('Fields and where they go'),
  })
  .describe('A register map for devices');

export type ProfileConfig = z.output<typeof profile>;

export const deviceModbusSchema = z
  .strictObject({
    profile: z.string().min(1).default('default').describe('Register map of this device: a name under modbus.profiles, or `default`'),
    unitId: z.number().int().min(1).max(247).optional().describe('Unit id with modbus.unitIds `device` (default: position in devices + 1)'),
    base: z
      .number()
      .int()
      .min(0)
      .max(65535)
      .optional()
      .describe('First address of the device with modbus.unitIds `gateway` (default: position × modbus.blockSize)'),
  })
  .prefault({});

export const modbusServerSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe('Run the Modbus TCP server'),
    host: z.string().min(1).default('0.0.0.0').describe('Address the Modbus server listens on'),
    port: z.number().int().min(1).max(65535).default(5020).describe('Modbus TCP port (502 is allowed under the systemd unit)'),
    unitIds: z
      .enum(['gateway', 'device'])
      .default('gateway')
      .describe('gateway: every device on unitId at its own base address; device: each device on its own unit id from address 0'),
    unitId: z
      .number()
      .int()
      .min(0)
      .max(255)
      .optional()
      .describe(
        "The gateway's own unit (devices with unitIds `gateway`, test pattern, rule coils); default 1, or 255 with unitIds `device`",
      ),
    unknownUnit: z
      .enum(['ignore', 'exception'])
      .default('ignore')
      .describe('Requests to a unit id nobody has: no answer (the master times out), or exception 0B'),
    allow: z
      .array(z.union([z.ipv4(), z.ipv6(), z.cidrv4(), z.cidrv6()]))
      .default([])
      .describe('Client addresses or networks (CIDR) that may connect; empty: any'),
    maxConnections: z.number().int().min(1).max(1000).default(32).describe('Client connections at once; more are closed on arrival'),
    idleTimeoutMs: z.number().int().min(0).default(600_000).describe('A connection silent this long is closed (0: never)'),
    blockSize: z
      .number()
      .int()
      .min(1)
      .max(4096)
      .default(16)
      .describe('With unitIds `gateway`: addresses per device; device i starts at i × blockSize'),
    wordOrder: z.enum(WORD_ORDERS).default('ABCD').describe('Order of 32- and 64-bit values in registers; see docs/modbus.md'),
    profiles: z
      .record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/), profile)
      .default({})
      .describe('Register maps by name; `default` replaces the built-in one'),
    testPattern: z
      .strictObject({
        enabled: z.boolean().default(true).describe('Serve the test pattern: 16 registers of known values in this word order'),
        address: z
          .number()
          .int()
          .min(0)
          .max(65536 - TEST_PATTERN_SIZE)
          .default(9000)
          .describe("First register of the test pattern (input and holding registers of the gateway's unit); must not overlap a device"),
      })
      .prefault({}),
  })
  .prefault({});

export type ModbusServerConfig = z.output<typeof modbusServerSchema>;

/** The gateway's own unit id. */
export const gatewayUnitId = (m: Pick<ModbusServerConfig, 'unitId' | 'unitIds'>): number => m.unitId ?? (m.unitIds === 'device' ? 255 : 1);

/** A field's register type as the codec takes it, or 'bit'. */
export function fieldType(f: Pick<MapFieldConfig, 'field' | 'table' | 'type'>): ValueType | 'bit' {
  const type = f.type ?? (BIT_TABLES.includes(f.table) ? 'bit' : (resolveField(f.field)?.defaultType ?? 'uint16'));
  const length = stringLength(type);
  return length !== undefined ? { string: length } : (type as ValueType | 'bit');
}

/** Addresses a field takes in its table. */
export const fieldSize = (f: Pick<MapFieldConfig, 'field' | 'table' | 'type'>): number => {
  const type = fieldType(f);
  return type === 'bit' ? 1 : registerCount(type);
};

function stringLength(type: string): number | undefined {
  const m = STRING_TYPE.exec(type);
  const n = m ? Number(m[1]) : 0;
  return n >= 1 && n <= 240 ? n : undefined;
}

function checkField(f: MapFieldConfig, ctx: z.RefinementCtx): void {
  const issue = (path: string, message: string): void => ctx.addIssue({ code: 'custom', path: [path], message });
  const def = resolveField(f.field);
  if (!def) return issue('field', `unknown field '${f.field}'; fields are ${FIELD_NAMES.join(', ')}`);
  const type = fieldType(f);
  const bitTable = BIT_TABLES.includes(f.table);
  if (bitTable && type !== 'bit') return issue('type', `${f.table} holds bits: type must be bit (or left out)`);
  if (!bitTable && type === 'bit') return issue('type', `${f.table} holds registers: bit goes in coil or discrete_input`);
  if (bitTable && (def.kind === 'number' || def.kind === 'text'))
    return issue('table', `${f.field} is a ${def.kind}: put it in input_register or holding_register`);
  const integer = isInteger(type);
  if (def.kind === 'text' && typeof type !== 'object') return issue('type', `${f.field} is text: type must be string(n)`);
  if (def.kind !== 'text' && typeof type === 'object')
    return issue('type', `${f.field} is not text: string(n) is for label, model_name, model_version`);
  if ((def.kind === 'flag' || def.kind === 'command') && !bitTable && !integer)
    return issue('type', `${f.field} is 0 or 1: use an integer type or bit`);
  if ((f.scale !== undefined || f.offset !== undefined) && !integer) return issue('scale', 'scale and offset apply to integer types only');
  if (def.kind === 'command') {
    if (!WRITABLE_TABLES.includes(f.table)) return issue('table', `${f.field} is a command: put it in coil or holding_register`);
    if (!f.writable) return issue('writable', `${f.field} is a command: mark it writable: true`);
  } else if (f.writable) {
    return issue('writable', `${f.field} is read-only: only ack, ack.<rule> and reset can be writable`);
  }
}

function checkOverlaps(fields: MapFieldConfig[], ctx: z.RefinementCtx): void {
  const taken = new Map<string, number>();
  fields.forEach((f, i) => {
    // Zod runs this even when a field failed its own checks.
    if (!resolveField(f.field) || (f.type !== undefined && !isRegisterType(f.type))) return;
    for (let a = f.address; a < f.address + fieldSize(f); a++) {
      const key = `${f.table}:${a}`;
      const other = taken.get(key);
      if (other !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [i, 'address'],
          message: `${f.table} ${a} is already taken by fields[${other}] (${fields[other]?.field})`,
        });
        return;
      }
      taken.set(key, i);
    }
  });
}
