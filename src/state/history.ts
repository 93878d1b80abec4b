import type { Observable, Subscription } from 'rxjs';
import type { AlarmEvent } from '../core/alarm.js';
import type { Part } from '../core/part.js';
import { topClass, type InferenceEvent } from '../normalise/inference-event.js';

/** The device values kept for HistoryRead. */
export type HistoryField = 'anomaly' | 'confidence' | 'label';

export interface HistoryQuery {
  /** Inclusive bounds, epoch ms; absent: open. */
  from?: number;
  to?: number;
  /** 0: no limit (the source still caps at MAX_HISTORY_ROWS). */
  limit: number;
  /** Rows of the same query to skip (a continuation). */
  offset?: number;
  newestFirst: boolean;
}

export interface HistoryValue {
  ts: number;
  value: number | string;
}

/** Where OPC UA HistoryRead (and later GET /history) reads from. */
export interface HistorySource {
  values(device: string, field: HistoryField, q: HistoryQuery): Promise<HistoryValue[]>;
  /** Alarm events of one device, or of every device. */
  alarms(device: string | undefined, q: HistoryQuery): Promise<AlarmEvent[]>;
}

/** One answer is never larger than this, whatever a client asks: the rest comes by continuation. */
export const MAX_HISTORY_ROWS = 100_000;

/** A fixed-capacity FIFO: the oldest entry goes when a new one comes. */
class Ring<T> {
  private readonly items: T[] = [];
  private start = 0;

  constructor(private readonly capacity: number) {}

  push(item: T): void {
    if (this.items.length < this.capacity) this.items.push(item);
    else {
      this.items[this.start] = item;
      this.start = (this.start + 1) % this.capacity;
    }
  }

  /** Oldest first. */
  toArray(): T[] {
    return [...this.items.slice(this.start), ...this.items.slice(0, this.start)];
  }
}

interface Sample {
  ts: number;
  anomaly?: number;
  confidence?: number;
  label?: string;
}

/** Applies a query to rows sorted oldest first. */
export function select<T>(rows: T[], tsOf: (r: T) => number, q: HistoryQuery): T[] {
  const inRange = rows.filter((r) => (q.from === undefined || tsOf(r) >= q.from) && (q.to === undefined || tsOf(r) <= q.to));
  const ordered = q.newestFirst ? inRange.reverse() : inRange;
  const offset = q.offset ?? 0;
  const limit = q.limit > 0 ? Math.min(q.limit, MAX_HISTORY_ROWS) : MAX_HISTORY_ROWS;
  return ordered.slice(offset, offset + limit);
}

/**
 * History when no InfluxDB is configured: the last `perDevice` samples of each device and the
 * last `alarms` alarm events, in memory. Bounded: memory is devices × perDevice samples at most.
 */
export class HistoryRing implements Part, HistorySource {
  readonly name = 'history';
  private readonly samples = new Map<string, Ring<Sample>>();
  private readonly alarmRing: Ring<AlarmEvent>;
  private subscriptions: Subscription[] = [];

  constructor(
    private readonly streams: { events$: Observable<InferenceEvent>; alarms$: Observable<AlarmEvent> },
    private readonly capacity: { perDevice: number; alarms: number },
  ) {
    this.alarmRing = new Ring(capacity.alarms);
  }

  async start(): Promise<void> {
    this.subscriptions = [
      this.streams.events$.subscribe((e) => this.addEvent(e)),
      this.streams.alarms$.subscribe((a) => this.alarmRing.push(a)),
    ];
  }

  async stop(): Promise<void> {
    for (const s of this.subscriptions.splice(0)) s.unsubscribe();
  }

  problem(): string | undefined {
    return undefined;
  }

  addEvent(e: InferenceEvent): void {
    let ring = this.samples.get(e.device);
    if (!ring) {
      ring = new Ring(this.capacity.perDevice);
      this.samples.set(e.device, ring);
    }
    const top = topClass(e);
    ring.push({ ts: e.ts, anomaly: e.anomaly, confidence: top.confidence, label: top.label });
  }

  async values(device: string, field: HistoryField, q: HistoryQuery): Promise<HistoryValue[]> {
    const rows = (this.samples.get(device)?.toArray() ?? []).flatMap((s) => {
      const value = s[field];
      return value === undefined ? [] : [{ ts: s.ts, value }];
    });
    return select(rows, (r) => r.ts, q);
  }

  async alarms(device: string | undefined, q: HistoryQuery): Promise<AlarmEvent[]> {
    const rows = this.alarmRing.toArray().filter((a) => device === undefined || a.device === device);
    return select(rows, (a) => a.ts, q);
  }
}
