import { eventFieldType, isAttribute, type FieldType } from './row.js';
import { DETECTORS, patternSequences, PULSES, ruleSchema, type Predicate, type RuleSpec, type Stage } from './language.js';

export interface RuleProblem {
  path: (string | number)[];
  message: string;
}

/** Fields that exist at one point of a pipeline: computed ones, and the event's while rows are events. */
class Scope {
  constructor(
    readonly computed = new Map<string, FieldType>(),
    readonly hasEvent = true,
  ) {}

  typeOf(path: string): FieldType | undefined {
    if (path === 'device') return 'string';
    if (path === 'ts') return 'number';
    const computed = this.computed.get(path) ?? this.computed.get(`${path.split('.')[0]}.*`);
    // Attributes come from the device's config entry, so they stay after a window too.
    return computed ?? (this.hasEvent ? eventFieldType(path) : isAttribute(path) ? 'string' : undefined);
  }

  names(): string[] {
    return [
      'device',
      'ts',
      ...this.computed.keys(),
      ...(this.hasEvent ? ['anomaly', 'confidence', 'label', 'model.version'] : []),
      'line',
      'tags.<name>',
      '…',
    ];
  }
}

export const TEMPLATE_WORDS = ['rule', 'device', 'key', 'state', 'value', 'ts', 'time'];
const PLACEHOLDER = /\{([A-Za-z0-9_.*-]+)(?::\d)?\}/g;

/**
 * Everything about a rule that its schema alone cannot see: fields that do not exist (in the
 * event schema, or among the rows a stage before computes), text fields used as numbers, a
 * detector that is not last, outputs that do not fit the detector, unknown template placeholders.
 */
export function checkRule(rule: RuleSpec): RuleProblem[] {
  const problems: RuleProblem[] = [];
  let scope = new Scope();
  const need = (path: (string | number)[], name: string, type?: FieldType, where = scope): void => {
    const actual = where.typeOf(name);
    if (actual === undefined) {
      problems.push({ path, message: `no field '${name}' here (available: ${where.names().join(', ')})` });
    } else if (type === 'number' && actual !== 'number') {
      problems.push({ path, message: `field '${name}' is text; this needs a number` });
    }
  };
  /** `steps`: the pattern steps a condition may refer to (none outside a pattern). */
  const predicate = (p: Predicate, path: (string | number)[], where = scope, steps: string[] = []): void => {
    if (p.field !== undefined) {
      const numeric = p.gt !== undefined || p.gte !== undefined || p.lt !== undefined || p.lte !== undefined;
      need([...path, 'field'], p.field, numeric ? 'number' : undefined, where);
    }
    for (const k of ['gt', 'gte', 'lt', 'lte', 'eq', 'ne'] as const) {
      const ref = p[k];
      if (typeof ref !== 'object') continue;
      if (!steps.includes(ref.step)) {
        const message =
          steps.length === 0
            ? 'a step reference works only in a pattern step'
            : `no step '${ref.step}' before this one (steps: ${steps.join(', ')})`;
        problems.push({ path: [...path, k, 'step'], message });
      }
      const numeric = k !== 'eq' && k !== 'ne';
      if (ref.field !== undefined) need([...path, k, 'field'], ref.field, numeric || ref.of !== 'last' ? 'number' : undefined, where);
    }
    p.any?.forEach((q, i) => predicate(q, [...path, 'any', i], where, steps));
    p.all?.forEach((q, i) => predicate(q, [...path, 'all', i], where, steps));
    if (p.not) predicate(p.not, [...path, 'not'], where, steps);
  };

  if (rule.input.where) predicate(rule.input.where, ['input', 'where']);
  if (rule.key !== 'none') need(['key'], rule.key);
  let detector: (typeof DETECTORS)[number] | undefined;
  rule.pipeline.forEach((stage, i) => {
    const at = (...rest: (string | number)[]): (string | number)[] => ['pipeline', i, ...rest];
    const op = Object.keys(stage).find((k) => stage[k as keyof Stage] !== undefined) as keyof Stage | undefined;
    if (op === undefined) return; // reported by the stage schema
    if (detector !== undefined) problems.push({ path: at(op), message: `'${detector}' decides, so it must be the last stage` });
    if ((DETECTORS as readonly string[]).includes(op)) detector = op as (typeof DETECTORS)[number];
    scope = checkStage(stage, at, scope, need, predicate);
    problems.push(...stageBounds(stage, at));
  });
  problems.push(...duration(rule.state?.ttl, 'timer', ['state', 'ttl']));
  problems.push(...duration(rule.outputs.alarm?.clearAfter, 'timer', ['outputs', 'alarm', 'clearAfter']));

  const { alarm, derived, actions } = rule.outputs;
  if ((alarm || actions?.some((a) => a.modbusCoil !== undefined)) && detector === undefined) {
    problems.push({
      path: ['outputs', alarm ? 'alarm' : 'actions'],
      message: 'an alarm needs a detector stage last (persistence, threshold, absence, …)',
    });
  }
  if (alarm && detector && (PULSES as readonly string[]).includes(detector) && alarm.clearAfter === undefined) {
    problems.push({ path: ['outputs', 'alarm'], message: `'${detector}' signals once, so its alarm needs clearAfter` });
  }
  derived?.fields?.forEach((f, i) => need(['outputs', 'derived', 'fields', i], f));
  const template = (text: string | undefined, path: (string | number)[]): void => {
    for (const [, name] of (text ?? '').matchAll(PLACEHOLDER)) {
      if (!TEMPLATE_WORDS.includes(name!) && scope.typeOf(name!) === undefined) {
        problems.push({ path, message: `unknown placeholder {${name}} (use ${TEMPLATE_WORDS.join(', ')} or a field)` });
      }
    }
  };
  template(alarm?.message, ['outputs', 'alarm', 'message']);
  actions?.forEach((a, i) => {
    template(a.mqtt?.topic, ['outputs', 'actions', i, 'mqtt', 'topic']);
    template(a.mqtt?.payload, ['outputs', 'actions', i, 'mqtt', 'payload']);
    if (a.mqtt === undefined && a.modbusCoil === undefined)
      problems.push({ path: ['outputs', 'actions', i], message: 'an action needs mqtt or modbusCoil' });
    if (a.mqtt !== undefined && a.on !== 'any') {
      const pulses = detector === undefined || (PULSES as readonly string[]).includes(detector);
      if (pulses !== (a.on === 'event')) problems.push({ path: ['outputs', 'actions', i, 'on'], message: neverRuns(detector, a.on) });
    }
    if (a.modbusCoil !== undefined && detector !== undefined && !alarm)
      problems.push({
        path: ['outputs', 'actions', i, 'modbusCoil'],
        message: "a coil follows the rule's alarm, so the rule needs outputs.alarm",
      });
  });
  return problems;
}

