import { keyedStep, type KeyedOperator } from './keyed-step.js';

export interface MismatchOptions<T> {
  /** The group whose members should agree, e.g. every device running one model. */
  groupOf: (event: T) => string;
  memberOf: (event: T) => string;
  /** The value members should share, e.g. the model version; undefined skips the event. */
  valueOf: (event: T) => string | undefined;
}

export interface Disagreement<T> {
  /** The member whose state changed. */
  key: string;
  state: 'raised' | 'cleared';
  /** The member's value and the group's. */
  value: string;
  majority: string;
  /** The event that changed the group. */
  event: T;
}

export interface Group {
  members: Map<string, string>;
  counts: Map<string, number>;
  odd: Set<string>;
  /** The majority the odd set was computed against. */
  majority?: string;
}

/**
 * Keyed by member: raised while a member's value differs from its group's majority (ties go to
 * the greatest value, i.e. the newest version string), cleared when it agrees again. Only an
 * event that changes a member's value re-evaluates the group.
 */
export function mismatch<T>(
  o: MismatchOptions<T>,
  shared?: Map<string, Group>,
  /**
   * Each member's value by member as well, where reading one costs less than a lookup in its
   * group's map (the engine's device table): an event that changes nothing, nearly all of them,
   * then touches no group.
   */
  valueByMember?: Map<string, { group: string; value: string }>,
): KeyedOperator<T, Disagreement<T>[]> {
  return keyedStep<T, Group, Disagreement<T>[]>(
    {
      keyOf: o.groupOf,
      init: () => ({ members: new Map(), counts: new Map(), odd: new Set() }),
      step(g, event, group) {
        const value = o.valueOf(event);
        if (value === undefined) return undefined;
        const member = o.memberOf(event);
        const known = valueByMember?.get(member);
        if (known !== undefined && known.value === value && known.group === group) return undefined;
        const before = g.members.get(member);
        valueByMember?.set(member, { group, value });
        if (before === value) return undefined;
        if (before !== undefined) g.counts.set(before, g.counts.get(before)! - 1);
        g.counts.set(value, (g.counts.get(value) ?? 0) + 1);
        g.members.set(member, value);
        const majority = majorityOf(g.counts)!;
        const changes: Disagreement<T>[] = [];
        const judge = (m: string, v: string): void => {
          const odd = v !== majority;
          if (odd === g.odd.has(m)) return;
          if (odd) g.odd.add(m);
          else g.odd.delete(m);
          changes.push({ key: m, state: odd ? 'raised' : 'cleared', value: v, majority, event });
        };
        // Only a new majority can change other members' standing; otherwise judge the one that changed.
        if (majority !== g.majority) for (const [m, v] of g.members) judge(m, v);
        else judge(member, value);
        g.majority = majority;
        return changes.length > 0 ? changes : undefined;
      },
    },
    shared,
  );
}

function majorityOf(counts: Map<string, number>): string | undefined {
  let best: string | undefined;
  let bestCount = 0;
  for (const [value, n] of counts) {
    if (n > bestCount || (n === bestCount && n > 0 && best !== undefined && value.localeCompare(best, undefined, { numeric: true }) > 0)) {
      best = value;
      bestCount = n;
    }
  }
  return best;
}
