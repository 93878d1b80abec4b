import type { InferenceEvent } from '../../normalise/inference-event.js';
import type { EventFilter, Predicate } from './language.js';
import { eventReader, rowReader, type Row } from './row.js';

/** Compiles a condition from the rule language into a test on a row. */
export function compilePredicate(p: Predicate): (r: Row) => boolean {
  if (p.any) {
    const parts = p.any.map(compilePredicate);
    return (r) => parts.some((f) => f(r));
  }
  if (p.all) {
    const parts = p.all.map(compilePredicate);
    return (r) => parts.every((f) => f(r));
  }
  if (p.not) {
    const inner = compilePredicate(p.not);
    return (r) => !inner(r);
  }
  const read = rowReader(p.field!);
  const tests: ((v: number | string | undefined) => boolean)[] = [];
  const num = (f: (v: number) => boolean) => (v: number | string | undefined) => typeof v === 'number' && f(v);
  if (p.gt !== undefined) tests.push(num((v) => v > p.gt!));
  if (p.gte !== undefined) tests.push(num((v) => v >= p.gte!));
  if (p.lt !== undefined) tests.push(num((v) => v < p.lt!));
  if (p.lte !== undefined) tests.push(num((v) => v <= p.lte!));
  if (p.eq !== undefined) tests.push((v) => v === p.eq);
  if (p.ne !== undefined) tests.push((v) => v !== p.ne);
  if (p.in !== undefined) {
    const set = new Set<number | string>(p.in);
    tests.push((v) => v !== undefined && set.has(v));
  }
  if (p.exists !== undefined) tests.push((v) => (v !== undefined) === p.exists);
  return (r) => {
    const v = read(r);
    for (const test of tests) if (!test(v)) return false;
    return true;
  };
}

/** Compiles a rule's input filter (devices, models, labels, where) into a test on an event. */
export function compileEventFilter(f: EventFilter): ((e: InferenceEvent) => boolean) | undefined {
  const tests: ((e: InferenceEvent) => boolean)[] = [];
  if (f.devices) {
    const devices = new Set(f.devices);
    tests.push((e) => devices.has(e.device));
  }
  if (f.models) {
    const models = new Set(f.models);
    tests.push((e) => models.has(e.model.name));
  }
  if (f.labels) {
    const labels = new Set(f.labels);
    const labelOf = eventReader('label');
    tests.push((e) => labels.has(labelOf(e) as string));
  }
  if (f.where) {
    const where = compilePredicate(f.where);
    tests.push((e) => where({ device: e.device, ts: e.ts, event: e }));
  }
  if (tests.length === 0) return undefined;
  if (tests.length === 1) return tests[0];
  return (e) => tests.every((t) => t(e));
}