function neverRuns(detector: string | undefined, on: string): string {
  if (detector === undefined) return `without a detector every signal is an event, so on: ${on} never runs (use event or any)`;
  if ((PULSES as readonly string[]).includes(detector))
    return `'${detector}' signals once (event), so on: ${on} never runs (use event or any)`;
  return `'${detector}' signals raised and cleared, so on: event never runs (use raised, cleared or any)`;
}

type Need = (path: (string | number)[], name: string, type?: FieldType, where?: Scope) => void;
type CheckPredicate = (p: Predicate, path: (string | number)[], where?: Scope, steps?: string[]) => void;

/** Checks one stage's fields and returns the scope after it. */
function checkStage(
  stage: Stage,
  at: (...rest: (string | number)[]) => (string | number)[],
  scope: Scope,
  need: Need,
  predicate: CheckPredicate,
): Scope {
  if (stage.filter) predicate(stage.filter, at('filter'));
  if (stage.dedupe) need(at('dedupe', 'by'), stage.dedupe.by);
  if (stage.window) {
    const w = stage.window;
    const textOk = w.aggregates.every((a) => a === 'count' || a === 'distinct' || a === 'histogram' || a === 'rate');
    need(at('window', 'field'), w.field, textOk ? undefined : 'number');
    const out = new Map<string, FieldType>([
      ['window.start', 'number'],
      ['window.end', 'number'],
      ['window.count', 'number'],
    ]);
    for (const a of w.aggregates) out.set(a === 'histogram' ? 'histogram.*' : a, 'number');
    return new Scope(out, false);
  }
  if (stage.trend) {
    need(at('trend', 'field'), stage.trend.field, 'number');
    return extend(scope, ['slope', 'fitted', 'rul']);
  }
  if (stage.join) {
    const j = stage.join;
    const other = new Scope();
    if (j.with.where) predicate(j.with.where, at('join', 'with', 'where'), other);
    need(at('join', 'on'), j.on, undefined, other);
    if (j.by !== undefined) need(at('join', 'by'), j.by);
    j.fields.forEach((f, k) => need(at('join', 'fields', k), f, undefined, other));
    return extend(
      scope,
      j.fields.map((f) => `${j.as}.${f}`),
      j.fields.map((f) => other.typeOf(f) ?? 'number'),
    );
  }
  if (stage.persistence) need(at('persistence', 'field'), stage.persistence.field, 'number');
  if (stage.threshold) need(at('threshold', 'field'), stage.threshold.field, 'number');
  if (stage.drift) {
    need(at('drift', 'field'), stage.drift.field, 'number');
    return extend(scope, ['direction', 'detector', 'points'], ['string', 'string', 'number']);
  }
  if (stage.pattern) {
    for (const sequence of patternSequences(stage.pattern)) {
      const { steps } = sequence;
      const stepAt = (k: number, ...rest: string[]) => at('pattern', ...sequence.stepAt(k), ...rest);
      steps.forEach((s, k) => {
        // A step reads the steps before it in its sequence and, looping, its own events so far.
        const before = steps.slice(0, k + 1).map((x) => x.name);
        predicate(s.where, stepAt(k, 'where'), scope, before);
        if (s.from?.where) predicate(s.from.where, stepAt(k, 'from', 'where'));
        if (s.until) predicate(s.until, stepAt(k, 'until'), scope, before);
      });
    }
    const names = patternSequences(stage.pattern).flatMap(({ steps }) => steps.filter((s) => !s.not).map((s) => `${s.name}.*`));
    stage.pattern.matched.fields.forEach((f, k) => need(at('pattern', 'matched', 'fields', k), f));
    return extend(
      scope,
      ['pattern', 'start', 'waitingFor', ...names],
      ['string', 'number', 'string', ...names.map((): FieldType => 'string')],
    );
  }
  if (stage.notFollowedBy) {
    predicate(stage.notFollowedBy.first, at('notFollowedBy', 'first'));
    predicate(stage.notFollowedBy.then, at('notFollowedBy', 'then'));
  }
  if (stage.mismatch) {
    need(at('mismatch', 'field'), stage.mismatch.field);
    need(at('mismatch', 'group'), stage.mismatch.group);
    return extend(scope, ['majority'], ['string']);
  }
  return scope;
}

