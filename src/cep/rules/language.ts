import { z } from 'zod';
import { duration } from './duration.js';

const field = z.string().min(1).max(128);

/**
 * A value read from the events an earlier step of the pattern took (or this looping step so far):
 * the last one's field by default, or an aggregate of them; `plus` and `times` shift and scale it.
 */
export interface StepRef {
  step: string;
  field?: string;
  of?: 'first' | 'last' | 'avg' | 'min' | 'max' | 'sum' | 'count';
  plus?: number;
  times?: number;
}

export interface Predicate {
  field?: string;
  gt?: number | StepRef;
  gte?: number | StepRef;
  lt?: number | StepRef;
  lte?: number | StepRef;
  eq?: number | string | StepRef;
  ne?: number | string | StepRef;
  in?: (number | string)[];
  exists?: boolean;
  any?: Predicate[];
  all?: Predicate[];
  not?: Predicate;
}

const COMPARISONS = ['gt', 'gte', 'lt', 'lte', 'eq', 'ne', 'in', 'exists'] as const;
const scalar = z.union([z.number(), z.string()]);
export const STEP_AGGREGATES = ['first', 'last', 'avg', 'min', 'max', 'sum', 'count'] as const;
const stepRef = z
  .strictObject({
    step: z.string().min(1).max(64).describe('An earlier step of the pattern (or this looping step so far)'),
    field: field.optional().describe("Field of the step's events (not needed for count)"),
    of: z.enum(STEP_AGGREGATES).default('last').describe("Which of the step's events, or an aggregate of them"),
    plus: z.number().optional().describe('Added to the value'),
    times: z.number().optional().describe('The value multiplied by this (before plus)'),
  })
  .refine((r) => r.of === 'count' || r.field !== undefined, {
    message: 'a step reference needs `field` (unless of: count)',
    path: ['field'],
  });
const bound = z.union([z.number(), stepRef]);

/** A condition on one event: a comparison on a field, or any/all/not of conditions. */
export const predicate: z.ZodType<Predicate> = z.lazy(() =>
  z
    .strictObject({
      field: field.optional().describe('Field compared'),
      gt: bound.optional(),
      gte: bound.optional(),
      lt: bound.optional(),
      lte: bound.optional(),
      eq: z.union([scalar, stepRef]).optional(),
      ne: z.union([scalar, stepRef]).optional(),
      in: z.array(scalar).optional(),
      exists: z.boolean().optional(),
      any: z.array(predicate).min(1).optional().describe('True when one of these is (or)'),
      all: z.array(predicate).min(1).optional().describe('True when all of these are (and)'),
      not: predicate.optional().describe('True when this is not'),
    })
    .superRefine((p, ctx) => {
      const comparisons = COMPARISONS.filter((k) => p[k] !== undefined);
      const logical = (['any', 'all', 'not'] as const).filter((k) => p[k] !== undefined);
      if (logical.length + (p.field !== undefined ? 1 : 0) !== 1) {
        ctx.addIssue({ code: 'custom', message: 'a condition is either `field` with comparisons, or one of any/all/not' });
      } else if (p.field !== undefined && comparisons.length === 0) {
        ctx.addIssue({ code: 'custom', message: `compare the field with one of ${COMPARISONS.join(', ')}`, path: ['field'] });
      } else if (p.field === undefined && comparisons.length > 0) {
        ctx.addIssue({ code: 'custom', message: 'a comparison needs `field`', path: [comparisons[0]!] });
      }
    }),
);

export const AGGREGATES = [
  'count',
  'sum',
  'avg',
  'min',
  'max',
  'stddev',
  'rate',
  'delta',
  'distinct',
  'histogram',
  'ewma',
  'p50',
  'p90',
  'p95',
  'p99',
] as const;
export type AggregateName = (typeof AGGREGATES)[number];

