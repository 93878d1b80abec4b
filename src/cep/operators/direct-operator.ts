import { Observable, type OperatorFunction } from 'rxjs';

/** An operator called directly: `push` takes one input and calls `emit` for each output. */
export interface Direct<I> {
  /** A throwing user callback throws here. */
  push(input: I): void;
  /** The input ended: what the operator emits then (windows closing), if anything. */
  complete?(): void;
  dispose(): void;
}

/** An RxJS operator that the engine can also run as direct calls, the same code in both. */
export interface DirectOperator<I, O> extends OperatorFunction<I, O> {
  direct(emit: (out: O) => void): Direct<I>;
}

/**
 * Builds both forms from the direct one. As an operator, a throw in `push` becomes the stream's
 * error and the operator's timers stop with the subscription.
 */
export function directOperator<I, O>(make: (emit: (out: O) => void) => Direct<I>): DirectOperator<I, O> {
  const op: OperatorFunction<I, O> = (source) =>
    new Observable<O>((subscriber) => {
      const stage = make((out) => subscriber.next(out));
      const subscription = source.subscribe({
        next(input) {
          try {
            stage.push(input);
          } catch (err) {
            subscriber.error(err);
          }
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => {
          try {
            stage.complete?.();
          } catch (err) {
            subscriber.error(err);
            return;
          }
          subscriber.complete();
        },
      });
      return () => {
        subscription.unsubscribe();
        stage.dispose();
      };
    });
  return Object.assign(op, { direct: make });
}
