import type { InfluxSinkOptions, SinkStatus } from './influx-writer.js';
import type { SinkItem } from './sink-items.js';

/** The sink's thread to its worker. `upTo` counts items handed over since start, the batch included. */
export type ToWorker = { type: 'items'; items: SinkItem[]; upTo: number } | { type: 'stop'; deadlineMs: number };

/** A counter the worker bumped, replayed on the sink's thread where the metrics live. */
export type CounterCall =
  | { name: 'written'; n: number }
  | { name: 'dropped'; n: number; reason: string }
  | { name: 'retried' }
  | { name: 'writeSeconds'; s: number };

/** What the sink's thread mirrors of the worker: it answers status(), hasRoom() and problem() from it. */
export interface WorkerView {
  status: SinkStatus;
  hasRoom: boolean;
  problem?: string;
}

/** The worker to the sink's thread; `view` always comes after the counters and logs it reflects. */
export type FromWorker =
  | { type: 'started'; view: WorkerView }
  | { type: 'start-failed'; message: string }
  | { type: 'log'; line: string }
  | { type: 'update'; counters: CounterCall[]; view: WorkerView }
  /** Items up to `upTo` are on disk; `refused`: the store refused at least one of the batch that ends there. */
  | { type: 'synced'; upTo: number; refused: boolean; view: WorkerView }
  | { type: 'failed'; message: string; view: WorkerView }
  | { type: 'stopped'; view: WorkerView };

export interface WorkerSetup {
  options: InfluxSinkOptions;
  logLevel: string;
}