function extend(scope: Scope, names: string[], types: FieldType[] = []): Scope {
  const computed = new Map(scope.computed);
  names.forEach((n, i) => computed.set(n, types[i] ?? 'number'));
  return new Scope(computed, scope.hasEvent);
}

/** The longest a timer can wait: Node fires a longer setTimeout or setInterval after 1 ms, so it would spin. */
export const MAX_TIMER_MS = 2_147_483_647;
/** The longest event-time span (window size, lateness, join interval): 3650 days. */
export const MAX_SPAN_MS = 3650 * 86_400_000;
/** At most this many windows an event goes into (size / slide), and open windows a key holds. */
export const MAX_WINDOWS = 1000;

/**
 * How a duration is used: `timer` on the scheduler (absence, deadlines, TTLs), `span` in event
 * time (window lengths, join intervals), `delay` in event time where 0 is the default (watermark
 * delay, lateness).
 */
type DurationUse = 'timer' | 'span' | 'delay';

const STAGE_DURATIONS: Partial<Record<keyof Stage, Record<string, DurationUse>>> = {
  dedupe: { within: 'timer' },
  debounce: { quiet: 'timer' },
  window: { size: 'span', slide: 'span', gap: 'span', idle: 'timer', outOfOrder: 'delay', lateness: 'delay' },
  join: { within: 'span', outOfOrder: 'delay' },
  absence: { timeout: 'timer' },
  pattern: { within: 'timer' },
  notFollowedBy: { within: 'timer' },
};

/** A duration the operator would refuse or could not honour: 0 or below 1 ms ('0s'), too long for a timer, not finite. */
function duration(ms: number | undefined, use: DurationUse, path: (string | number)[]): RuleProblem[] {
  if (ms === undefined) return [];
  const key = String(path[path.length - 1]);
  if (use !== 'delay' && !(ms >= 1)) return [{ path, message: `${key} must be at least 1ms` }];
  if (use === 'timer' && !(ms <= MAX_TIMER_MS))
    return [{ path, message: `${key} must be at most ${MAX_TIMER_MS}ms (about 24.8 days), the longest a timer can wait` }];
  if (!(ms <= MAX_SPAN_MS)) return [{ path, message: `${key} must be at most 3650d` }];
  return [];
}

