import { Subject } from 'rxjs';
import type { AlarmCondition, AlarmEvent } from '../core/alarm.js';
import type { Clock } from '../core/clock.js';
import { topClass, type InferenceEvent } from '../normalise/inference-event.js';
import type { DeviceConfig } from '../config/schema.js';
import { MinuteRate } from './minute-rate.js';

export interface DeviceState {
  id: string;
  configured: boolean;
  labels: string[];
  label?: string;
  confidence?: number;
  anomaly?: number;
  /** Every class score of the newest event that had scores. */
  scores?: Record<string, number>;
  model?: { name: string; version: string };
  /** Receive time of the first event with the current model name and version: when it was deployed, as far as we can see. */
  modelSince?: number;
  dspMs?: number;
  inferenceMs?: number;
  seq?: number;
  /** Event time of the newest event, epoch ms. */
  lastEventTs?: number;
  /** Receive time of the newest event (or poll answer): what Online and "seconds since last seen" measure. */
  lastSeenAt?: number;
  /** False once a polled device missed enough polls in a row; Online is false then. */
  reachable?: boolean;
  events: number;
  rate: MinuteRate;
  /** Active alarms by rule. */
  alarms: Map<string, AlarmCondition>;
  /** Rules with an alarm not yet acknowledged (active or not). */
  unacked: Set<string>;
}

export type StateChange =
  | { kind: 'device-added'; device: DeviceState }
  | { kind: 'device-updated'; device: DeviceState }
  | { kind: 'device-removed'; device: DeviceState }
  | { kind: 'alarm'; device: DeviceState; transition: AlarmEvent };

/** Latest value per device and the active alarms, fed only by the pipeline; servers read it. */
export class DeviceStateStore {
  private readonly devices = new Map<string, DeviceState>();
  private readonly changeSubject = new Subject<StateChange>();
  readonly changes$ = this.changeSubject.asObservable();

  constructor(
    private readonly clock: Clock,
    private readonly offlineAfterMs: number,
  ) {}

  /**
   * Applies the configured device list: new ones are added, labels updated, and devices dropped
   * from the list are removed (one that still sends comes back as not configured). Devices never
   * configured (auto-provisioned by their first event) stay.
   */
  configure(devices: DeviceConfig[]): void {
    const ids = new Set(devices.map((d) => d.id));
    for (const d of [...this.devices.values()]) if (d.configured && !ids.has(d.id)) this.remove(d.id);
    for (const config of devices) {
      const existing = this.devices.get(config.id);
      if (existing) {
        existing.configured = true;
        existing.labels = config.labels;
      } else {
        this.add(newDevice(config.id, true, config.labels, this.clock.now()));
      }
    }
  }

  applyEvent(event: InferenceEvent): void {
    const d = this.devices.get(event.device) ?? this.add(newDevice(event.device, false, [], this.clock.now()));
    const top = topClass(event);
    // Equal text keeps the device's string, and scores go into the device's own record: anything
    // of the event held until the device's next one outlives a young-generation collection.
    if (d.label !== top.label) d.label = top.label;
    d.confidence = top.confidence;
    d.anomaly = event.anomaly;
    if (event.scores !== undefined) d.scores = ownScores(d.scores, event.scores);
    const now = this.clock.now();
    if (d.model?.name !== event.model.name || d.model.version !== event.model.version) {
      d.modelSince = now;
      // The device's own copy, replaced only on a change: the event's object would otherwise stay alive per event.
      d.model = { name: event.model.name, version: event.model.version };
    }
    if (event.timing?.dsp_ms !== undefined) d.dspMs = event.timing.dsp_ms;
    if (event.timing?.inference_ms !== undefined) d.inferenceMs = event.timing.inference_ms;
    d.seq = event.seq;
    d.lastEventTs = event.ts;
    d.lastSeenAt = now;
    if (d.reachable === false) d.reachable = true;
    d.events++;
    d.rate.add(now);
    this.changeSubject.next({ kind: 'device-updated', device: d });
  }

  /** An alarm change; an alarm kept from before a restart may name a device not seen yet. */
  applyAlarm(t: AlarmEvent): void {
    const d = this.devices.get(t.device) ?? this.add(newDevice(t.device, false, [], this.clock.now()));
    if (t.active) d.alarms.set(t.rule, t);
    else d.alarms.delete(t.rule);
    if (t.acked) d.unacked.delete(t.rule);
    else d.unacked.add(t.rule);
    this.changeSubject.next({ kind: 'alarm', device: d, transition: t });
  }

  /** A poller's verdict on a device: it answered (seen now), or it missed enough polls to be offline. */
  applyLink(id: string, reachable: boolean): void {
    const d = this.devices.get(id) ?? this.add(newDevice(id, false, [], this.clock.now()));
    if (reachable) d.lastSeenAt = this.clock.now();
    const changed = d.reachable !== reachable;
    d.reachable = reachable;
    if (changed) this.changeSubject.next({ kind: 'device-updated', device: d });
  }

  get(id: string): DeviceState | undefined {
    return this.devices.get(id);
  }

  all(): DeviceState[] {
    return [...this.devices.values()];
  }

  isOnline(d: DeviceState): boolean {
    return d.reachable !== false && d.lastSeenAt !== undefined && this.clock.now() - d.lastSeenAt < this.offlineAfterMs;
  }

  /** Inferences received over the last minute (60 complete seconds). */
  inferenceRate(d: DeviceState): number {
    return d.rate.perMinute(this.clock.now());
  }

  /** Forgets a device (dropped from the config); returns whether it was known. */
  remove(id: string): boolean {
    const d = this.devices.get(id);
    if (!d) return false;
    this.devices.delete(id);
    this.changeSubject.next({ kind: 'device-removed', device: d });
    return true;
  }

  activeAlarmCount(): number {
    let n = 0;
    for (const d of this.devices.values()) n += d.alarms.size;
    return n;
  }

  private add(d: DeviceState): DeviceState {
    this.devices.set(d.id, d);
    this.changeSubject.next({ kind: 'device-added', device: d });
    return d;
  }
}

/** `next` in `mine` when both have the same classes (updated in place), else a copy of it. */
function ownScores(mine: Record<string, number> | undefined, next: Record<string, number>): Record<string, number> {
  if (mine === undefined || !sameKeys(mine, next)) return { ...next };
  for (const label in next) mine[label] = next[label]!;
  return mine;
}

function sameKeys(a: Record<string, number>, b: Record<string, number>): boolean {
  let n = 0;
  for (const key in b) {
    if (!Object.hasOwn(a, key)) return false;
    n++;
  }
  for (const _ in a) n--;
  return n === 0;
}

/** A device's state before anything is known of it. */
export function newDevice(id: string, configured: boolean, labels: string[], now: number): DeviceState {
  return { id, configured, labels, events: 0, rate: new MinuteRate(now), alarms: new Map(), unacked: new Set() };
}
