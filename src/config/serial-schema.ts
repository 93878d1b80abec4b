import { z } from 'zod';
import { DEVICE_ID_PATTERN } from '../normalise/inference-event.js';

const deviceId = z.string().regex(DEVICE_ID_PATTERN, 'device id must match [A-Za-z0-9_.-]{1,64}');
const name = z.string().min(1).max(64);
const number = z.string().regex(/^\d{1,5}$/, 'a device or model number 0..65535');

const binaryNames = z.strictObject({
  devices: z.record(number, deviceId).default({}).describe('Device number in the frame → device id'),
  devicePrefix: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{0,58}$/)
    .default('mcu-')
    .describe('Id of a device number not listed: prefix + number'),
  models: z
    .record(
      number,
      z.strictObject({ name: name.describe('Model name'), labels: z.array(name).max(16).default([]).describe('Labels in score order') }),
    )
    .default({})
    .describe('Model number in the frame → name and label names; unknown numbers become model-<n>, class-<i>'),
});

export const serialPortSchema = z
  .strictObject({
    path: z.string().min(1).describe('Device path, e.g. /dev/ttyACM0 or /dev/serial/by-id/…'),
    baudRate: z.number().int().min(300).max(4_000_000).default(115200).describe('Baud rate'),
    framing: z
      .enum(['json-lines', 'edge-impulse', 'binary'])
      .describe(
        'json-lines: one InferenceEvent per line; edge-impulse: the firmware’s printed results; binary: COBS frames (docs/serial.md)',
      ),
    device: deviceId.optional().describe('Device id for everything on this port; required for edge-impulse, else taken from the frame'),
    model: z
      .strictObject({ name: name.describe('Model name'), version: name.default('0').describe('Model version') })
      .optional()
      .describe('edge-impulse: the model the firmware runs (its output does not say)'),
    binary: binaryNames.default({ devices: {}, devicePrefix: 'mcu-', models: {} }).describe('binary: how frame numbers map to names'),
    maxLineBytes: z.number().int().min(64).max(65536).default(4096).describe('Longer text lines are dropped as oversize'),
    idleFlushMs: z
      .number()
      .int()
      .min(10)
      .max(10_000)
      .default(200)
      .describe('edge-impulse: a result block is complete after this much silence'),
    reopenMaxMs: z.number().int().min(250).max(600_000).default(10_000).describe('Longest wait between attempts to reopen a lost port'),
  })
  .superRefine((p, ctx) => {
    if (p.framing !== 'edge-impulse') return;
    if (p.device === undefined) ctx.addIssue({ code: 'custom', path: ['device'], message: 'edge-impulse framing needs a device id' });
    if (p.model === undefined) ctx.addIssue({ code: 'custom', path: ['model'], message: 'edge-impulse framing needs the model name' });
  });

export type SerialPortConfig = z.output<typeof serialPortSchema>;

export const serialSchema = z
  .strictObject({
    ports: z
      .array(serialPortSchema)
      .default([])
      .superRefine((ports, ctx) => {
        const seen = new Set<string>();
        ports.forEach((p, i) => {
          if (seen.has(p.path)) ctx.addIssue({ code: 'custom', path: [i, 'path'], message: `port ${p.path} is listed twice` });
          seen.add(p.path);
        });
      })
      .describe('Serial ports MCUs print their results on'),
  })
  .default({ ports: [] });