const windowStage = z
  .strictObject({
    type: z.enum(['tumbling', 'sliding', 'session', 'count', 'time-or-count']).describe('Window kind'),
    size: duration.optional().describe('Length (tumbling, sliding, time-or-count)'),
    slide: duration.optional().describe('Hop of a sliding window'),
    gap: duration.optional().describe('Silence that ends a session'),
    count: z.number().int().positive().max(100_000).optional().describe('Events per count / time-or-count window'),
    field: field.default('anomaly').describe('Value aggregated'),
    aggregates: z.array(z.enum(AGGREGATES)).min(1).default(['avg']).describe('Results, each a field of the output row'),
    ewmaAlpha: z.number().gt(0).max(1).default(0.3).describe('Smoothing of `ewma`'),
    emit: z.enum(['close', 'update']).default('close').describe('Emit when the window closes, or after every event too'),
    outOfOrder: duration.optional().describe('Watermark delay: how late events may arrive (event time)'),
    lateness: duration.optional().describe('A window stays open this long past the watermark'),
    idle: duration.optional().describe('Close the windows of a key silent this long'),
  })
  .superRefine((w, ctx) => {
    const need = (key: 'size' | 'slide' | 'gap' | 'count'): void => {
      if (w[key] === undefined) ctx.addIssue({ code: 'custom', message: `a ${w.type} window needs \`${key}\``, path: [key] });
    };
    if (w.type === 'tumbling' || w.type === 'sliding' || w.type === 'time-or-count') need('size');
    if (w.type === 'sliding') need('slide');
    if (w.type === 'session') need('gap');
    if (w.type === 'count' || w.type === 'time-or-count') need('count');
    if (w.type === 'sliding' && w.slide !== undefined && w.size !== undefined && w.slide > w.size) {
      ctx.addIssue({ code: 'custom', message: 'slide must not exceed size', path: ['slide'] });
    }
  });

const eventFilter = z.strictObject({
  devices: z.array(z.string().min(1)).min(1).optional().describe('Only these device ids'),
  models: z.array(z.string().min(1)).min(1).optional().describe('Only these model names'),
  labels: z.array(z.string().min(1)).min(1).optional().describe('Only events with one of these labels'),
  where: predicate.optional().describe('Only events for which this condition holds'),
});
export type EventFilter = z.output<typeof eventFilter>;

const stepCount = z.number().int().positive().max(1000);
const patternStepFields = z.strictObject({
  name: z.string().min(1).max(64).describe('Step name, a key of the match'),
  where: predicate.describe('Events this step takes (with `not`: events that must not come)'),
  after: z
    .enum(['next', 'followedBy', 'followedByAny'])
    .optional()
    .describe(
      "How the step's first event follows the previous step: strictly next, the first match after, or any match after (default: the pattern's contiguity)",
    ),
  times: z
    .union([stepCount, z.tuple([stepCount, stepCount])])
    .optional()
    .describe('Exactly this many events, or [least, most]'),
  timesOrMore: stepCount.optional().describe('At least this many events'),
  oneOrMore: z.boolean().optional().describe('One or more events'),
  optional: z.boolean().optional().describe('The step may take no event at all'),
  greedy: z.boolean().optional().describe('A looping step keeps every event it can take rather than letting the next step have it'),
  loop: z
    .enum(['relaxed', 'consecutive', 'combinations'])
    .optional()
    .describe("Between a looping step's events: skip others (default), fail on others, or also every combination"),
  until: predicate.optional().describe('A looping step takes no more events from the first one for which this holds'),
  not: z
    .boolean()
    .optional()
    .describe('A negative step: no event matching `where` right after the previous step (after: next) or before the next step'),
  within: duration.optional().describe("The step's first event at most this long after the previous step's last"),
  from: eventFilter
    .optional()
    .describe('The step takes only events of these devices, models or labels (its own input), e.g. the presence sensor of a line'),
});
const patternStep = patternStepFields.superRefine((s, ctx) => {
  const quantifiers = (['times', 'timesOrMore', 'oneOrMore'] as const).filter((k) => s[k] !== undefined && s[k] !== false);
  if (quantifiers.length > 1) ctx.addIssue({ code: 'custom', message: `give one of ${quantifiers.join(', ')}`, path: [quantifiers[1]!] });
  if (Array.isArray(s.times) && s.times[1] < s.times[0])
    ctx.addIssue({ code: 'custom', message: 'times: [least, most] needs most ≥ least', path: ['times'] });
  const looping = quantifiers.length > 0;
  for (const k of ['greedy', 'loop', 'until'] as const)
    if (s[k] !== undefined && !looping)
      ctx.addIssue({ code: 'custom', message: `${k} needs a looping step (times, timesOrMore, oneOrMore)`, path: [k] });
  if (s.not && (looping || s.optional))
    ctx.addIssue({ code: 'custom', message: 'a negative step takes no quantifier and is not optional', path: ['not'] });
});
export type PatternStepConfig = z.output<typeof patternStep>;
const patternItem = z.union([patternStep, z.strictObject({ seq: z.array(patternStep).min(1).describe('A sub-sequence: steps in order') })]);
export type PatternItemConfig = z.output<typeof patternItem>;