/**
 * What the operators check when they are built or subscribed (window sizes, the first step of a
 * sequence), and what would make a rule useless or run away (a slide so short that one event lands
 * in thousands of windows): refused by `check` rather than at run time.
 */
function stageBounds(stage: Stage, at: (...rest: (string | number)[]) => (string | number)[]): RuleProblem[] {
  const op = Object.keys(stage).find((k) => stage[k as keyof Stage] !== undefined) as keyof Stage | undefined;
  if (op === undefined) return [];
  const values = stage[op] as Record<string, unknown>;
  const problems = Object.entries(STAGE_DURATIONS[op] ?? {}).flatMap(([key, use]) =>
    duration(values[key] as number | undefined, use, at(op, key)),
  );
  if (problems.length > 0) return problems;
  if (stage.window) return windowBounds(stage.window, at);
  if (stage.pattern) problems.push(...patternBounds(stage.pattern, at));
  return problems;
}

/** What the NFA refuses when it is built, per sequence of the pattern, and names it must find. */
function patternBounds(p: NonNullable<Stage['pattern']>, at: (...rest: (string | number)[]) => (string | number)[]): RuleProblem[] {
  const problems: RuleProblem[] = [];
  const names: string[] = [];
  for (const sequence of patternSequences(p)) {
    const { steps } = sequence;
    const stepAt = (k: number, key: string) => at('pattern', ...sequence.stepAt(k), key);
    const alone = sequence.alone && `a step of ${p.and ? 'and' : 'or'}`;
    if (steps[0]?.optional)
      problems.push({ path: stepAt(0, 'optional'), message: `${alone || 'the first step of a sequence'} cannot be optional` });
    if (steps[0]?.not)
      problems.push({
        path: stepAt(0, 'not'),
        message: alone ? `${alone} cannot be negative` : 'a sequence cannot begin with a negative step',
      });
    steps.forEach((s, k) => {
      if (k > 0 && s.not && steps[k - 1]!.optional)
        problems.push({ path: stepAt(k, 'not'), message: 'a negative step cannot follow an optional one' });
      if (names.includes(s.name))
        problems.push({ path: stepAt(k, 'name'), message: `step name '${s.name}' is used twice; a match keys its events by name` });
      names.push(s.name);
    });
    const final = steps[steps.length - 1];
    if (steps.length > 1 && final?.not && (final.after === 'next' || (final.after === undefined && p.contiguity === 'strict')))
      problems.push({
        path: stepAt(steps.length - 1, 'not'),
        message: 'a sequence can end with a negative step only as notFollowedBy (after: followedBy)',
      });
  }
  const skip = p.skip;
  const target = typeof skip === 'object' ? ('skipToFirst' in skip ? skip.skipToFirst : skip.skipToLast) : undefined;
  if (target !== undefined && !names.includes(target))
    problems.push({ path: at('pattern', 'skip'), message: `skip names step '${target}', which the pattern does not have` });
  return problems;
}

function windowBounds(w: NonNullable<Stage['window']>, at: (...rest: (string | number)[]) => (string | number)[]): RuleProblem[] {
  if (w.size === undefined || w.type === 'session' || w.type === 'count') return [];
  const step = w.type === 'sliding' ? w.slide! : w.size;
  const each = Math.ceil(w.size / step);
  if (each > MAX_WINDOWS) {
    return [{ path: at('window', 'slide'), message: `an event goes into size/slide = ${each} windows; at most ${MAX_WINDOWS}` }];
  }
  const held = Math.ceil((w.size + (w.outOfOrder ?? 0) + (w.lateness ?? 0)) / step);
  if (held > MAX_WINDOWS) {
    const by = w.type === 'sliding' ? 'slide' : 'size';
    return [
      {
        path: at('window', w.lateness ? 'lateness' : 'outOfOrder'),
        message: `a key would hold up to ${held} open windows ((size + outOfOrder + lateness) / ${by}); at most ${MAX_WINDOWS}`,
      },
    ];
  }
  return [];
}

/** The rule schema with the checks above: what config loading, `check` and `POST /rules` validate with. */
export const checkedRule = ruleSchema.superRefine((rule, ctx) => {
  for (const p of checkRule(rule)) ctx.addIssue({ code: 'custom', message: p.message, path: p.path });
});
