import type { Logger } from '../../core/logger.js';
import { Nap } from '../../core/nap.js';
import type { PointBatch, PointStore } from './buffer/point-store.js';
import { InfluxWriteError } from './line-writer.js';
import { lineMs } from './line-protocol.js';

export type SinkState = 'connected' | 'buffering' | 'draining';

export interface ForwarderOptions {
  batchSize: number;
  /** Longest a point waits for its batch to fill. */
  flushIntervalMs: number;
  /** Most points per second sent upstream, so a recovering InfluxDB is not flooded by the backlog. */
  maxPointsPerSecond: number;
  retry: { initialMs: number; maxMs: number };
}

export interface SinkCounters {
  written(n: number): void;
  dropped(n: number, reason: string): void;
  /** A write or preparation failed and will be tried again. */
  retried(): void;
  writeSeconds(s: number): void;
}

export interface Upstream {
  /** Creates what writes need (database, retention policy). */
  prepare(): Promise<void>;
  write(lines: string[]): Promise<void>;
}

/** Statuses that mean "this batch is wrong", not "InfluxDB is away": auth, missing database and throttling are retried. */
const RETRIED_4XX = new Set([401, 403, 404, 408, 429]);
const isRejection = (err: unknown): err is InfluxWriteError =>
  err instanceof InfluxWriteError && err.status !== undefined && err.status >= 400 && err.status < 500 && !RETRIED_4XX.has(err.status);

/**
 * Sends a store's points upstream in order, one batch at a time, and commits each batch once
 * InfluxDB confirmed it. A failure keeps the batch at the head and backs off exponentially with
 * jitter; a batch InfluxDB rejects as wrong is dropped and counted so it cannot block the rest.
 */
export class Forwarder {
  private failures = 0;
  private retryAt = 0;
  private lastError?: string;
  private prepared = false;
  private reached = false;
  private lastSendAt = 0;
  private tokens: number;
  private tokensAt = Date.now();
  private headMs?: number;
  private halted = false;
  private finishBy?: number;
  private readonly nap = new Nap();
  private running?: Promise<void>;

  constructor(
    private readonly store: PointStore,
    private readonly upstream: Upstream,
    private readonly options: ForwarderOptions,
    private readonly counters: SinkCounters,
    private readonly log: Logger,
  ) {
    this.tokens = options.maxPointsPerSecond;
  }

  start(): void {
    this.running = this.run().catch((err: Error) => {
      // After stop() the store closes under a read that may still be running: that is not a fault.
      if (!this.halted) this.log.error({ err: err.stack }, 'InfluxDB forwarder stopped by a bug');
    });
  }

  /** A point entered the store: the first one after an empty store is the oldest unsent. */
  appended(line: string): void {
    if (this.headMs === undefined) this.headMs = lineMs(line);
  }

  /** New points are readable: a full batch goes now rather than at the next interval. */
  readable(): void {
    if (this.store.depth().points >= this.options.batchSize) this.nap.wake();
  }

  /** Sends what it can until the store is empty or `deadlineMs` passes, then stops. */
  async stop(deadlineMs: number): Promise<void> {
    this.finishBy = Date.now() + deadlineMs;
    this.nap.wake();
    const deadline = new Promise<void>((r) => setTimeout(r, deadlineMs + 100).unref());
    await Promise.race([this.running, deadline]);
    this.halted = true;
    this.nap.wake();
  }

  state(): SinkState {
    if (this.failures > 0 || !this.reached) return 'buffering';
    return this.store.depth().points > 2 * this.options.batchSize ? 'draining' : 'connected';
  }

  problem(): string | undefined {
    return this.failures > 0 ? `write failing (${this.failures}x): ${this.lastError ?? ''}` : undefined;
  }

  /** Age of the oldest point not yet confirmed, to the batch. */
  oldestAgeMs(now = Date.now()): number {
    return this.headMs === undefined || this.store.depth().points === 0 ? 0 : Math.max(0, now - this.headMs);
  }

  private async run(): Promise<void> {
    while (!this.halted) {
      const stopping = this.finishBy !== undefined;
      if (stopping && Date.now() >= this.finishBy!) return;
      const wait = this.retryAt - Date.now();
      if (wait > 0) {
        if (stopping && Date.now() + wait >= this.finishBy!) return;
        await this.nap.sleep(wait);
        continue;
      }
      const batch = await this.store.read(this.options.batchSize);
      if (batch) this.headMs = lineMs(batch.lines[0]!);
      if (!this.prepared && !(await this.attempt(() => this.upstream.prepare()))) continue;
      this.prepared = true;
      if (!batch) {
        if (stopping) return;
        await this.nap.sleep(this.options.flushIntervalMs);
        continue;
      }
      const young = Date.now() - this.lastSendAt < this.options.flushIntervalMs;
      if (batch.lines.length < this.options.batchSize && young && !stopping) {
        await this.nap.sleep(this.options.flushIntervalMs - (Date.now() - this.lastSendAt));
        continue;
      }
      await this.pace(batch.lines.length);
      await this.send(batch);
    }
  }

  private async send(batch: PointBatch): Promise<void> {
    const started = performance.now();
    let rejected: InfluxWriteError | undefined;
    const ok = await this.attempt(async () => {
      try {
        await this.upstream.write(batch.lines);
      } catch (err) {
        if (!isRejection(err)) throw err;
        rejected = err;
      }
    });
    if (!ok) return;
    this.lastSendAt = Date.now();
    if (rejected) {
      this.log.error({ status: rejected.status, points: batch.lines.length, err: rejected.message }, 'InfluxDB rejected a batch; dropped');
      this.counters.dropped(batch.lines.length, `rejected_${rejected.status}`);
    } else {
      this.counters.writeSeconds((performance.now() - started) / 1000);
      this.counters.written(batch.lines.length);
    }
    this.store.commit(batch);
    this.headMs = this.store.depth().points > 0 ? lineMs(batch.lines.at(-1)!) : undefined;
  }

  /** Runs one upstream call; a failure is counted and schedules the retry. */
  private async attempt(call: () => Promise<void>): Promise<boolean> {
    try {
      await call();
    } catch (err) {
      if (err instanceof InfluxWriteError && err.status === 404) this.prepared = false;
      this.failures++;
      this.lastError = err instanceof Error ? err.message : String(err);
      this.counters.retried();
      const { initialMs, maxMs } = this.options.retry;
      const backoff = Math.min(maxMs, initialMs * 2 ** Math.min(this.failures - 1, 20));
      this.retryAt = Date.now() + backoff * (0.5 + Math.random() / 2);
      if (this.failures === 1) this.log.warn({ err: this.lastError }, 'InfluxDB write failed; buffering and retrying with backoff');
      return false;
    }
    if (this.failures > 0)
      this.log.info({ after: this.failures, buffered: this.store.depth().points }, 'InfluxDB reachable again; draining');
    this.failures = 0;
    this.reached = true;
    return true;
  }

  /** Token bucket: at most maxPointsPerSecond on average, a second's worth in one go. */
  private async pace(points: number): Promise<void> {
    const rate = this.options.maxPointsPerSecond;
    const now = Date.now();
    this.tokens = Math.min(rate, this.tokens + ((now - this.tokensAt) * rate) / 1000);
    this.tokensAt = now;
    if (this.tokens < points) await new Promise((r) => setTimeout(r, ((points - this.tokens) * 1000) / rate));
    this.tokens = Math.max(0, this.tokens - points);
    this.tokensAt = Math.max(this.tokensAt, Date.now());
  }
}
