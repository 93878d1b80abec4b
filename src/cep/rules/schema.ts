import { z } from 'zod';

const ruleId = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'rule id must match [A-Za-z0-9_.-]{1,64}');

/** anomaly ≥ threshold in `n` of the last `m` events raises; `clearAfter` consecutive events below clear. */
export const anomalyPersistenceRule = z
  .strictObject({
    id: ruleId,
    kind: z.literal('anomaly-persistence'),
    threshold: z.number().finite().nonnegative(),
    n: z.number().int().positive(),
    m: z.number().int().positive().max(1000),
    clearAfter: z.number().int().positive().max(1000),
    severity: z.number().int().min(1).max(1000).default(500),
    /** Device ids this rule applies to; omitted means every device. */
    devices: z.array(z.string().min(1)).optional(),
    message: z.string().max(256).optional(),
  })
  .refine((r) => r.n <= r.m, { message: 'n must not exceed m', path: ['n'] });

export const ruleSchema = anomalyPersistenceRule;
export type RuleConfig = z.output<typeof ruleSchema>;