/**
 * The sequences of a pattern, each with the YAML path of its k-th step below `pattern`: `seq` is
 * one; each item of `and` or `or` is one (a step alone, or a sub-sequence).
 */
export function patternSequences(
  p: NonNullable<Stage['pattern']>,
): { steps: PatternStepConfig[]; stepAt: (k: number) => (string | number)[]; alone: boolean }[] {
  if (p.seq) return [{ steps: p.seq, stepAt: (k) => ['seq', k], alone: false }];
  const kind = p.and ? 'and' : 'or';
  return (p.and ?? p.or ?? []).map((item, i) =>
    'seq' in item
      ? { steps: item.seq, stepAt: (k) => [kind, i, 'seq', k], alone: false }
      : { steps: [item], stepAt: () => [kind, i], alone: true },
  );
}

export const NO_OPERATOR = 'a stage needs an operator';

const stageSchema = z
  .strictObject({
    filter: predicate.optional().describe('Keep rows for which the condition holds'),
    dedupe: z
      .strictObject({
        by: field.default('seq').describe('Field that identifies a repeat'),
        within: duration.default(60_000).describe('How long an id is remembered'),
        maxIds: z.number().int().positive().max(10_000_000).default(100_000),
      })
      .optional()
      .describe('Drop repeats of the same key and id'),
    debounce: z.strictObject({ quiet: duration.describe('Pass the last row of a burst after this quiet time') }).optional(),
    window: windowStage.optional().describe('Keyed window with aggregates'),
    trend: z
      .strictObject({
        field: field.default('anomaly'),
        points: z.number().int().min(2).max(10_000).default(20).describe('Least-squares fit over the last N points'),
        threshold: z.number().optional().describe('Adds `rul`: seconds until the fitted line reaches this'),
      })
      .optional()
      .describe('Adds `slope` (per second), `fitted` and `rul`'),
    join: z
      .strictObject({
        with: eventFilter.describe('The other stream: events matching this'),
        on: field.default('device').describe('Field of the other stream that matches `by`'),
        by: field.optional().describe("Field of this rule's rows that matches `on` (default: the rule key), e.g. line"),
        within: duration
          .optional()
          .describe("Interval join: pairs at most this far apart, emitted at the later one's time; without it, the latest value"),
        outOfOrder: duration
          .default(0)
          .describe('Interval join: how far behind the newest event of a key an event may still arrive and be paired'),
        fields: z.array(field).min(1).describe('Fields of the other event to add'),
        as: z
          .string()
          .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
          .default('other')
          .describe('Prefix of the added fields'),
      })
      .optional(),
    persistence: z
      .strictObject({
        field: field.default('anomaly'),
        atLeast: z.number().describe('A value ≥ this is a hit'),
        n: z.number().int().positive().describe('Hits needed …'),
        m: z.number().int().positive().max(1000).describe('… among the last m rows to raise'),
        clearAfter: z.number().int().positive().max(1000).describe('Consecutive rows below that clear'),
      })
      .refine((p) => p.n <= p.m, { message: 'n must not exceed m', path: ['n'] })
      .optional(),
    threshold: z
      .strictObject({
        field: field.default('anomaly'),
        above: z.number().optional().describe('Raise at or above …'),
        clearBelow: z.number().optional().describe('… clear at or below'),
        below: z.number().optional().describe('Raise at or below …'),
        clearAbove: z.number().optional().describe('… clear at or above'),
      })
      .superRefine((h, ctx) => {
        const up = h.above !== undefined && h.clearBelow !== undefined && h.clearBelow < h.above;
        const down = h.below !== undefined && h.clearAbove !== undefined && h.clearAbove > h.below;
        // One direction, complete, and no key of the other: the planner picks the direction by `above` alone.
        const upKeys = h.above !== undefined || h.clearBelow !== undefined;
        const downKeys = h.below !== undefined || h.clearAbove !== undefined;
        if (up === down || upKeys === downKeys)
          ctx.addIssue({ code: 'custom', message: 'give above with clearBelow < above, or below with clearAbove > below' });
      })
      .optional(),
    absence: z.strictObject({ timeout: duration.describe('Raise when a key sends nothing for this long') }).optional(),
    drift: z
      .strictObject({
        field: field.default('confidence'),
        method: z.enum(['page-hinkley', 'cusum']).default('page-hinkley'),
        direction: z.enum(['up', 'down']).default('down').describe('Detect a rise or a fall of the mean'),
        delta: z.number().nonnegative().default(0.005).describe('Page-Hinkley: change tolerated'),
        lambda: z.number().positive().default(1).describe('Page-Hinkley: detection threshold'),
        minPoints: z.number().int().positive().default(30),
        slack: z.number().nonnegative().default(0.01).describe('CUSUM: drift per point ignored'),
        limit: z.number().positive().default(1).describe('CUSUM: decision threshold'),
        warmup: z.number().int().positive().default(20).describe('CUSUM: points that set the in-control mean'),
      })
      .optional(),
    pattern: z
      .strictObject({
        seq: z.array(patternStep).min(1).optional().describe('Steps in order'),
        and: z.array(patternItem).min(2).max(4).optional().describe('Steps or sub-sequences, each once, in any order (at most 4)'),
        or: z.array(patternItem).min(2).max(16).optional().describe('Any one of these steps or sub-sequences'),
        within: duration.describe('The whole match within this time'),
        contiguity: z
          .enum(['relaxed', 'strict'])
          .default('relaxed')
          .describe('Default `after` of the steps: followedBy (skip non-matching events) or next (fail on them)'),
        skip: z
          .union([
            z.enum(['noSkip', 'skipToNext', 'skipPastLastEvent']),
            z.strictObject({ skipToFirst: z.string().min(1).describe('Step name') }),
            z.strictObject({ skipToLast: z.string().min(1).describe('Step name') }),
          ])
          .default('skipPastLastEvent')
          .describe(
            'After a match, which partial matches go: none, those that began with its first event, all that began inside it, or up to a step',
          ),
        maxPartials: z
          .number()
          .int()
          .positive()
          .max(100_000)
          .default(1000)
          .describe('Partial matches kept per key; past it the oldest go (counted)'),
        emit: z.enum(['match', 'timeout', 'both']).default('both').describe('Matches, timed-out partial matches, or both'),
        matched: z
          .strictObject({
            fields: z.array(field).min(1).max(16).default(['device', 'ts']).describe('Fields of each matched event'),
            max: z.number().int().min(0).max(100).default(10).describe("At most this many of each step's events (its first ones)"),
          })
          .prefault({})
          .describe('The matched events in the output: `<step>.count` and `<step>.<i>.<field>`, e.g. `{clogged.0.device}`'),
      })
      .refine((p) => [p.seq, p.and, p.or].filter((x) => x !== undefined).length === 1, { message: 'give exactly one of seq, and, or' })
      .optional(),
    notFollowedBy: z
      .strictObject({
        first: predicate.describe('The event that starts the wait'),
        then: predicate.describe('The event expected in time'),
        within: duration,
      })
      .optional()
      .describe('Raise when `then` does not follow `first` within the time; clear when it comes'),
    mismatch: z
      .strictObject({
        field: field.default('model.version'),
        group: field.default('model.name').describe('Members of a group should agree'),
      })
      .optional()
      .describe("Raise on every device whose value differs from its group's majority"),
  })
  .superRefine((s, ctx) => {
    const given = Object.keys(s).filter((k) => s[k as keyof typeof s] !== undefined);
    if (given.length > 1) ctx.addIssue({ code: 'custom', message: `a stage has exactly one operator, found ${given.join(', ')}` });
    if (given.length === 0) ctx.addIssue({ code: 'custom', message: NO_OPERATOR });
  });
