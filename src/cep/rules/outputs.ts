import type { SchedulerLike } from 'rxjs';
import type { AlarmTransition } from '../../core/alarm.js';
import type { DerivedEvent, RuleOutput } from '../../core/rule-output.js';
import { QuietKeys, type Seen } from '../operators/quiet-keys.js';
import type { RuleSpec, Stage } from './language.js';
import type { Signal } from './planner.js';
import { rowReader, type FieldValue } from './row.js';

/** Per-rule output state kept across a reload: raised alarms by device, pending auto-clears. */
export interface OutputState {
  raised: Map<string, AlarmTransition>;
  autoClear: Seen<Signal>;
}

export const newOutputState = (): OutputState => ({ raised: new Map(), autoClear: new Map() });

const PLACEHOLDER = /\{([A-Za-z0-9_.*-]+)(?::(\d))?\}/g;

/** Fills `{name}` / `{name:2}` (2 decimals) from the signal: rule, device, key, state, value, ts, time, or a field. */
export function fillTemplate(template: string, rule: string, s: Signal): string {
  return template.replace(PLACEHOLDER, (_all, name: string, digits?: string) => {
    const v = lookup(name, rule, s);
    if (v === undefined) return '';
    // Integers (ts, seq, counts) exactly; fractions to 15 significant digits, which drops binary noise (0.30000000000000004).
    if (typeof v === 'number')
      return digits !== undefined ? v.toFixed(Number(digits)) : Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(15)));
    return v;
  });
}

function lookup(name: string, rule: string, s: Signal): FieldValue {
  switch (name) {
    case 'rule':
      return rule;
    case 'device':
      return s.device;
    case 'key':
      return s.key;
    case 'state':
      return s.state;
    case 'value':
      return s.value;
    case 'ts':
      return s.ts;
    case 'time':
      return new Date(s.ts).toISOString();
  }
  return s.fields?.[name] ?? rowReader(name)(s.row);
}

/** The alarm text when a rule gives none: what the detector saw. */
function defaultMessage(stage: Stage, s: Signal): string {
  const v = (x: number): string => (Number.isFinite(x) ? String(Number(x.toPrecision(4))) : '∞');
  const raised = s.state !== 'cleared';
  if (s.fields?.evicted !== undefined) return `${s.key} dropped from the rule state (${String(s.fields.evicted)}); alarm reset`;
  if (stage.persistence) {
    const p = stage.persistence;
    return raised
      ? `${p.field} ≥ ${p.atLeast} in ${p.n} of the last ${p.m} events`
      : `${p.field} below ${p.atLeast} for ${p.clearAfter} consecutive events`;
  }
  if (stage.threshold) {
    const h = stage.threshold;
    if (h.above !== undefined)
      return raised ? `${h.field} ${v(s.value)} ≥ ${h.above}` : `${h.field} ${v(s.value)} back to ≤ ${h.clearBelow}`;
    return raised ? `${h.field} ${v(s.value)} ≤ ${h.below}` : `${h.field} ${v(s.value)} back to ≥ ${h.clearAbove}`;
  }
  if (stage.absence) return raised ? `no event for ${stage.absence.timeout / 1000} s` : 'events again';
  if (stage.notFollowedBy) return raised ? `not followed in ${stage.notFollowedBy.within / 1000} s` : 'followed at last';
  if (stage.mismatch) {
    const f = stage.mismatch.field;
    return raised
      ? `${f} ${String(s.fields?.[f])} differs from its group's ${String(s.fields?.majority)}`
      : `${f} agrees with its group again`;
  }
  if (stage.drift) return raised ? `${stage.drift.field} drifted ${stage.drift.direction} (${stage.drift.method})` : 'drift alarm expired';
  if (stage.pattern) return raised ? `pattern ${String(s.fields?.pattern ?? 'match')}` : 'pattern alarm expired';
  return `${s.state} ${v(s.value)}`;
}

/**
 * Turns a rule's signals into its outputs: alarm transitions (latched per device, so a rule
 * never raises twice or clears what it did not raise; one-off signals raise and clear after
 * `clearAfter`), derived events and actions.
 */
export class RuleOutputs {
  private readonly detector: Stage;
  /** The fields a derived output lists, each with its compiled reader. */
  private readonly derivedFields?: [string, (s: Signal) => FieldValue][];
  private autoClear?: QuietKeys<Signal>;

