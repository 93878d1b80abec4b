import { retained, type AlarmCondition, type AlarmEvent } from '../core/alarm.js';
import { alarmFilter, type AlarmFilterOptions } from './filters.js';

const keyOf = (a: { device: string; rule: string }): string => `${a.device}\u0000${a.rule}`;

/**
 * The alarms that need attention (active, or not yet acknowledged and confirmed), as a dashboard
 * table wants them: loaded from GET /alarms, then kept current by the alarm transitions.
 */
export class AlarmList {
  private readonly byKey = new Map<string, AlarmCondition>();
  private readonly accept: (a: AlarmCondition) => boolean;

  constructor(filter: AlarmFilterOptions) {
    this.accept = alarmFilter({ ...filter, states: undefined });
  }

  reset(conditions: AlarmCondition[]): void {
    this.byKey.clear();
    for (const c of conditions) if (retained(c) && this.accept(c)) this.byKey.set(keyOf(c), c);
  }

  /** Applies one transition; false when it is filtered out. */
  apply(event: AlarmEvent): boolean {
    if (!this.accept(event)) return false;
    const { state: _state, ...condition } = event;
    if (retained(condition)) this.byKey.set(keyOf(condition), condition);
    else this.byKey.delete(keyOf(condition));
    return true;
  }

  /** Active first, then by severity (highest first), then the newest raised first. */
  list(): AlarmCondition[] {
    return [...this.byKey.values()].sort(
      (a, b) => Number(b.active) - Number(a.active) || b.severity - a.severity || b.raisedAt - a.raisedAt,
    );
  }
}
