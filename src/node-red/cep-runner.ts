import { asyncScheduler, Subject, type SchedulerLike, type Subscription } from 'rxjs';
import type { RuleOutput } from '../core/rule-output.js';
import { ConfigError, formatProblem } from '../core/errors.js';
import { RuleEngine, type RuleStatus } from '../cep/rules/engine.js';
import { parseRuleText } from '../config/load.js';
import { decodeEventJson } from '../normalise/decode-mqtt.js';
import { DEVICE_ID_PATTERN, type InferenceEvent } from '../normalise/inference-event.js';

export type RuleTextCheck = { ok: true; rules: string[] } | { ok: false; errors: string[] };

/** What the tinyml-cep editor shows before deploy: the rule ids, or every problem with its line. */
export function checkRuleText(text: string): RuleTextCheck {
  try {
    return { ok: true, rules: parseRuleText(text, 'rule').map((r) => r.id) };
  } catch (err) {
    if (err instanceof ConfigError) return { ok: false, errors: err.problems.map((p) => formatProblem('rule', p)) };
    throw err;
  }
}

export interface CepRunnerHooks {
  output(o: RuleOutput): void;
  failed(rule: string, error: unknown): void;
}

/**
 * The gateway's CEP engine over msgs inside a flow: the same rule language, no gateway. Payloads
 * are InferenceEvents (a missing `device` is taken from msg.topic); a bad one is refused with the
 * first schema problem.
 */
export class CepRunner {
  private readonly engine: RuleEngine;
  private readonly input = new Subject<InferenceEvent>();
  private readonly subscription: Subscription;

  /** Throws ConfigError when the rule text is wrong. */
  constructor(
    ruleText: string,
    hooks: CepRunnerHooks,
    private readonly scheduler: SchedulerLike = asyncScheduler,
  ) {
    this.engine = new RuleEngine(parseRuleText(ruleText, 'rule'), { failed: (rule, err) => hooks.failed(rule, err) }, scheduler);
    this.subscription = this.engine.connect(this.input).subscribe((o) => hooks.output(o));
  }

  /** Feeds one payload through the rules; the error names what is wrong with it. */
  push(payload: unknown, topic?: unknown): { ok: true } | { ok: false; error: string } {
    const withDevice =
      typeof payload === 'object' &&
      payload !== null &&
      !('device' in payload) &&
      typeof topic === 'string' &&
      DEVICE_ID_PATTERN.test(topic)
        ? { ...payload, device: topic }
        : payload;
    const decoded = decodeEventJson(withDevice, this.scheduler.now());
    if (!decoded.ok) return { ok: false, error: `not an inference event: ${decoded.detail}` };
    this.input.next(decoded.event);
    return { ok: true };
  }

  status(): RuleStatus[] {
    return this.engine.status();
  }

  /** Stops every rule and its timers; nothing is emitted afterwards. */
  close(): void {
    this.subscription.unsubscribe();
  }
}
