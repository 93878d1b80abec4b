import type { InfluxSinkOptions, SinkStatus } from './influx-writer.js';
import type { PackedEvents } from './event-pack.js';
import type { SinkItem } from './sink-items.js';

/** The sink's thread to its worker. `upTo` counts items handed over since start, the batch included. */
export type ToWorker = { type: 'items'; events: PackedEvents; others: SinkItem[]; upTo: number } | { type: 'stop'; deadlineMs: number };

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

/** What a worker report says besides its own news: the counters bumped since the last one, and the view after them. */
export interface Report {
  counters: CounterCall[];
  view: WorkerView;
}

/** A report's own news. */
export type News =
  | { type: 'started' }
  /** Counters only. */
  | { type: 'update' }
  /** Items up to `upTo` are on disk; `refused`: the store refused at least one of the batch that ends there. */
  | { type: 'synced'; upTo: number; refused: boolean }
  | { type: 'failed'; message: string }
  | { type: 'stopped' };

/** The worker to the sink's thread. */
export type FromWorker = { type: 'start-failed'; message: string } | { type: 'log'; line: string } | (Report & News);

export interface WorkerSetup {
  options: InfluxSinkOptions;
  logLevel: string;
}
