import { asyncScheduler, Observable, Subject, Subscription, type SchedulerAction, type SchedulerLike, type Subscriber } from 'rxjs';
import type { RuleOutput } from '../../core/rule-output.js';
import type { InferenceEvent } from '../../normalise/inference-event.js';
import type { EvictionReason } from '../operators/keyed-step.js';
import { shiftSeen } from '../operators/quiet-keys.js';
import type { RuleSpec } from './language.js';
import { newOutputState, RuleOutputs, type OutputState } from './outputs.js';
import { compileRule, RuleState, type CompiledRule } from './planner.js';
import { compileEventFilter } from './predicate.js';
import type { DeviceAttributes, Row } from './row.js';
import { DeviceTable } from './device-table.js';
import { decodeRuleState, encodeRuleState, outputStateOf, stateShape, type EngineCheckpoint, type RuleCheckpoint } from './checkpoint.js';

export type RuleRunState = 'running' | 'stopped-by-error';

export interface RuleStatus {
  id: string;
  state: RuleRunState;
  /** Keys (usually devices) held in the rule's state. */
  keys: number;
  /** Entries across the rule's state maps. */
  stateSize: number;
  eventsIn: number;
  eventsOut: number;
  late: number;
  /** Partial matches its patterns hold. */
  partialMatches: number;
  /** Bytes of its state as the last checkpoint wrote it; absent before the first. */
  stateBytes?: number;
  /** Why the rule stopped, while stopped-by-error. */
  error?: string;
  /** Scheduler time it stopped at. */
  stoppedAt?: number;
}

export interface RuleHooks {
  /** A rule stopped by an error: once per stop, with the error as thrown (its stack included). */
  failed?(rule: string, error: unknown): void;
  /** A key forgotten by a rule (state cap or TTL) or an event ignored because the state is full. */
  evicted?(rule: string, reason: EvictionReason): void;
  /** An event a rule found too late (counted in its status); `replay` prints it. */
  late?(rule: string, row: Row): void;
  /** Time one event took through the rule, in seconds; sampled (1 event in `LATENCY_SAMPLE`). */
  latency?(rule: string, seconds: number): void;
}

/** Every 16th event per rule is timed: enough for a histogram, cheap enough for the hot path. */
export const LATENCY_SAMPLE = 16;

interface RunningRule {
  spec: RuleSpec;
  /** Undefined when compiling threw (the rule is then stopped-by-error). */
  compiled?: CompiledRule;
  accepts?: (r: Row) => boolean;
  /** Everything but the outputs: when it is unchanged by a reload, the state carries over. */
  shape: string;
  state: RuleState;
  outputState: OutputState;
  outputs?: RuleOutputs;
  run: RuleRunState;
  error?: string;
  stoppedAt?: number;
  input?: { next(row: Row): void; complete(): void };
  subscription?: Subscription;
  eventsIn: number;
  eventsOut: number;
  late: number;
  stateBytes?: number;
}

export interface RestoreReport {
  /** Rules that continue from the checkpoint. */
  continued: string[];
  /** Rules whose shape changed since: they start clean. */
  changed: string[];
  /** Rules whose saved state could not be read: they start clean. */
  unreadable: { id: string; reason: string }[];
  /** Rules in the checkpoint that are no longer configured. */
  gone: string[];
}

export interface SwapReport {
  /** Rules whose state carried over (unchanged, or only their outputs changed). */
  kept: string[];
  restarted: string[];
  removed: string[];
}

/**
 * Runs every rule over one input. Each rule has its own pipeline and state, and its own error
 * boundary: whatever it throws (building its operators, on an event, in a timer, in an output
 * template) stops that rule alone (stopped-by-error) and every other rule keeps running.
 * `replaceRules` swaps rules between two events, so nothing is lost or seen twice, and a rule
 * whose state shape is unchanged keeps its state.
 */
export class RuleEngine {
  private readonly all = new Subject<Row>();
  private readonly output = new Subject<RuleOutput>();
  private rules: RunningRule[] = [];
  private connected = false;
  private readonly table = new DeviceTable();

  constructor(
    rules: RuleSpec[],
    private readonly hooks: RuleHooks = {},
    private readonly scheduler: SchedulerLike = asyncScheduler,
    private attributes: ReadonlyMap<string, DeviceAttributes> = new Map(),
  ) {
    this.replaceRules(rules);
  }

  /** The devices' attributes (group, line, cell, site, tags) that rules read as fields; a reload may change them. */
  setAttributes(attributes: ReadonlyMap<string, DeviceAttributes>): void {
    this.attributes = attributes;
  }

  /** Feeds `events$` through the rules; the returned stream carries every alarm, derived event and action. */
  connect(events$: Observable<InferenceEvent>): Observable<RuleOutput> {
    return new Observable<RuleOutput>((subscriber) => {
      const out = this.output.subscribe(subscriber);
      // Rule pipelines (and their timers) exist only while connected.
      this.connected = true;
      for (const rule of this.rules) this.start(rule);
      const inp = events$.subscribe({
        next: (e) => this.dispatch(e),
        error: (err: unknown) => subscriber.error(err),
        complete: () => {
          // Completing the rule inputs closes their open windows, so a replay ends deterministically.
          for (const rule of this.rules) rule.input?.complete();
          subscriber.complete();
        },
      });
      return () => {
        inp.unsubscribe();
        this.connected = false;
        for (const rule of this.rules) this.stop(rule);
        out.unsubscribe();
      };
    });
  }

