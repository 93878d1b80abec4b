import { Observable, Subject, filter, tap, type Subscription } from 'rxjs';
import type { AlarmTransition } from '../../core/alarm.js';
import { systemClock, type Clock } from '../../core/clock.js';
import type { InferenceEvent } from '../../normalise/inference-event.js';
import { anomalyPersistence, type PersistenceState } from '../operators/anomaly-persistence.js';
import type { EvictionReason } from '../operators/keyed-step.js';
import type { RuleConfig } from './schema.js';

export type RuleRunState = 'running' | 'stopped-by-error';

export interface RuleStatus {
  id: string;
  state: RuleRunState;
  keys: number;
  error?: string;
}

export interface RuleHooks {
  evaluated?(rule: string): void;
  failed?(rule: string, error: unknown): void;
  /** A device forgotten by a rule (state cap or TTL) or an event ignored because the state is full. */
  evicted?(rule: string, reason: EvictionReason): void;
}

interface RunningRule {
  config: RuleConfig;
  fingerprint: string;
  state: PersistenceState;
  run: RuleRunState;
  error?: string;
  subscription?: Subscription;
}

/**
 * Runs every configured rule over one shared input. A rule that throws stops alone
 * (stopped-by-error); `replaceRules` swaps rules without losing input, and a rule whose config
 * is unchanged keeps its keyed state.
 */
export class RuleEngine {
  private readonly input = new Subject<InferenceEvent>();
  private readonly output = new Subject<AlarmTransition>();
  private rules = new Map<string, RunningRule>();
  private connected = false;

  constructor(
    rules: RuleConfig[],
    private readonly hooks: RuleHooks = {},
    private readonly clock: Clock = systemClock,
  ) {
    this.replaceRules(rules);
  }

  /** Feeds `events$` through the rules; the returned stream carries every alarm transition. */
  connect(events$: Observable<InferenceEvent>): Observable<AlarmTransition> {
    return new Observable<AlarmTransition>((subscriber) => {
      const out = this.output.subscribe(subscriber);
      // Rule pipelines (and their timers) exist only while connected.
      this.connected = true;
      for (const rule of this.rules.values()) this.start(rule);
      const inp = events$.subscribe({
        next: (e) => this.input.next(e),
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
      return () => {
        inp.unsubscribe();
        this.connected = false;
        for (const rule of this.rules.values()) rule.subscription?.unsubscribe();
        out.unsubscribe();
      };
    });
  }

  replaceRules(configs: RuleConfig[]): { kept: string[]; restarted: string[]; removed: string[] } {
    const previous = this.rules;
    const next = new Map<string, RunningRule>();
    const report = { kept: [] as string[], restarted: [] as string[], removed: [] as string[] };
    for (const config of configs) {
      const fingerprint = JSON.stringify(config);
      const old = previous.get(config.id);
      const keep = old !== undefined && old.fingerprint === fingerprint && old.run === 'running';
      (keep ? report.kept : report.restarted).push(config.id);
      next.set(config.id, { config, fingerprint, state: keep ? old.state : new Map(), run: 'running' });
    }
    for (const [id, old] of previous) {
      old.subscription?.unsubscribe();
      if (!next.has(id)) report.removed.push(id);
    }
    this.rules = next;
    if (this.connected) for (const rule of next.values()) this.start(rule);
    for (const [id, old] of previous) if (!report.kept.includes(id)) this.clearRaised(old);
    return report;
  }

  /** A rule that restarts or goes away starts with no alarms, so the ones it raised are cleared, not left stuck. */
  private clearRaised(old: RunningRule): void {
    const ts = this.clock.now();
    for (const [device, window] of old.state) {
      if (!window.active) continue;
      const { id: rule, severity } = old.config;
      this.output.next({ device, rule, state: 'cleared', severity, value: 0, ts, message: 'rule changed or removed; alarm reset' });
    }
  }

  status(): RuleStatus[] {
    return [...this.rules.values()].map((r) => ({
      id: r.config.id,
      state: r.run,
      keys: r.state.size,
      ...(r.error !== undefined ? { error: r.error } : {}),
    }));
  }

  private start(rule: RunningRule): void {
    const { config } = rule;
    const devices = config.devices ? new Set(config.devices) : undefined;
    rule.subscription = this.input
      .pipe(
        filter((e) => devices === undefined || devices.has(e.device)),
        tap(() => this.hooks.evaluated?.(config.id)),
        anomalyPersistence({ ...config, rule: config.id }, rule.state, {
          maxKeys: config.state?.maxKeys,
          overflow: config.state?.overflow,
          ttlMs: config.state?.ttl,
          onEvict: (_key, reason) => this.hooks.evicted?.(config.id, reason),
        }),
      )
      .subscribe({
        next: (t) => this.output.next(t),
        error: (err: unknown) => {
          rule.run = 'stopped-by-error';
          rule.error = err instanceof Error ? err.message : String(err);
          this.hooks.failed?.(config.id, err);
        },
      });
  }
}
