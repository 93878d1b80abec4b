import { Subject } from 'rxjs';
import type { AlarmCondition, AlarmEvent } from '../core/alarm.js';
import type { Clock } from '../core/clock.js';
import { topClass, type InferenceEvent } from '../normalise/inference-event.js';
import type { DeviceConfig } from '../config/schema.js';

export interface DeviceState {
  id: string;
  configured: boolean;
  labels: string[];
  label?: string;
  confidence?: number;
  anomaly?: number;
  model?: { name: string; version: string };
  seq?: number;
  /** Event time of the newest event, epoch ms. */
  lastEventTs?: number;
  /** Receive time of the newest event: what Online and "seconds since last seen" measure. */
  lastSeenAt?: number;
  events: number;
  /** Active alarms by rule. */
  alarms: Map<string, AlarmCondition>;
  /** Rules with an alarm not yet acknowledged (active or not). */
  unacked: Set<string>;
}

export type StateChange =
  | { kind: 'device-added'; device: DeviceState }
  | { kind: 'device-updated'; device: DeviceState }
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

  /** Applies the configured device list: new ones are added, labels updated; seen devices stay. */
  configure(devices: DeviceConfig[]): void {
    for (const config of devices) {
      const existing = this.devices.get(config.id);
      if (existing) {
        existing.configured = true;
        existing.labels = config.labels;
      } else {
        this.add(newDevice(config.id, true, config.labels));
      }
    }
    const ids = new Set(devices.map((d) => d.id));
    for (const d of this.devices.values()) if (!ids.has(d.id)) d.configured = false;
  }

  applyEvent(event: InferenceEvent): void {
    const d = this.devices.get(event.device) ?? this.add(newDevice(event.device, false, []));
    const top = topClass(event);
    d.label = top.label;
    d.confidence = top.confidence;
    d.anomaly = event.anomaly;
    d.model = event.model;
    d.seq = event.seq;
    d.lastEventTs = event.ts;
    d.lastSeenAt = this.clock.now();
    d.events++;
    this.changeSubject.next({ kind: 'device-updated', device: d });
  }

  /** An alarm change; an alarm kept from before a restart may name a device not seen yet. */
  applyAlarm(t: AlarmEvent): void {
    const d = this.devices.get(t.device) ?? this.add(newDevice(t.device, false, []));
    if (t.active) d.alarms.set(t.rule, t);
    else d.alarms.delete(t.rule);
    if (t.acked) d.unacked.delete(t.rule);
    else d.unacked.add(t.rule);
    this.changeSubject.next({ kind: 'alarm', device: d, transition: t });
  }

  get(id: string): DeviceState | undefined {
    return this.devices.get(id);
  }

  all(): DeviceState[] {
    return [...this.devices.values()];
  }

  isOnline(d: DeviceState): boolean {
    return d.lastSeenAt !== undefined && this.clock.now() - d.lastSeenAt < this.offlineAfterMs;
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

function newDevice(id: string, configured: boolean, labels: string[]): DeviceState {
  return { id, configured, labels, events: 0, alarms: new Map(), unacked: new Set() };
}