  replaceRules(specs: RuleSpec[]): SwapReport {
    const previous = new Map(this.rules.map((r) => [r.spec.id, r]));
    const report: SwapReport = { kept: [], restarted: [], removed: [] };
    const next: RunningRule[] = [];
    for (const spec of specs) {
      const shape = stateShape(spec);
      const old = previous.get(spec.id);
      const keep = old !== undefined && old.shape === shape && old.run === 'running';
      (keep ? report.kept : report.restarted).push(spec.id);
      const rule: RunningRule = {
        spec,
        shape,
        state: keep ? old.state : new RuleState(spec.key === 'device' ? this.table : undefined),
        outputState: keep ? old.outputState : newOutputState(),
        run: 'running',
        eventsIn: old?.eventsIn ?? 0,
        eventsOut: old?.eventsOut ?? 0,
        late: old?.late ?? 0,
      };
      try {
        rule.compiled = compileRule(spec);
        rule.accepts = compileEventFilter(spec.input);
      } catch (err) {
        this.fail(rule, err);
      }
      next.push(rule);
    }
    const keptIds = new Set(report.kept);
    for (const [id, old] of previous) {
      this.stop(old);
      if (!next.some((r) => r.spec.id === id)) report.removed.push(id);
      if (keptIds.has(id)) continue;
      old.state.release();
      // A rule that restarts or goes away starts with no alarms, so the ones it raised are cleared, not left stuck.
      new RuleOutputs(old.spec, old.outputState, (o) => this.output.next(o)).clearAll(this.scheduler.now());
    }
    this.rules = next;
    if (this.connected) for (const rule of next) this.start(rule);
    return report;
  }

  status(): RuleStatus[] {
    return this.rules.map((r) => ({
      id: r.spec.id,
      state: r.run,
      keys: r.state.keys,
      stateSize: r.state.size,
      eventsIn: r.eventsIn,
      eventsOut: r.eventsOut,
      late: r.late,
      partialMatches: r.state.partialMatches,
      ...(r.stateBytes !== undefined ? { stateBytes: r.stateBytes } : {}),
      ...(r.error !== undefined ? { error: r.error, stoppedAt: r.stoppedAt } : {}),
    }));
  }

  /**
   * Every running rule's state, taken between two events so that it is consistent: windows,
   * partial matches, trend sums, latches, deadlines, the alarms it raised. A rule stopped by an
   * error is left out (its state is what the error left).
   */
  checkpoint(): EngineCheckpoint {
    const rules: RuleCheckpoint[] = [];
    for (const r of this.rules) {
      if (r.run !== 'running') continue;
      const state = encodeRuleState({
        maps: r.state.capture(),
        raised: [...r.outputState.raised],
        autoClear: [...r.outputState.autoClear],
        counters: { eventsIn: r.eventsIn, eventsOut: r.eventsOut, late: r.late },
      });
      r.stateBytes = state.byteLength;
      rules.push({ id: r.spec.id, shape: r.shape, state });
    }
    return { at: this.scheduler.now(), rules };
  }

  /**
   * Gives each rule its state from a checkpoint when its shape is unchanged; a rule whose shape
   * changed, or whose state cannot be read, keeps starting clean, and the report says why.
   */
  restore(checkpoint: EngineCheckpoint): RestoreReport {
    const report: RestoreReport = { continued: [], changed: [], unreadable: [], gone: [] };
    const saved = new Map(checkpoint.rules.map((r) => [r.id, r]));
    // The gateway was down since the checkpoint: its timers resume with the time they had left.
    const delta = Math.max(0, this.scheduler.now() - checkpoint.at);
    for (const rule of this.rules) {
      const cp = saved.get(rule.spec.id);
      saved.delete(rule.spec.id);
      if (cp === undefined || rule.run !== 'running') continue;
      if (cp.shape !== rule.shape) {
        report.changed.push(rule.spec.id);
        continue;
      }
      try {
        const data = decodeRuleState(cp.state);
        const state = new RuleState(rule.spec.key === 'device' ? this.table : undefined);
        state.restore(data.maps, delta);
        this.stop(rule);
        rule.state.release();
        rule.state = state;
        rule.outputState = outputStateOf(data);
        shiftSeen(rule.outputState.autoClear, delta);
        Object.assign(rule, data.counters);
        if (this.connected) this.start(rule);
        report.continued.push(rule.spec.id);
      } catch (err) {
        report.unreadable.push({ id: rule.spec.id, reason: err instanceof Error ? err.message : String(err) });
      }
    }
    report.gone.push(...saved.keys());
    return report;
  }

  /** Devices a rule holds a raised alarm for. */
  raisedBy(id: string): string[] {
    return [...(this.rules.find((r) => r.spec.id === id)?.outputState.raised.keys() ?? [])];
  }