export type Stage = z.output<typeof stageSchema>;
export const STAGE_NAMES = Object.keys(stageSchema.shape) as (keyof Stage)[];

/** Stages that end a pipeline: they decide, the stages before them shape the rows. */
export const DETECTORS = ['persistence', 'threshold', 'absence', 'drift', 'pattern', 'notFollowedBy', 'mismatch'] as const;
/** Detectors that emit one-off signals rather than raised/cleared levels. */
export const PULSES = ['drift', 'pattern'] as const;

const action = z.strictObject({
  on: z.enum(['raised', 'cleared', 'event', 'any']).default('raised').describe('Which signals trigger it'),
  mqtt: z
    .strictObject({
      topic: z.string().min(1).describe('Topic; placeholders allowed, e.g. plant/{device}/stop'),
      payload: z.string().optional().describe('Payload template; default: the signal as JSON'),
    })
    .optional(),
  modbusCoil: z.number().int().min(0).max(65_535).optional().describe('Coil set while the alarm is raised (read with FC01)'),
});

export const ruleId = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'rule id must match [A-Za-z0-9_.-]{1,64}');

export const keyLimits = z.strictObject({
  maxKeys: z.number().int().positive().optional().describe('At most this many keys in the rule state'),
  overflow: z
    .enum(['evict-oldest', 'drop-new'])
    .default('evict-oldest')
    .describe('When full: forget the least recently seen key, or ignore new keys'),
  ttl: duration.optional().describe('Forget a key not seen for this long, e.g. 1h'),
});

