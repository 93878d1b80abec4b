import type { Logger } from '../../core/logger.js';
import { MemoryQueue } from './buffer/memory-queue.js';
import type { FullPolicy, PointStore, StoreDropReason, StoreEvents } from './buffer/point-store.js';
import { WriteAheadLog } from './buffer/write-ahead-log.js';
import { Forwarder, type ForwarderOptions, type SinkCounters, type SinkState } from './forwarder.js';
import { influxClient, prepareDatabase, type RetentionPolicySettings } from './influx-admin.js';
import { LineWriter, type InfluxEndpoint } from './line-writer.js';

export interface InfluxSinkOptions extends ForwarderOptions, Omit<InfluxEndpoint, 'retentionPolicy'> {
  createDatabase: boolean;
  retentionPolicy?: RetentionPolicySettings;
  buffer:
    | { enabled: true; dir: string; maxBytes: number; segmentBytes: number; whenFull: FullPolicy; fsync: 'batch' | number }
    | { enabled: false; maxPoints: number };
}

export type SinkStatus = {
  state: SinkState;
  bufferedPoints: number;
  bufferedBytes: number;
  oldestPointAgeSeconds: number;
  buffer: 'disk' | 'memory';
};

const DROP_REASON: Record<StoreDropReason, string> = {
  'drop-oldest': 'buffer_full_drop_oldest',
  'refuse-newest': 'buffer_full_refuse_newest',
  'write-failed': 'buffer_write_failed',
};

/**
 * Every event, alarm transition, derived event and gateway figure bound for InfluxDB goes through
 * a store (by default the on-disk write-ahead log) and from there upstream in order. It runs in the
 * sink's worker thread (influx-worker.ts), off the thread that takes events.
 */
export class InfluxWriter {
  private readonly store: PointStore;
  private readonly forwarder: Forwarder;
  private readonly writer: LineWriter;
  private taking = false;

  constructor(
    private readonly options: InfluxSinkOptions,
    private readonly counters: SinkCounters,
    private readonly log: Logger,
  ) {
    const events: StoreEvents = {
      dropped: (n, reason) => counters.dropped(n, DROP_REASON[reason]),
      full: (episode, dropped) => this.fullEpisode(episode, dropped),
      readable: () => this.forwarder.readable(),
    };
    const b = options.buffer;
    this.store = b.enabled ? new WriteAheadLog(b, events, log) : new MemoryQueue(b.maxPoints, events);
    const endpoint = { ...options, retentionPolicy: options.retentionPolicy?.name };
    this.writer = new LineWriter(endpoint);
    const admin = influxClient(options);
    const upstream = {
      prepare: () => (options.createDatabase ? prepareDatabase(admin, options.database, options.retentionPolicy, log) : Promise.resolve()),
      write: (lines: string[]) => this.writer.write(lines),
    };
    this.forwarder = new Forwarder(this.store, upstream, options, counters, log);
  }

  /** Opens the buffer (a restart finds what the last run left) but never waits for InfluxDB. */
  async start(): Promise<void> {
    await this.store.open();
    this.taking = true;
    this.forwarder.start();
  }

  /** Takes one point's line (undefined: the item had no storable field); false when the store refused it (a full buffer that refuses the newest). */
  addLine(line: string | undefined): boolean {
    if (!this.taking) return false;
    if (line === undefined) return true;
    if (!this.store.append(line)) return false;
    this.forwarder.appended(line);
    return true;
  }

  /** Stops taking input and sends what it can until `deadlineMs`; the disk buffer keeps the rest for the next start. */
  async stop(deadlineMs = 3000): Promise<void> {
    this.taking = false;
    await this.forwarder.stop(deadlineMs);
    await this.store.close();
    this.writer.close();
    const left = this.store.depth().points;
    if (left === 0) return;
    if (this.options.buffer.enabled) this.log.info({ points: left }, 'points stay in the disk buffer for the next start');
    else {
      this.counters.dropped(left, 'shutdown');
      this.log.error({ points: left }, 'InfluxDB points not written before shutdown (disk buffer off)');
    }
  }

  problem(): string | undefined {
    return this.forwarder.problem();
  }

  status(): SinkStatus {
    const depth = this.store.depth();
    return {
      state: this.forwarder.state(),
      bufferedPoints: depth.points,
      bufferedBytes: depth.bytes,
      oldestPointAgeSeconds: this.forwarder.oldestAgeMs() / 1000,
      buffer: this.options.buffer.enabled ? 'disk' : 'memory',
    };
  }

  pending(): number {
    return this.store.depth().points;
  }

  /** False while a full buffer refuses new points: ingest should not accept (MQTT: no PUBACK, the MCU resends). */
  hasRoom(): boolean {
    return this.store.hasRoom();
  }

  /** Resolves when every point handed over so far is on disk (at once without the disk buffer). */
  durable(): Promise<void> {
    return this.store.durable();
  }

  private fullEpisode(episode: 'start' | 'end', dropped: number): void {
    const policy = this.options.buffer.enabled ? this.options.buffer.whenFull : 'drop-oldest';
    if (episode === 'start')
      this.log.warn({ policy }, `InfluxDB buffer full: ${policy === 'drop-oldest' ? 'dropping the oldest points' : 'refusing new points'}`);
    else this.log.info({ policy, dropped }, 'InfluxDB buffer has room again');
  }
}