  private dispatch(event: InferenceEvent): void {
    const row: Row = { device: event.device, ts: event.ts, event, attrs: this.attributes.get(event.device) };
    this.table.focus(event.device);
    // Only joins listen to every event; a Subject without observers still costs a call per event.
    if (this.all.observed) this.all.next(row);
    for (const rule of this.rules) {
      if (rule.input === undefined) continue;
      try {
        this.feed(rule, rule.input, row);
      } catch (err) {
        this.fail(rule, err);
      }
    }
  }

  private feed(rule: RunningRule, input: NonNullable<RunningRule['input']>, row: Row): void {
    if (rule.accepts !== undefined && !rule.accepts(row)) return;
    const n = ++rule.eventsIn;
    const value = rule.spec.time === 'processing' ? { ...row, ts: this.scheduler.now() } : row;
    if (this.hooks.latency === undefined || n % LATENCY_SAMPLE !== 0) {
      input.next(value);
      return;
    }
    const t0 = performance.now();
    input.next(value);
    this.hooks.latency(rule.spec.id, (performance.now() - t0) / 1000);
  }

  private start(rule: RunningRule): void {
    if (rule.run !== 'running') return;
    try {
      this.subscribe(rule);
    } catch (err) {
      this.fail(rule, err);
    }
  }

  private subscribe(rule: RunningRule): void {
    const { id } = rule.spec;
    const compiled = rule.compiled;
    if (compiled === undefined) return;
    // Timers of the rule's operators and outputs run inside its boundary too.
    const scheduler = guardedScheduler(this.scheduler, (err) => this.fail(rule, err));
    const outputs = new RuleOutputs(rule.spec, rule.outputState, (o) => this.output.next(o));
    rule.outputs = outputs;
    outputs.start(scheduler);
    const ctx = {
      all$: this.all,
      scheduler,
      state: rule.state,
      onLate: (row: Row) => {
        rule.late++;
        this.hooks.late?.(id, row);
      },
      onEvict: (reason: EvictionReason) => this.hooks.evicted?.(id, reason),
      attributesOf: (device: string) => this.attributes.get(device),
    };
    const stages = compiled(ctx);
    if (stages.direct) {
      // Every stage has a direct form: one chain of calls per event, whatever throws lands in feed's or the scheduler's boundary.
      const program = stages.direct((signal) => {
        rule.eventsOut++;
        outputs.signal(signal);
      });
      rule.input = { next: (row) => program.push(row), complete: () => program.complete?.() };
      rule.subscription = new Subscription(() => program.dispose());
      return;
    }
    const input = new RuleInput();
    rule.input = input;
    rule.subscription = stages.op(input.rows$).subscribe({
      next: (signal) => {
        rule.eventsOut++;
        // A throw here would reach RxJS's unhandled-error report and leave the rule looking alive.
        try {
          outputs.signal(signal);
        } catch (err) {
          this.fail(rule, err);
        }
      },
      error: (err: unknown) => this.fail(rule, err),
    });
  }

  /** Stops one rule for good (until the next swap) and reports it once. */
  private fail(rule: RunningRule, err: unknown): void {
    if (rule.run === 'stopped-by-error') return;
    rule.run = 'stopped-by-error';
    rule.error = err instanceof Error ? err.message : String(err);
    rule.stoppedAt = this.scheduler.now();
    this.stop(rule);
    this.hooks.failed?.(rule.spec.id, err);
  }

  private stop(rule: RunningRule): void {
    rule.subscription?.unsubscribe();
    rule.subscription = undefined;
    rule.input = undefined;
    rule.outputs?.stop();
  }
}

/**
 * A rule's input: the rows go straight to the subscribers of its first stage (one, as a rule is
 * built). A Subject per rule cost a closure per event besides the call.
 */
class RuleInput {
  private sinks: Subscriber<Row>[] = [];
  readonly rows$ = new Observable<Row>((subscriber) => {
    this.sinks = [...this.sinks, subscriber];
    return () => {
      this.sinks = this.sinks.filter((s) => s !== subscriber);
    };
  });

  next(row: Row): void {
    // A copy is swapped in when subscribers come or go, so this loop never sees the list change.
    const sinks = this.sinks;
    for (let i = 0; i < sinks.length; i++) sinks[i]!.next(row);
  }

  complete(): void {
    for (const s of this.sinks) s.complete();
  }
}

/**
 * The engine's scheduler as one rule sees it: an action that throws is handed to `failed`. A
 * throw inside a scheduled action would otherwise escape into the event loop (node's timer) and,
 * with RxJS's async scheduler, also cancel the other rules' actions due in the same flush.
 */
function guardedScheduler(scheduler: SchedulerLike, failed: (err: unknown) => void): SchedulerLike {
  return {
    now: () => scheduler.now(),
    schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay?: number, state?: T): Subscription {
      return scheduler.schedule<T>(
        function (this: SchedulerAction<T>, s?: T) {
          try {
            work.call(this, s);
          } catch (err) {
            failed(err);
          }
        },
        delay,
        state,
      );
    },
  };
}
