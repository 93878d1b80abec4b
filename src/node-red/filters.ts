import type { AlarmEventState } from '../core/alarm.js';
import { globMatcher } from './match.js';

/** The fields of an inference event the filters look at (the gateway republishes whole events). */
export interface FilterableEvent {
  device: string;
  model?: { name?: string; version?: string };
  label?: string;
  anomaly?: number;
}

export interface EventFilterOptions {
  devices?: string;
  /** Globs over the model name or `name@version`. */
  models?: string;
  labels?: string;
  /** Events without an anomaly score fail a minimum. */
  minAnomaly?: number;
}

export function eventFilter(o: EventFilterOptions): (e: FilterableEvent) => boolean {
  const device = globMatcher(o.devices);
  const model = globMatcher(o.models);
  const label = globMatcher(o.labels);
  const anyLabel = (o.labels ?? '').trim() === '';
  const minAnomaly = o.minAnomaly;
  return (e) => {
    if (!device(e.device)) return false;
    const name = e.model?.name ?? '';
    if (!model(name) && !model(`${name}@${e.model?.version ?? ''}`)) return false;
    if (!anyLabel && (e.label === undefined || !label(e.label))) return false;
    return minAnomaly === undefined || (e.anomaly !== undefined && e.anomaly >= minAnomaly);
  };
}

export interface FilterableAlarm {
  device: string;
  rule: string;
  severity: number;
  state?: AlarmEventState;
}

export interface AlarmFilterOptions {
  devices?: string;
  rules?: string;
  minSeverity?: number;
  /** Transitions to pass; all when absent or empty. */
  states?: string[];
}

export function alarmFilter(o: AlarmFilterOptions): (a: FilterableAlarm) => boolean {
  const device = globMatcher(o.devices);
  const rule = globMatcher(o.rules);
  const states = o.states && o.states.length > 0 ? new Set(o.states) : undefined;
  const minSeverity = o.minSeverity ?? 0;
  return (a) =>
    device(a.device) &&
    rule(a.rule) &&
    a.severity >= minSeverity &&
    (states === undefined || (a.state !== undefined && states.has(a.state)));
}
