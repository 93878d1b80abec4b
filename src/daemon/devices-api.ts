import type { DeviceState, DeviceStateStore } from '../state/device-state.js';

/** A device as GET /devices shows it: status, latest result and model metadata. */
export interface DeviceView {
  id: string;
  configured: boolean;
  online: boolean;
  labels: string[];
  label?: string;
  confidence?: number;
  anomaly?: number;
  scores?: Record<string, number>;
  model?: { name: string; version: string; since?: string };
  timing?: { dspMs?: number; inferenceMs?: number };
  seq?: number;
  lastEventAt?: string;
  lastSeenAt?: string;
  events: number;
  inferencesPerMinute: number;
  activeAlarms: string[];
  unackedAlarms: string[];
}

const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());

export function deviceView(d: DeviceState, store: DeviceStateStore): DeviceView {
  const timing = d.dspMs !== undefined || d.inferenceMs !== undefined ? { dspMs: d.dspMs, inferenceMs: d.inferenceMs } : undefined;
  const view: DeviceView = {
    id: d.id,
    configured: d.configured,
    online: store.isOnline(d),
    labels: d.labels,
    label: d.label,
    confidence: d.confidence,
    anomaly: d.anomaly,
    scores: d.scores,
    model: d.model && { ...d.model, since: iso(d.modelSince) },
    timing,
    seq: d.seq,
    lastEventAt: iso(d.lastEventTs),
    lastSeenAt: iso(d.lastSeenAt),
    events: d.events,
    inferencesPerMinute: store.inferenceRate(d),
    activeAlarms: [...d.alarms.keys()].sort(),
    unackedAlarms: [...d.unacked].sort(),
  };
  // JSON.stringify drops the undefined fields; the view stays one shape for TypeScript.
  return view;
}

/** GET /devices (every device, by id) and GET /devices/<id> (one, 404 when unknown). */
export function devicesRequest(path: string, store: DeviceStateStore): { status: number; body: unknown } {
  if (path === '/devices') {
    return {
      status: 200,
      body: store
        .all()
        .map((d) => deviceView(d, store))
        .sort((a, b) => a.id.localeCompare(b.id)),
    };
  }
  const id = decodeURIComponent(path.slice('/devices/'.length));
  const d = store.get(id);
  return d ? { status: 200, body: deviceView(d, store) } : { status: 404, body: { error: `no device ${id}` } };
}