  constructor(
    private readonly rule: RuleSpec,
    private readonly state: OutputState,
    private readonly emit: (out: RuleOutput) => void,
  ) {
    this.detector = rule.pipeline[rule.pipeline.length - 1]!;
    this.derivedFields = rule.outputs.derived?.fields?.map((f) => {
      const read = rowReader(f);
      return [f, (s: Signal) => s.fields?.[f] ?? read(s.row)];
    });
  }

  /** Starts the auto-clear timers (only while the rule runs). */
  start(scheduler: SchedulerLike): void {
    const clearAfter = this.rule.outputs.alarm?.clearAfter;
    if (clearAfter === undefined) return;
    this.autoClear = new QuietKeys<Signal>(
      scheduler,
      clearAfter,
      (_device, s, at) => this.alarm({ ...s, state: 'cleared', ts: s.ts + (scheduler.now() - at) }),
      this.state.autoClear,
    );
  }

  stop(): void {
    this.autoClear?.dispose();
  }

  signal(s: Signal): void {
    const { alarm, derived, actions } = this.rule.outputs;
    if (alarm) {
      if (s.state === 'event') {
        if (alarm.clearAfter !== undefined) {
          this.alarm({ ...s, state: 'raised' });
          this.autoClear?.touch(s.device, s);
        }
      } else this.alarm(s);
    }
    if (derived) this.emit({ type: 'derived', event: this.derived(s, derived.name ?? this.rule.id) });
    for (const a of actions ?? []) {
      if (a.modbusCoil !== undefined) continue;
      if (a.on !== 'any' && a.on !== s.state) continue;
      const m = a.mqtt!;
      const payload = m.payload !== undefined ? fillTemplate(m.payload, this.rule.id, s) : JSON.stringify(this.derived(s, this.rule.id));
      this.emit({
        type: 'action',
        action: { type: 'mqtt', rule: this.rule.id, device: s.device, topic: fillTemplate(m.topic, this.rule.id, s), payload },
      });
    }
  }

  /** Clears every alarm this rule holds: the rule changed shape or went away. */
  clearAll(ts: number): void {
    for (const t of [...this.state.raised.values()]) {
      this.transition({ ...t, state: 'cleared', ts, value: 0, message: 'rule changed or removed; alarm reset' });
    }
    this.state.autoClear.clear();
  }

  private alarm(s: Signal): void {
    const held = this.state.raised.has(s.device);
    if ((s.state === 'raised') === held) return;
    const spec = this.rule.outputs.alarm!;
    const message =
      spec.message !== undefined && s.state === 'raised' ? fillTemplate(spec.message, this.rule.id, s) : defaultMessage(this.detector, s);
    // An infinite value (a remaining life of "never") has no JSON or InfluxDB form.
    const value = Number.isFinite(s.value) ? s.value : 0;
    this.transition({
      device: s.device,
      rule: this.rule.id,
      state: s.state as 'raised' | 'cleared',
      severity: spec.severity,
      value,
      ts: s.ts,
      message,
    });
  }

  private transition(t: AlarmTransition): void {
    if (t.state === 'raised') this.state.raised.set(t.device, t);
    else this.state.raised.delete(t.device);
    this.emit({ type: 'alarm', alarm: t });
    for (const a of this.rule.outputs.actions ?? []) {
      if (a.modbusCoil === undefined) continue;
      this.emit({
        type: 'action',
        action: { type: 'modbus-coil', rule: t.rule, device: t.device, address: a.modbusCoil, value: t.state === 'raised' },
      });
    }
  }

  private derived(s: Signal, name: string): DerivedEvent {
    const fields: Record<string, number | string> = {};
    // Infinity (a remaining life of "never") has no JSON or InfluxDB form, so it is left out.
    const put = (k: string, v: FieldValue): void => {
      if (typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))) fields[k] = v;
    };
    if (this.derivedFields) for (const [f, read] of this.derivedFields) put(f, read(s));
    else {
      for (const [k, v] of Object.entries(s.row.fields ?? {})) put(k, v);
      for (const [k, v] of Object.entries(s.fields ?? {})) put(k, v);
    }
    return {
      rule: this.rule.id,
      name,
      device: s.device,
      key: s.key,
      ts: s.ts,
      state: s.state,
      value: Number.isFinite(s.value) ? s.value : 0,
      fields,
    };
  }
}
