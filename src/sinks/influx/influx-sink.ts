import { InfluxDB, type IPoint } from 'influx';
import { EMPTY, map, merge, type Observable, type Subscription } from 'rxjs';
import type { AlarmEvent } from '../../core/alarm.js';
import type { Logger } from '../../core/logger.js';
import type { Part } from '../../core/part.js';
import type { InferenceEvent } from '../../normalise/inference-event.js';
import { alarmPoint, derivedPoint, inferencePoint, UniqueTimestamps } from './points.js';
import type { DerivedEvent } from '../../core/rule-output.js';

export interface InfluxSinkOptions {
  url: string;
  database: string;
  batchSize: number;
  flushIntervalMs: number;
  maxBufferedPoints: number;
}

export interface SinkCounters {
  written(n: number): void;
  dropped(n: number, reason: string): void;
  writeError(): void;
  buffered(n: number): void;
}

const MAX_BACKOFF_MS = 30_000;
/** One HTTP request may not outlast this: stop() and a failing InfluxDB must not stall the daemon. */
const REQUEST_TIMEOUT_MS = 2000;

/** A client for `url` (user:password@ in it for auth) whose requests give up after REQUEST_TIMEOUT_MS. */
export function influxClient(options: { url: string; database: string }): InfluxDB {
  const url = new URL(options.url);
  return new InfluxDB({
    host: url.hostname,
    port: Number(url.port || (url.protocol === 'https:' ? 443 : 8086)),
    protocol: url.protocol === 'https:' ? 'https' : 'http',
    database: options.database,
    pool: { requestTimeout: REQUEST_TIMEOUT_MS, maxRetries: 0 },
    ...(url.username ? { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) } : {}),
  });
}

/** InfluxDB answered 4xx: the batch itself is wrong (1.x writes the valid points of a partial write). */
function rejectedByServer(err: unknown): number | undefined {
  const status = (err as { res?: { statusCode?: number } }).res?.statusCode;
  return status !== undefined && status >= 400 && status < 500 ? status : undefined;
}

/**
 * Batches points in memory and writes them in order. A batch that fails for a transient reason
 * stays at the head of the queue and is retried with exponential backoff and jitter, so an
 * InfluxDB outage delays but loses nothing until `maxBufferedPoints`; then the oldest waiting
 * points are dropped and counted. A batch InfluxDB rejects (4xx) is dropped and counted, so one
 * bad point cannot block everything after it.
 */
export class InfluxSink implements Part {
  readonly name = 'influx';
  private readonly client: InfluxDB;
  private readonly queue: IPoint[] = [];
  private readonly timestamps = new UniqueTimestamps();
  private subscription?: Subscription;
  private timer?: NodeJS.Timeout;
  private flushing?: Promise<void>;
  /** Points at the head of the queue that are in an HTTP request right now. */
  private inFlight = 0;
  private failures = 0;
  private retryAt = 0;
  private lastError?: string;
  private databaseReady = false;

  constructor(
    private readonly options: InfluxSinkOptions,
    private readonly streams: {
      events$: Observable<InferenceEvent>;
      alarms$: Observable<AlarmEvent>;
      derived$?: Observable<DerivedEvent>;
    },
    private readonly counters: SinkCounters,
    private readonly log: Logger,
  ) {
    this.client = influxClient(options);
  }

  /** Never waits for InfluxDB: the first flush creates the database, so an outage cannot delay READY. */
  async start(): Promise<void> {
    const { events$, alarms$, derived$ } = this.streams;
    const t = this.timestamps;
    this.subscription = merge(
      events$.pipe(map((e) => inferencePoint(e, t.next(`inference/${e.device}`, e.ts)))),
      alarms$.pipe(map((a) => alarmPoint(a, t.next(`alarm/${a.device}/${a.rule}`, a.ts)))),
      (derived$ ?? EMPTY).pipe(map((d) => derivedPoint(d, t.next(`derived/${d.device}/${d.rule}/${d.name}`, d.ts)))),
    ).subscribe((point) => this.enqueue(point));
    this.timer = setInterval(() => void this.flush(), this.options.flushIntervalMs);
  }

  /** Stops taking input and writes what is queued, retrying until `deadlineMs` passes. */
  async stop(deadlineMs = 3000): Promise<void> {
    this.subscription?.unsubscribe();
    clearInterval(this.timer);
    const until = Date.now() + deadlineMs;
    while (this.queue.length > 0 && Date.now() < until) {
      this.retryAt = 0;
      const left = until - Date.now();
      await Promise.race([this.flush(), new Promise((r) => setTimeout(r, left).unref())]);
      if (this.queue.length > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    }
    if (this.queue.length > 0) {
      this.counters.dropped(this.queue.length, 'shutdown');
      this.log.error({ points: this.queue.length, err: this.lastError }, 'InfluxDB points not written before shutdown');
    }
  }

  problem(): string | undefined {
    return this.failures > 0 ? `write failing (${this.failures}x): ${this.lastError ?? ''}` : undefined;
  }

  pending(): number {
    return this.queue.length;
  }

  flush(): Promise<void> {
    this.flushing ??= this.writeBatches().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private enqueue(point: IPoint): void {
    this.queue.push(point);
    const excess = this.queue.length - Math.max(this.options.maxBufferedPoints, this.inFlight);
    if (excess > 0) {
      // The oldest points that are not in a request right now: those in flight are accounted for by the write.
      this.queue.splice(this.inFlight, excess);
      this.counters.dropped(excess, 'buffer_full');
    }
    this.counters.buffered(this.queue.length);
    if (this.queue.length >= this.options.batchSize) void this.flush();
  }

  private async writeBatches(): Promise<void> {
    while (this.queue.length > 0 && Date.now() >= this.retryAt) {
      const batch = this.queue.slice(0, this.options.batchSize);
      this.inFlight = batch.length;
      let rejectedWith: number | undefined;
      try {
        if (!this.databaseReady) await this.ensureDatabase();
        await this.client.writePoints(batch, { precision: 'n' });
      } catch (err) {
        rejectedWith = rejectedByServer(err);
        if (rejectedWith === undefined) return this.backOff(err);
        this.log.error({ status: rejectedWith, points: batch.length, err: String(err) }, 'InfluxDB rejected a batch; dropped');
      } finally {
        this.inFlight = 0;
      }
      this.queue.splice(0, batch.length);
      if (this.failures > 0) this.log.info({ after: this.failures }, 'InfluxDB reachable again');
      this.failures = 0;
      if (rejectedWith === undefined) this.counters.written(batch.length);
      else this.counters.dropped(batch.length, `rejected_${rejectedWith}`);
      this.counters.buffered(this.queue.length);
    }
  }

  private backOff(err: unknown): void {
    this.failures++;
    this.lastError = err instanceof Error ? err.message : String(err);
    this.counters.writeError();
    const backoff = Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.min(this.failures, 10));
    this.retryAt = Date.now() + backoff * (0.5 + Math.random() / 2);
    if (this.failures === 1) this.log.warn({ err: this.lastError }, 'InfluxDB write failed; retrying with backoff');
  }

  private async ensureDatabase(): Promise<void> {
    const names = await this.client.getDatabaseNames();
    if (!names.includes(this.options.database)) await this.client.createDatabase(this.options.database);
    this.databaseReady = true;
  }
}
