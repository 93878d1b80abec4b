import type { InferenceEvent } from '../../normalise/inference-event.js';

/**
 * Inference events packed for the hop to the sink's worker: numbers in one Float64Array, strings
 * (device ids, model names and versions, labels, score and value names) as indexes into a table
 * both sides keep, new entries sent along. A structured clone of the event objects cost about
 * 1 µs per event on each side of the hop; this is a few Map lookups and array writes, and the
 * buffer is transferred, not copied. Absent numbers are NaN: line protocol leaves NaN out anyway.
 */
export interface PackedEvents {
  count: number;
  numbers: Float64Array<ArrayBuffer>;
  /** Table entries added since the last pack, in index order. */
  strings: string[];
  /** The table was emptied before this pack (it grew past its bound). */
  reset: boolean;
}

/** Strings past this many start the table again at the next pack, so unknown devices or labels cannot grow it. */
const TABLE_MAX = 50_000;
const NO_STRING = -1;

export class EventPacker {
  private table = new Map<string, number>();
  private added: string[] = [];
  private reset = false;
  private numbers: Float64Array<ArrayBuffer> = new Float64Array(4096);
  private length = 0;
  private count = 0;

  add(e: InferenceEvent): void {
    // Emptied only between packs, so every index of one pack is of one table (a pack may pass the bound a little).
    if (this.count === 0 && this.table.size >= TABLE_MAX) {
      this.table.clear();
      this.added = [];
      this.reset = true;
    }
    // Fields, scores and values together need at most this many slots.
    this.reserve(12 + 2 * (count(e.scores) + count(e.values)));
    const n = this.numbers;
    let at = this.length;
    n[at++] = e.ts;
    n[at++] = e.seq ?? NaN;
    n[at++] = this.index(e.device);
    n[at++] = this.index(e.model.name);
    n[at++] = this.index(e.model.version);
    n[at++] = e.label === undefined ? NO_STRING : this.index(e.label);
    n[at++] = e.anomaly ?? NaN;
    n[at++] = e.timing?.dsp_ms ?? NaN;
    n[at++] = e.timing?.inference_ms ?? NaN;
    at = this.pairs(e.scores, at);
    at = this.pairs(e.values, at);
    this.length = at;
    this.count++;
  }

  get size(): number {
    return this.count;
  }

  /** What was added since the last take; the buffer goes with it (transfer it). */
  take(): PackedEvents {
    const packed: PackedEvents = { count: this.count, numbers: this.numbers.slice(0, this.length), strings: this.added, reset: this.reset };
    this.added = [];
    this.reset = false;
    this.length = 0;
    this.count = 0;
    return packed;
  }

  private pairs(record: Record<string, number> | undefined, at: number): number {
    const n = this.numbers;
    const countAt = at++;
    let pairs = 0;
    for (const key in record) {
      n[at++] = this.index(key);
      n[at++] = record[key]!;
      pairs++;
    }
    n[countAt] = pairs;
    return at;
  }

  private index(s: string): number {
    let i = this.table.get(s);
    if (i === undefined) {
      i = this.table.size;
      this.table.set(s, i);
      this.added.push(s);
    }
    return i;
  }

  private reserve(slots: number): void {
    if (this.length + slots <= this.numbers.length) return;
    const bigger = new Float64Array(Math.max(this.numbers.length * 2, this.length + slots));
    bigger.set(this.numbers.subarray(0, this.length));
    this.numbers = bigger;
  }
}

const count = (record: Record<string, number> | undefined): number => {
  let n = 0;
  for (const _ in record) n++;
  return n;
};

/**
 * The worker's side: the same table, grown from each pack's new strings, and the events read back
 * for line protocol, where a number that was absent stays NaN (and is left out of the line).
 */
export class EventUnpacker {
  private readonly table: string[] = [];

  each(p: PackedEvents, take: (e: InferenceEvent) => void): void {
    if (p.reset) this.table.length = 0;
    for (const s of p.strings) this.table.push(s);
    const n = p.numbers;
    const t = this.table;
    let at = 0;
    for (let k = 0; k < p.count; k++) {
      const e: InferenceEvent = {
        device: t[n[at + 2]!]!,
        ts: n[at]!,
        model: { name: t[n[at + 3]!]!, version: t[n[at + 4]!]! },
        anomaly: n[at + 6]!,
        timing: { dsp_ms: n[at + 7]!, inference_ms: n[at + 8]! },
      };
      const seq = n[at + 1]!;
      if (!Number.isNaN(seq)) e.seq = seq;
      const label = n[at + 5]!;
      if (label !== NO_STRING) e.label = t[label]!;
      at += 9;
      let pairs = n[at++]!;
      if (pairs > 0) {
        const scores: Record<string, number> = {};
        for (; pairs > 0; pairs--, at += 2) scores[t[n[at]!]!] = n[at + 1]!;
        e.scores = scores;
      }
      pairs = n[at++]!;
      if (pairs > 0) {
        const values: Record<string, number> = {};
        for (; pairs > 0; pairs--, at += 2) values[t[n[at]!]!] = n[at + 1]!;
        e.values = values;
      }
      take(e);
    }
  }
}
