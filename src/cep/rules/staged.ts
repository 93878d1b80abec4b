import type { OperatorFunction } from 'rxjs';
import { directOperator, type Direct, type DirectOperator } from '../operators/direct-operator.js';
import type { KeyedOperator } from '../operators/keyed-step.js';

/**
 * A rule stage in both forms: an RxJS operator, and (for the stages that have one) a direct form
 * the engine runs without a subscriber per stage. A rule whose stages all have a direct form runs
 * as one chain of calls per event; one that has a stage without runs as RxJS.
 */
export interface Staged<I, O> {
  op: OperatorFunction<I, O>;
  direct?: (emit: (out: O) => void) => Direct<I>;
}

/** A stage that exists as an RxJS operator only (timers, joins, windows, patterns for now). */
export const rxOnly = <I, O>(op: OperatorFunction<I, O>): Staged<I, O> => ({ op });

/** A stage defined by its direct form; its operator runs the same code, so both cannot differ. */
export function direct<I, O>(make: (emit: (out: O) => void) => Direct<I>): Staged<I, O> {
  return { op: directOperator(make), direct: make };
}

/** A stage from an operator that has a direct form. */
export const fromOperator = <I, O>(operator: DirectOperator<I, O>): Staged<I, O> => ({ op: operator, direct: operator.direct });

/** A stage that calls `f` on each input: a filter or a map. */
export const each = <I, O>(f: (input: I, emit: (out: O) => void) => void): Staged<I, O> =>
  direct((emit) => ({ push: (input) => f(input, emit), dispose: () => undefined }));

/** A keyed operator's state machine, its outputs turned into the stage's by `out` (none, one or many). */
export const keyed = <I, X, O>(operator: KeyedOperator<I, X>, out: (x: X, emit: (o: O) => void) => void): Staged<I, O> =>
  direct((emit) => {
    const runner = operator.runner((x) => out(x, emit));
    return {
      push(input) {
        const x = runner.step(input);
        if (x !== undefined) out(x, emit);
      },
      dispose: () => runner.dispose(),
    };
  });

/** Two stages one after the other; direct only when both are. */
export function chain<I, M, O>(a: Staged<I, M> | undefined, b: Staged<M, O>): Staged<I, O> {
  if (a === undefined) return b as unknown as Staged<I, O>;
  const first = a.direct;
  const second = b.direct;
  return {
    op: (source) => b.op(a.op(source)),
    ...(first && second
      ? {
          direct: (emit: (out: O) => void): Direct<I> => {
            const later = second(emit);
            const earlier = first((m) => later.push(m));
            return {
              push: (input) => earlier.push(input),
              // What the earlier stage emits as it completes goes through the later one before that completes.
              complete: () => (earlier.complete?.(), later.complete?.()),
              dispose: () => (earlier.dispose(), later.dispose()),
            };
          },
        }
      : {}),
  };
}
