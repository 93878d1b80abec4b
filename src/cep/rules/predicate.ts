import type { Taken } from '../operators/nfa.js';
import type { EventFilter, Predicate, StepRef } from './language.js';
import { eventReader, rowReader, type Row } from './row.js';

/** What a condition in a pattern step reads besides the row: the events earlier steps took. */
type Test = (r: Row, taken?: Taken<Row>) => boolean;
type Value = number | string | undefined;

/** Compiles a condition from the rule language into a test on a row (in a pattern step, with the events taken so far). */
export function compilePredicate(p: Predicate): Test {
  if (p.any) {
    const parts = p.any.map(compilePredicate);
    return (r, t) => parts.some((f) => f(r, t));
  }
  if (p.all) {
    const parts = p.all.map(compilePredicate);
    return (r, t) => parts.every((f) => f(r, t));
  }
  if (p.not) {
    const inner = compilePredicate(p.not);
    return (r, t) => !inner(r, t);
  }
  const read = rowReader(p.field!);
  const tests: ((v: Value, t: Taken<Row> | undefined) => boolean)[] = [];
  const num = (bound: number | StepRef, f: (v: number, b: number) => boolean) => {
    const other = operand(bound);
    tests.push((v, t) => {
      const b = other(t);
      return typeof v === 'number' && typeof b === 'number' && f(v, b);
    });
  };
  if (p.gt !== undefined) num(p.gt, (v, b) => v > b);
  if (p.gte !== undefined) num(p.gte, (v, b) => v >= b);
  if (p.lt !== undefined) num(p.lt, (v, b) => v < b);
  if (p.lte !== undefined) num(p.lte, (v, b) => v <= b);
  if (p.eq !== undefined) {
    const other = operand(p.eq);
    tests.push((v, t) => v === other(t));
  }
  if (p.ne !== undefined) {
    const other = operand(p.ne);
    tests.push((v, t) => v !== other(t));
  }
  if (p.in !== undefined) {
    const set = new Set<number | string>(p.in);
    tests.push((v) => v !== undefined && set.has(v));
  }
  if (p.exists !== undefined) tests.push((v) => (v !== undefined) === p.exists);
  return (r, t) => {
    const v = read(r);
    for (const test of tests) if (!test(v, t)) return false;
    return true;
  };
}

/** A constant, or a value of the events a step took; undefined (so the comparison fails) outside a pattern or before the step took any. */
function operand(b: number | string | StepRef): (t: Taken<Row> | undefined) => Value {
  if (typeof b !== 'object') return () => b;
  const read = b.field !== undefined ? rowReader(b.field) : () => undefined;
  const scale = (v: Value): Value => (typeof v === 'number' ? v * (b.times ?? 1) + (b.plus ?? 0) : v);
  const of = b.of ?? 'last';
  return (t) => {
    if (t === undefined) return undefined;
    if (of === 'last') {
      const e = t.last(b.step);
      return e && scale(read(e));
    }
    if (of === 'first') {
      const e = t.first(b.step);
      return e && scale(read(e));
    }
    const events = t.all(b.step);
    if (of === 'count') return scale(events.length);
    let n = 0;
    let sum = 0;
    let min = Infinity;
    let max = -Infinity;
    for (const e of events) {
      const v = read(e);
      if (typeof v !== 'number') continue;
      n++;
      sum += v;
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    if (n === 0) return undefined;
    return scale(of === 'sum' ? sum : of === 'avg' ? sum / n : of === 'min' ? min : max);
  };
}

/** Compiles an event filter (devices, models, labels, where) into a test on a row: a rule's input, a join's other side, a step's `from`. */
export function compileEventFilter(f: EventFilter): ((r: Row) => boolean) | undefined {
  const tests: ((r: Row) => boolean)[] = [];
  if (f.devices) {
    const devices = new Set(f.devices);
    tests.push((r) => devices.has(r.device));
  }
  if (f.models) {
    const models = new Set(f.models);
    tests.push((r) => r.event !== undefined && models.has(r.event.model.name));
  }
  if (f.labels) {
    const labels = new Set(f.labels);
    const labelOf = eventReader('label');
    tests.push((r) => r.event !== undefined && labels.has(labelOf(r.event) as string));
  }
  if (f.where) {
    const where = compilePredicate(f.where);
    tests.push((r) => where(r));
  }
  if (tests.length === 0) return undefined;
  if (tests.length === 1) return tests[0];
  return (r) => tests.every((t) => t(r));
}
