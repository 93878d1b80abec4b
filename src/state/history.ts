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

/** A fixed-capacity FIFO of objects (alarm events, which are few): the oldest goes when a new one comes. */
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

/** What one kept sample costs: event time, anomaly, confidence (Float64 each) and a label index (Uint16). */
export const HISTORY_SAMPLE_BYTES = 8 + 8 + 8 + 2;
const NO_LABEL = 0xffff;
const FIRST_CAPACITY = 16;

/**
 * Distinct labels, numbered for the rings: labels repeat across devices and samples. Bounded, so
 * a device sending ever new labels cannot grow it: beyond 65,535 a new label is not kept in history.
 */
class LabelTable {
  private readonly index = new Map<string, number>();
  private readonly labels: string[] = [];

  of(label: string | undefined): number {
    if (label === undefined) return NO_LABEL;
    let i = this.index.get(label);
    if (i === undefined) {
      if (this.labels.length >= NO_LABEL) return NO_LABEL;
      i = this.labels.length;
      this.labels.push(label);
      this.index.set(label, i);
    }
    return i;
  }

  label(i: number): string | undefined {
    return i === NO_LABEL ? undefined : this.labels[i];
  }
}

/** One device's samples as columns of numbers in a ring: no object per sample, so nothing for the collector to trace. */
class SampleRing {
  private ts = new Float64Array(0);
  private anomaly = new Float64Array(0);
  private confidence = new Float64Array(0);
  private label = new Uint16Array(0);
  private start = 0;
  private size = 0;

  get capacity(): number {
    return this.ts.length;
  }

  /** Grows to `capacity` (never shrinks): a ring starts small, so devices that send little cost little. */
  grow(capacity: number): void {
    if (capacity <= this.ts.length) return;
    const order = this.order();
    const copy = <A extends Float64Array | Uint16Array>(from: A, to: A): A => {
      order.forEach((slot, i) => (to[i] = from[slot]!));
      return to;
    };
    this.ts = copy(this.ts, new Float64Array(capacity));
    this.anomaly = copy(this.anomaly, new Float64Array(capacity));
    this.confidence = copy(this.confidence, new Float64Array(capacity));
    this.label = copy(this.label, new Uint16Array(capacity));
    this.start = 0;
  }

  get full(): boolean {
    return this.size === this.ts.length;
  }

  push(ts: number, anomaly: number | undefined, confidence: number | undefined, label: number): void {
    const capacity = this.ts.length;
    const slot = (this.start + this.size) % capacity;
    this.ts[slot] = ts;
    this.anomaly[slot] = anomaly ?? NaN;
    this.confidence[slot] = confidence ?? NaN;
    this.label[slot] = label;
    if (this.size < capacity) this.size++;
    else this.start = (this.start + 1) % capacity;
  }

  /** One field's rows, oldest first; samples without the field are left out. */
  rows(field: HistoryField, labels: LabelTable): HistoryValue[] {
    const rows: HistoryValue[] = [];
    for (const slot of this.order()) {
      const value =
        field === 'label' ? labels.label(this.label[slot]!) : field === 'anomaly' ? this.anomaly[slot]! : this.confidence[slot]!;
      if (value !== undefined && !(typeof value === 'number' && Number.isNaN(value))) rows.push({ ts: this.ts[slot]!, value });
    }
    return rows;
  }

  /** Slots oldest first. */
  private order(): number[] {
    const capacity = this.ts.length;
    return Array.from({ length: this.size }, (_, i) => (this.start + i) % capacity);
  }
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
 * last `alarms` alarm events, in memory. Bounded in bytes: every ring together holds at most
 * `maxBytes` of samples (HISTORY_SAMPLE_BYTES each), a device's ring grows by doubling up to
 * `perDevice` or its share of that budget among the devices seen so far, whichever is smaller.
 */
export class HistoryRing implements Part, HistorySource {
  readonly name = 'history';
  private readonly samples = new Map<string, SampleRing>();
  private readonly labels = new LabelTable();
  private readonly alarmRing: Ring<AlarmEvent>;
  private readonly maxSamples: number;
  private allocated = 0;
  private subscriptions: Subscription[] = [];

  constructor(
    private readonly streams: { events$: Observable<InferenceEvent>; alarms$: Observable<AlarmEvent> },
    private readonly capacity: { perDevice: number; alarms: number; maxBytes: number },
  ) {
    this.alarmRing = new Ring(capacity.alarms);
    this.maxSamples = Math.floor(capacity.maxBytes / HISTORY_SAMPLE_BYTES);
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
      ring = new SampleRing();
      this.samples.set(e.device, ring);
    }
    // Out of budget before its first sample: this device has no history.
    if (ring.full && !this.grow(ring) && ring.capacity === 0) return;
    const top = topClass(e);
    ring.push(e.ts, e.anomaly, top.confidence, this.labels.of(top.label));
  }

  /** Bytes the rings hold now. */
  get bytes(): number {
    return this.allocated * HISTORY_SAMPLE_BYTES;
  }

  /** Doubles a full ring if its cap and the budget allow; false when it stays as it is. */
  private grow(ring: SampleRing): boolean {
    const share = Math.floor(this.maxSamples / this.samples.size);
    const cap = Math.min(this.capacity.perDevice, Math.max(share, Math.min(FIRST_CAPACITY, this.capacity.perDevice)));
    const next = Math.min(cap, Math.max(FIRST_CAPACITY, ring.capacity * 2), ring.capacity + (this.maxSamples - this.allocated));
    if (next <= ring.capacity) return false;
    this.allocated += next - ring.capacity;
    ring.grow(next);
    return true;
  }

  async values(device: string, field: HistoryField, q: HistoryQuery): Promise<HistoryValue[]> {
    const rows = this.samples.get(device)?.rows(field, this.labels) ?? [];
    return select(rows, (r) => r.ts, q);
  }

  async alarms(device: string | undefined, q: HistoryQuery): Promise<AlarmEvent[]> {
    const rows = this.alarmRing.toArray().filter((a) => device === undefined || a.device === device);
    return select(rows, (a) => a.ts, q);
  }
}
