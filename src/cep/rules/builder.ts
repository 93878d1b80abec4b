import { ConfigError } from '../../core/errors.js';
import { checkedRule } from './check-fields.js';
import type { RuleInput, RuleSpec } from './language.js';

type StageInput = RuleInput['pipeline'][number];
type Op<K extends keyof StageInput> = NonNullable<StageInput[K]>;
type Outputs = NonNullable<RuleInput['outputs']>;

/**
 * Builds a rule in code, with the same operators, names and checks as the YAML language:
 *
 *   rule('bearing-wear').input({ models: ['motor-ad'] }).persistence({ atLeast: 0.7, n: 3, m: 5, clearAfter: 5 }).alarm({ severity: 700 }).build()
 *
 * `build()` validates like `check` does and throws a ConfigError naming the bad key.
 */
export class RuleBuilder {
  private readonly raw: { id: string; pipeline: StageInput[]; outputs: Outputs } & Partial<Omit<RuleInput, 'id' | 'pipeline' | 'outputs'>>;

  constructor(id: string) {
    this.raw = { id, pipeline: [], outputs: {} };
  }

  input(filter: NonNullable<RuleInput['input']>): this {
    this.raw.input = filter;
    return this;
  }
  key(field: string): this {
    this.raw.key = field;
    return this;
  }
  processingTime(): this {
    this.raw.time = 'processing';
    return this;
  }
  limits(state: NonNullable<RuleInput['state']>): this {
    this.raw.state = state;
    return this;
  }
  describe(text: string): this {
    this.raw.description = text;
    return this;
  }

  filter(o: Op<'filter'>): this {
    return this.stage({ filter: o });
  }
  dedupe(o: Op<'dedupe'> = {}): this {
    return this.stage({ dedupe: o });
  }
  debounce(o: Op<'debounce'>): this {
    return this.stage({ debounce: o });
  }
  window(o: Op<'window'>): this {
    return this.stage({ window: o });
  }
  trend(o: Op<'trend'>): this {
    return this.stage({ trend: o });
  }
  join(o: Op<'join'>): this {
    return this.stage({ join: o });
  }
  persistence(o: Op<'persistence'>): this {
    return this.stage({ persistence: o });
  }
  threshold(o: Op<'threshold'>): this {
    return this.stage({ threshold: o });
  }
  absence(o: Op<'absence'>): this {
    return this.stage({ absence: o });
  }
  drift(o: Op<'drift'> = {}): this {
    return this.stage({ drift: o });
  }
  pattern(o: Op<'pattern'>): this {
    return this.stage({ pattern: o });
  }
  notFollowedBy(o: Op<'notFollowedBy'>): this {
    return this.stage({ notFollowedBy: o });
  }
  mismatch(o: Op<'mismatch'> = {}): this {
    return this.stage({ mismatch: o });
  }

  alarm(o: NonNullable<Outputs['alarm']> = {}): this {
    this.raw.outputs.alarm = o;
    return this;
  }
  derived(o: NonNullable<Outputs['derived']> = {}): this {
    this.raw.outputs.derived = o;
    return this;
  }
  action(o: NonNullable<Outputs['actions']>[number]): this {
    this.raw.outputs.actions = [...(this.raw.outputs.actions ?? []), o];
    return this;
  }

  build(): RuleSpec {
    const result = checkedRule.safeParse(this.raw);
    if (result.success) return result.data;
    throw new ConfigError(
      `rule ${this.raw.id}`,
      result.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })),
    );
  }

  private stage(s: StageInput): this {
    this.raw.pipeline.push(s);
    return this;
  }
}

export const rule = (id: string): RuleBuilder => new RuleBuilder(id);
