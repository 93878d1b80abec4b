import type { AlarmTransition } from '../core/alarm.js';

export interface VersionRecord {
  version: string;
  firstSeen: number;
  lastSeen: number;
  events: number;
}

interface DeviceModels {
  group: string;
  /** By `name@version`. */
  seen: Map<string, VersionRecord & { name: string }>;
  /** The record in `seen` of the model name and version of the newest event. */
  current?: VersionRecord & { name: string };
}

export interface FleetModel {
  name: string;
  versions: { version: string; devices: number; firstSeen: number; lastSeen: number }[];
}

export interface GroupState {
  group: string;
  model: string;
  /** Devices per version of the model, now. */
  versions: Record<string, number>;
  /** Since when the group has run more than one version, epoch ms. */
  mixedSince?: number;
}

export const MIXED_VERSIONS_RULE = 'model-versions-mixed';

/**
 * Which model and version every device runs and has run (first and last seen per version), the
 * fleet view per model, and groups that run mixed versions: a group (a device's `group`, else
 * all devices of a model) whose devices disagree for longer than `mixedAfterMs` gets an alarm on
 * every device that is not on the group's newest version.
 */
export class ModelInventory {
  private readonly devices = new Map<string, DeviceModels>();
  private groupOf: (device: string) => string | undefined = () => undefined;
  private readonly mixedSince = new Map<string, number>();
  private readonly alarmed = new Set<string>();

  constructor(
    private mixedAfterMs: number,
    private severity: number,
  ) {}

  configure(groupOf: (device: string) => string | undefined, mixedAfterMs: number, severity: number): void {
    this.groupOf = groupOf;
    this.mixedAfterMs = mixedAfterMs;
    this.severity = severity;
    for (const [id, d] of this.devices) d.group = groupOf(id) ?? d.current?.name ?? '';
  }

  observe(device: string, model: { name: string; version: string }, at: number): void {
    // Nearly every event comes from a device on the model it ran before: count it without building
    // the record's key.
    const r = this.devices.get(device)?.current;
    if (r !== undefined && r.name === model.name && r.version === model.version) {
      r.lastSeen = at;
      r.events++;
      return;
    }
    this.observeChange(device, model, at);
  }

  private observeChange(device: string, model: { name: string; version: string }, at: number): void {
    const group = this.groupOf(device) ?? model.name;
    let d = this.devices.get(device);
    if (!d) {
      d = { group, seen: new Map() };
      this.devices.set(device, d);
    }
    d.group = group;
    const key = `${model.name}@${model.version}`;
    const r = d.seen.get(key) ?? { name: model.name, version: model.version, firstSeen: at, lastSeen: at, events: 0 };
    r.lastSeen = at;
    r.events++;
    d.seen.set(key, r);
    d.current = r;
  }

  /** Every version a device has run, oldest first. */
  history(device: string): (VersionRecord & { name: string })[] {
    return [...(this.devices.get(device)?.seen.values() ?? [])].sort((a, b) => a.firstSeen - b.firstSeen);
  }

  fleet(): FleetModel[] {
    const byModel = new Map<string, Map<string, { version: string; devices: number; firstSeen: number; lastSeen: number }>>();
    for (const d of this.devices.values()) {
      for (const r of d.seen.values()) {
        const versions = byModel.get(r.name) ?? new Map();
        byModel.set(r.name, versions);
        const v = versions.get(r.version) ?? { version: r.version, devices: 0, firstSeen: r.firstSeen, lastSeen: r.lastSeen };
        v.firstSeen = Math.min(v.firstSeen, r.firstSeen);
        v.lastSeen = Math.max(v.lastSeen, r.lastSeen);
        if (d.current?.name === r.name && d.current.version === r.version) v.devices++;
        versions.set(r.version, v);
      }
    }
    return [...byModel]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, versions]) => ({ name, versions: [...versions.values()].sort((a, b) => compareVersions(a.version, b.version)) }));
  }

  groups(): GroupState[] {
    const out = new Map<string, GroupState>();
    for (const d of this.devices.values()) {
      if (!d.current) continue;
      const key = `${d.group}\u0000${d.current.name}`;
      const g = out.get(key) ?? { group: d.group, model: d.current.name, versions: {} };
      g.versions[d.current.version] = (g.versions[d.current.version] ?? 0) + 1;
      out.set(key, g);
    }
    return [...out.entries()]
      .map(([key, g]) => ({ ...g, ...(this.mixedSince.has(key) ? { mixedSince: this.mixedSince.get(key) } : {}) }))
      .sort((a, b) => a.group.localeCompare(b.group) || a.model.localeCompare(b.model));
  }

  /** Called every few seconds: the alarm transitions due now (raised on lagging devices, cleared when they caught up). */
  check(now: number): AlarmTransition[] {
    const transitions: AlarmTransition[] = [];
    const lagging = new Map<string, { newest: string; group: string; version: string }>();
    const keys = new Set<string>();
    for (const g of this.groups()) {
      const key = `${g.group}\u0000${g.model}`;
      keys.add(key);
      const versions = Object.keys(g.versions);
      if (versions.length < 2) {
        this.mixedSince.delete(key);
        continue;
      }
      const since = this.mixedSince.get(key) ?? now;
      this.mixedSince.set(key, since);
      if (this.mixedAfterMs <= 0 || now - since < this.mixedAfterMs) continue;
      const newest = versions.sort(compareVersions).at(-1)!;
      for (const [id, d] of this.devices) {
        if (d.group === g.group && d.current?.name === g.model && d.current.version !== newest) {
          lagging.set(id, { newest, group: g.group, version: d.current.version });
        }
      }
    }
    for (const key of [...this.mixedSince.keys()]) if (!keys.has(key)) this.mixedSince.delete(key);
    for (const [device, l] of lagging) {
      if (this.alarmed.has(device)) continue;
      this.alarmed.add(device);
      transitions.push(this.transition(device, 'raised', now, `${device} runs ${l.version}; group ${l.group} runs ${l.newest} too`));
    }
    for (const device of [...this.alarmed]) {
      if (lagging.has(device)) continue;
      this.alarmed.delete(device);
      transitions.push(this.transition(device, 'cleared', now, `${device}: group runs one model version again`));
    }
    return transitions;
  }

  private transition(device: string, state: 'raised' | 'cleared', ts: number, message: string): AlarmTransition {
    return { device, rule: MIXED_VERSIONS_RULE, state, severity: this.severity, value: state === 'raised' ? 1 : 0, ts, message };
  }
}

/** Dotted versions compared numerically where they are numbers (1.10 after 1.9), else as text. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.');
  const pb = b.split('.');
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '';
    const y = pb[i] ?? '';
    const nx = Number(x);
    const ny = Number(y);
    const c = x !== '' && y !== '' && Number.isFinite(nx) && Number.isFinite(ny) ? nx - ny : x.localeCompare(y);
    if (c !== 0) return c;
  }
  return 0;
}