export const ruleSchema = z.strictObject({
  id: ruleId.describe('Rule id: OPC UA node name, metric label, alarm key'),
  description: z.string().max(1024).optional(),
  input: eventFilter.prefault({}).describe('Events the rule sees (default: all)'),
  key: field
    .default('device')
    .describe(
      'Field whose value partitions the state: any event field, a device attribute (line, cell, site, group, tags.<name>), or none for one state',
    ),
  time: z.enum(['event', 'processing']).default('event').describe("Event time (the MCU's ts) or the gateway's clock"),
  state: keyLimits.optional().describe('Bounds on the keyed state'),
  pipeline: z.array(stageSchema).min(1).describe('Operators, in order; a detector may only come last'),
  outputs: z
    .strictObject({
      alarm: z
        .strictObject({
          severity: z.number().int().min(1).max(1000).default(500).describe('OPC UA severity 1..1000'),
          message: z.string().max(256).optional().describe('Template, e.g. "{device}: anomaly {value:2}"'),
          clearAfter: duration.optional().describe('Clear a one-off alarm (drift, pattern) after this long'),
        })
        .optional(),
      derived: z
        .strictObject({
          name: z
            .string()
            .regex(/^[A-Za-z0-9_.-]{1,64}$/)
            .optional()
            .describe('Event name (default: the rule id)'),
          fields: z.array(field).optional().describe('Fields to include (default: all computed ones)'),
        })
        .optional()
        .describe('Publish each signal as a derived event (MQTT, InfluxDB `derived`)'),
      actions: z.array(action).optional(),
    })
    .refine((o) => o.alarm !== undefined || o.derived !== undefined || (o.actions?.length ?? 0) > 0, {
      message: 'a rule needs at least one output: alarm, derived or actions',
    }),
});

export type RuleSpec = z.output<typeof ruleSchema>;
export type RuleInput = z.input<typeof ruleSchema>;
