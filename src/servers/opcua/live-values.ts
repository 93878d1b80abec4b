import { MonitoredItem, StatusCodes, type UAVariable } from './ua.js';
import { sameValue, type Scalar, type ScalarType } from './status-nodes.js';

/** The members of node-opcua 2.182's MonitoredItem this module reads or wraps. */
interface Item {
  node?: unknown;
  samplingInterval: number;
  _value_changed_callback: unknown;
  _on_opcua_event_received_callback: unknown;
  __start_sampling(recordInitialValue: boolean): void;
  _stop_sampling(): void;
}

/** The private member readValue() consults first: a zero-argument getter of the current DataValue. */
interface Readable {
  _timestamped_get_func: (() => unknown) | null | undefined;
  $dataValue: unknown;
}

/** The owner of live variables: told when an exception-based item starts or stops watching one. */
export interface WatchListener {
  watched(variable: LiveVariable): void;
}

const live = new WeakMap<object, LiveVariable>();

/**
 * A variable whose value is read from state when it is read, not written at every event: reads and
 * sampled monitored items get the current value on demand, and only a variable an exception-based
 * item watches is pushed (by its owner, coalesced). `read` returns undefined while the value is not
 * known; the variable then keeps its "uncertain" initial value.
 */
export class LiveVariable {
  /** Exception-based monitored items on this variable: the only readers that need a push. */
  readonly watchers = new Set<Item>();
  private last: Scalar | undefined;
  private syncedVersion = -1;

  constructor(
    readonly node: UAVariable,
    private readonly dataType: ScalarType,
    private readonly read: () => Scalar | undefined,
    /** The owner's version and change time: a variable is stale when the version moved since its last sync. */
    private readonly source: { version: number; changedAt: number },
    private readonly owner: WatchListener,
    /** Changes with time alone (Online, InferenceRate): recomputed at every read. */
    private readonly timeDependent = false,
  ) {
    const readable = node as unknown as Readable;
    if (!('_timestamped_get_func' in readable) || readable._timestamped_get_func) {
      throw new Error(`node-opcua ${node.nodeId.toString()}: no free _timestamped_get_func to read through`);
    }
    readable._timestamped_get_func = () => {
      this.sync();
      return readable.$dataValue;
    };
    live.set(node, this);
  }

  /** The fastest sampling interval among the exception-based items watching this variable; Infinity when none. */
  fastestInterval(): number {
    let fastest = Infinity;
    for (const item of this.watchers) fastest = Math.min(fastest, item.samplingInterval);
    return fastest;
  }

  /** Brings the node's value up to date with state; a write (and a notification) only on a real change. */
  sync(): void {
    if (this.syncedVersion === this.source.version && !this.timeDependent) return;
    this.syncedVersion = this.source.version;
    const value = this.read();
    if (value === undefined || sameValue(this.last, value)) return;
    this.last = value;
    const at = this.timeDependent ? undefined : new Date(this.source.changedAt);
    this.node.setValueFromSource({ dataType: this.dataType, value }, StatusCodes.Good, at);
  }

  watch(item: Item, watching: boolean): void {
    const had = this.watchers.size;
    if (watching) this.watchers.add(item);
    else this.watchers.delete(item);
    if (this.watchers.size !== had) this.owner.watched(this);
  }
}

let installed = false;

/** Event monitored items sampling now, in this process; and who hears when the first one starts. */
const eventItems = new Set<Item>();
const eventWatchStarts = new Set<() => void>();

/** Whether any client watches events (an event monitored item on any node). */
export const eventsWatched = (): boolean => eventItems.size > 0;

/** Calls `started` each time a client starts watching events while none did; returns the unsubscribe. */
export function onEventWatchStart(started: () => void): () => void {
  eventWatchStarts.add(started);
  return () => eventWatchStarts.delete(started);
}

/**
 * Tells each live variable when an exception-based monitored item starts or stops watching it
 * (its `value_changed` listener comes and goes in node-opcua's __start_sampling / _stop_sampling),
 * and the alarm conditions when a client starts watching events.
 * Installed once per process, after checking the wrapped members exist in this node-opcua.
 */
export function trackWatchers(): void {
  if (installed) return;
  const proto = MonitoredItem.prototype as unknown as Item;
  if (typeof proto.__start_sampling !== 'function' || typeof proto._stop_sampling !== 'function') {
    throw new Error('node-opcua MonitoredItem has no __start_sampling/_stop_sampling to track watchers with');
  }
  installed = true;
  const start = proto.__start_sampling;
  const stop = proto._stop_sampling;
  proto.__start_sampling = function (this: Item, recordInitialValue: boolean) {
    start.call(this, recordInitialValue);
    if (this._value_changed_callback && this.node) live.get(this.node)?.watch(this, true);
    if (this._on_opcua_event_received_callback && !eventItems.has(this)) {
      eventItems.add(this);
      if (eventItems.size === 1) for (const started of eventWatchStarts) started();
    }
  };
  proto._stop_sampling = function (this: Item) {
    if (this.node) live.get(this.node)?.watch(this, false);
    eventItems.delete(this);
    stop.call(this);
  };
}
