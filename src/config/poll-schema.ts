import { z } from 'zod';
import { DEVICE_ID_PATTERN } from '../normalise/inference-event.js';
import { isInteger, NUMBER_TYPES, WORD_ORDERS } from '../core/register-codec.js';
import { profileBlock } from '../normalise/decode-registers.js';

const register = (defaultType: (typeof NUMBER_TYPES)[number], what: string) =>
  z
    .strictObject({
      address: z.number().int().min(0).max(65535).describe(`0-based address of ${what}`),
      type: z.enum(NUMBER_TYPES).default(defaultType).describe('Register type'),
      scale: z.number().finite().optional().describe('Integer types: value = raw × scale + offset'),
      offset: z.number().finite().optional().describe('Integer types: value = raw × scale + offset'),
    })
    .refine((r) => (r.scale === undefined && r.offset === undefined) || isInteger(r.type), {
      message: 'scale and offset apply to integer types only',
      path: ['scale'],
    });

export type RegisterSpec = z.output<ReturnType<typeof register>>;

/** Where an MCU keeps its newest inference result, as registers. */
const pollProfile = z
  .strictObject({
    table: z.enum(['holding_register', 'input_register']).default('holding_register').describe('Table the result is read from'),
    wordOrder: z.enum(WORD_ORDERS).default('ABCD').describe('Byte and word order of 32- and 64-bit values'),
    model: z
      .strictObject({
        name: z.string().min(1).max(64).describe('Model name the events carry'),
        version: z.string().min(1).max(64).default('0').describe('Model version when no modelVersion registers are given'),
      })
      .describe('The model the MCU runs'),
    labels: z.array(z.string().min(1).max(64)).min(1).max(64).describe('Class labels in label-index order'),
    seq: register('uint16', 'the sequence counter').describe('Sequence counter: a new value is a new inference'),
    labelIndex: register('uint16', 'the predicted label index').optional().describe('Predicted label, as a position in labels'),
    anomaly: register('float32', 'the anomaly score').optional().describe('Anomaly score'),
    scores: register('uint16', 'the first class score')
      .optional()
      .describe('One score per label from this address on, consecutive, each of this type (e.g. uint16 with scale 0.0001)'),
    modelVersion: z
      .strictObject({ address: z.number().int().min(0).max(65535).describe('0-based address of three uint16: major, minor, patch') })
      .optional()
      .describe('Model version read from registers'),
  })
  .refine((p) => p.labelIndex !== undefined || p.anomaly !== undefined || p.scores !== undefined, {
    message: 'a profile needs at least one of labelIndex, anomaly, scores',
    path: ['seq'],
  })
  .superRefine((p, ctx) => {
    const { start, count } = profileBlock(p);
    if (count > 125 || start + count > 65536)
      ctx.addIssue({
        code: 'custom',
        path: ['seq'],
        message: `the profile spans registers ${start}..${start + count - 1}: one read holds at most 125 registers below 65536`,
      });
  });

export type PollProfile = z.output<typeof pollProfile>;

const bus = z
  .strictObject({
    name: z.string().regex(DEVICE_ID_PATTERN).describe('Name of the bus in logs and metrics'),
    rtu: z
      .strictObject({
        path: z.string().min(1).describe('Serial device, e.g. /dev/ttyUSB0 or /dev/serial/by-id/…'),
        baudRate: z.number().int().positive().default(19200).describe('Baud rate'),
        parity: z.enum(['none', 'even', 'odd']).default('even').describe('Parity (Modbus RTU default: even)'),
        dataBits: z
          .union([z.literal(7), z.literal(8)])
          .default(8)
          .describe('Data bits'),
        stopBits: z
          .union([z.literal(1), z.literal(2)])
          .default(1)
          .describe('Stop bits'),
      })
      .optional()
      .describe('Modbus RTU over a serial port (RS-485)'),
    tcp: z
      .strictObject({
        host: z.string().min(1).describe('Host of the Modbus TCP slave or RTU-over-TCP converter'),
        port: z.number().int().min(1).max(65535).default(502).describe('Port'),
      })
      .optional()
      .describe('Modbus TCP'),
    intervalMs: z.number().int().min(10).max(3_600_000).default(1000).describe('Each device is polled once per interval'),
    timeoutMs: z.number().int().min(10).max(60_000).default(300).describe('A device that has not answered in this time missed the poll'),
    offlineAfterMisses: z.number().int().min(1).default(3).describe('Misses in a row after which the device is Online=false'),
    backoffMaxMs: z
      .number()
      .int()
      .min(10)
      .max(3_600_000)
      .default(30_000)
      .describe('An offline device is retried at growing intervals up to this, so it does not slow the others'),
    devices: z
      .array(
        z.strictObject({
          id: z.string().regex(DEVICE_ID_PATTERN, 'device id must match [A-Za-z0-9_.-]{1,64}').describe('Device id of the events'),
          unitId: z.number().int().min(1).max(247).describe('Modbus slave address'),
          profile: z.string().min(1).describe('Name under modbusPoll.profiles'),
        }),
      )
      .min(1)
      .describe('Devices on this bus, polled in turn'),
  })
  .refine((b) => (b.rtu === undefined) !== (b.tcp === undefined), { message: 'a bus has either rtu or tcp', path: ['rtu'] });

export type PollBus = z.output<typeof bus>;

export const modbusPollSchema = z
  .strictObject({
    profiles: z
      .record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/), pollProfile)
      .default({})
      .describe('Register layouts of MCU results by name'),
    buses: z.array(bus).default([]).describe('Serial or TCP buses to poll'),
  })
  .prefault({})
  .superRefine((p, ctx) => {
    const ids = new Set<string>();
    p.buses.forEach((b, i) =>
      b.devices.forEach((d, j) => {
        const at = ['buses', i, 'devices', j];
        if (!p.profiles[d.profile])
          ctx.addIssue({ code: 'custom', path: [...at, 'profile'], message: `no profile '${d.profile}' under modbusPoll.profiles` });
        if (ids.has(d.id)) ctx.addIssue({ code: 'custom', path: [...at, 'id'], message: `device ${d.id} is polled twice` });
        if (b.devices.some((o, k) => k < j && o.unitId === d.unitId))
          ctx.addIssue({ code: 'custom', path: [...at, 'unitId'], message: `unit id ${d.unitId} is used twice on bus ${b.name}` });
        ids.add(d.id);
      }),
    );
  });

export type ModbusPollConfig = z.output<typeof modbusPollSchema>;
