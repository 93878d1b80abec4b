import { z } from 'zod';
import { duration } from './duration.js';

const keyLimits = z.strictObject({
  maxKeys: z.number().int().positive().optional().describe('At most this many devices in the rule state'),
  overflow: z
    .enum(['evict-oldest', 'drop-new'])
    .default('evict-oldest')
    .describe('When full: forget the least recently seen device, or ignore new devices'),
  ttl: duration.optional().describe('Forget a device not seen for this long, e.g. 1h'),
});

const ruleId = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'rule id must match [A-Za-z0-9_.-]{1,64}');

/** anomaly ≥ threshold in `n` of the last `m` events raises; `clearAfter` consecutive events below clear. */
export const anomalyPersistenceRule = z
  .strictObject({
    id: ruleId.describe('Rule id: OPC UA node name, metric label, alarm key'),
    kind: z.literal('anomaly-persistence'),
    threshold: z.number().finite().nonnegative().describe('An event with anomaly ≥ threshold is a hit'),
    n: z.number().int().positive().describe('Hits needed …'),
    m: z.number().int().positive().max(1000).describe('… among the last m events of a device to raise'),
    clearAfter: z.number().int().positive().max(1000).describe('Consecutive events below the threshold that clear'),
    severity: z.number().int().min(1).max(1000).default(500).describe('OPC UA severity 1..1000'),
    devices: z.array(z.string().min(1)).optional().describe('Device ids the rule applies to (default: all)'),
    message: z.string().max(256).optional().describe('Alarm text (default: describes the condition)'),
    state: keyLimits.optional().describe('Bounds on the per-device state this rule keeps'),
  })
  .refine((r) => r.n <= r.m, { message: 'n must not exceed m', path: ['n'] });

export const ruleSchema = anomalyPersistenceRule;
export type RuleConfig = z.output<typeof ruleSchema>;
