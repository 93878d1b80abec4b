/** One key's state across every rule stage, by slot. */
interface Slots {
  key: string;
  values: unknown[];
  /** Slots in use; the record goes when it drops to 0, so a flood of ids leaves nothing behind. */
  live: number;
}

/**
 * The keyed state of every rule, in one record per key (usually the device). The engine focuses
 * the table on each event's key once, and every stage's state map reads its slot of that record
 * without a lookup of its own: with seven rules over 10,000 devices, separate maps cost about ten
 * cache-missing hash lookups per event, which dominated the engine's time.
 */
export class DeviceTable {
  private readonly records = new Map<string, Slots>();
  private focusKey?: string;
  private focused?: Slots;
  private readonly free: number[] = [];
  private slots = 0;

  /** Makes `key` the record that state maps reach without a lookup; the engine calls it per event. */
  focus(key: string): void {
    this.focusKey = key;
    this.focused = this.records.get(key);
  }

  /** A state map over a new slot of every record. */
  map<V>(): SlotMap<V> {
    return new SlotMap<V>(this, this.free.pop() ?? this.slots++);
  }

  /** Forgets a map's slot in every record, for reuse by another map. */
  release(slot: number): void {
    for (const key of [...this.records.keys()]) this.take(key, slot);
    this.free.push(slot);
  }

  read(key: string, slot: number): unknown {
    const r = key === this.focusKey ? this.focused : this.records.get(key);
    return r === undefined ? undefined : r.values[slot];
  }

  /** Writes a slot; returns whether the slot was empty. */
  write(key: string, slot: number, value: unknown): boolean {
    let r = key === this.focusKey ? this.focused : this.records.get(key);
    if (r === undefined) {
      r = { key, values: [], live: 0 };
      this.records.set(key, r);
      if (key === this.focusKey) this.focused = r;
    }
    const empty = r.values[slot] === undefined;
    if (empty) r.live++;
    r.values[slot] = value;
    return empty;
  }

  /** Empties a slot; returns whether it held something. */
  take(key: string, slot: number): boolean {
    const r = key === this.focusKey ? this.focused : this.records.get(key);
    if (r === undefined || r.values[slot] === undefined) return false;
    r.values[slot] = undefined;
    if (--r.live === 0) {
      this.records.delete(key);
      if (key === this.focusKey) this.focused = undefined;
    }
    return true;
  }

  *entries<V>(slot: number): IterableIterator<[string, V]> {
    for (const r of [...this.records.values()]) {
      const v = r.values[slot];
      if (v !== undefined) yield [r.key, v as V];
    }
  }
}

/**
 * A Map view of one slot of a DeviceTable, so the keyed operators keep their Map-shaped `shared`
 * state and need no change. Values must not be `undefined`.
 */
export class SlotMap<V> extends Map<string, V> {
  private count = 0;

  constructor(
    private readonly table: DeviceTable,
    readonly slot: number,
  ) {
    super();
  }

  override get size(): number {
    return this.count;
  }

  override get(key: string): V | undefined {
    return this.table.read(key, this.slot) as V | undefined;
  }

  override has(key: string): boolean {
    return this.table.read(key, this.slot) !== undefined;
  }

  override set(key: string, value: V): this {
    if (this.table.write(key, this.slot, value)) this.count++;
    return this;
  }

  override delete(key: string): boolean {
    const held = this.table.take(key, this.slot);
    if (held) this.count--;
    return held;
  }

  override clear(): void {
    for (const [key] of this.table.entries(this.slot)) this.table.take(key, this.slot);
    this.count = 0;
  }

  override entries(): MapIterator<[string, V]> {
    return this.table.entries<V>(this.slot);
  }

  override [Symbol.iterator](): MapIterator<[string, V]> {
    return this.entries();
  }

  override *keys(): MapIterator<string> {
    for (const [key] of this.entries()) yield key;
  }

  override *values(): MapIterator<V> {
    for (const [, value] of this.entries()) yield value;
  }

  override forEach(each: (value: V, key: string, map: Map<string, V>) => void): void {
    for (const [key, value] of this.entries()) each(value, key, this);
  }
}
