import type { DeviceState, DeviceStateStore } from '../state/device-state.js';
import { RegistryCommandError, type DeviceRegistry, type RegistryEntry, type RegistryStatus } from '../state/device-registry.js';

export interface DevicesApi {
  state: DeviceStateStore;
  registry: DeviceRegistry;
  /** The device's configured inference rate, if any. */
  expectedPerMinute?: (id: string) => number | undefined;
}

/** A device as GET /devices shows it: status, latest result and model metadata. */
export interface DeviceView {
  id: string;
  /** Whether its events are bridged: configured, approved or auto; quarantined and revoked ones are not. */
  registry: RegistryStatus | 'unregistered';
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
  /** From the device's profile in the config, with whether the last minute reached at least half of it. */
  expectedPerMinute?: number;
  rateOk?: boolean;
  activeAlarms: string[];
  unackedAlarms: string[];
}

const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());

export function deviceView(d: DeviceState, store: DeviceStateStore, entry?: RegistryEntry, expectedPerMinute?: number): DeviceView {
  const timing = d.dspMs !== undefined || d.inferenceMs !== undefined ? { dspMs: d.dspMs, inferenceMs: d.inferenceMs } : undefined;
  const view: DeviceView = {
    id: d.id,
    registry: entry?.status ?? 'unregistered',
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
    expectedPerMinute,
    rateOk: expectedPerMinute === undefined ? undefined : store.inferenceRate(d) >= expectedPerMinute / 2,
    activeAlarms: [...d.alarms.keys()].sort(),
    unackedAlarms: [...d.unacked].sort(),
  };
  // JSON.stringify drops the undefined fields; the view stays one shape for TypeScript.
  return view;
}

/** A device only the registry knows (held in quarantine, or revoked before it sent). */
const registryOnly = (e: RegistryEntry): Record<string, unknown> => ({
  id: e.id,
  registry: e.status,
  online: false,
  model: e.model,
  firstSeenAt: iso(e.firstSeen),
  lastSeenAt: iso(e.lastSeen),
  heldEvents: e.held,
});

function viewOf(id: string, api: DevicesApi): unknown {
  const d = api.state.get(id);
  const entry = api.registry.get(id);
  if (d)
    return {
      ...deviceView(d, api.state, entry, api.expectedPerMinute?.(id)),
      ...(entry?.by ? { decidedBy: entry.by, decidedAt: iso(entry.since) } : {}),
    };
  return entry ? registryOnly(entry) : undefined;
}

/** GET /devices (every device, by id) and GET /devices/<id> (one, 404 when unknown). */
export function devicesRequest(path: string, api: DevicesApi): { status: number; body: unknown } {
  if (path === '/devices') {
    const ids = new Set([...api.state.all().map((d) => d.id), ...api.registry.list().map((e) => e.id)]);
    return { status: 200, body: [...ids].sort().map((id) => viewOf(id, api)) };
  }
  const id = decodeURIComponent(path.slice('/devices/'.length));
  const view = viewOf(id, api);
  return view ? { status: 200, body: view } : { status: 404, body: { error: `no device ${id}` } };
}

/**
 * The registry's commands: POST /devices {"id"} (admit a device before it sends),
 * POST /devices/<id>/approve, POST /devices/<id>/revoke, DELETE /devices/<id>.
 */
export function devicesCommand(
  method: string,
  path: string,
  body: unknown,
  api: DevicesApi,
  by: string,
): { status: number; body: unknown } {
  try {
    if (method === 'POST' && path === '/devices') {
      const id = (body as { id?: unknown } | undefined)?.id;
      if (typeof id !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(id))
        return { status: 400, body: { error: 'expected { "id": "<device id>" }' } };
      return { status: 201, body: api.registry.approve(id, by) };
    }
    const m = /^\/devices\/([^/]+)(?:\/(approve|revoke))?$/.exec(path);
    if (!m) return { status: 404, body: { error: `no route for ${method} ${path}` } };
    const id = decodeURIComponent(m[1]!);
    if (method === 'POST' && m[2] === 'approve') return { status: 200, body: api.registry.approve(id, by) };
    if (method === 'POST' && m[2] === 'revoke') return { status: 200, body: api.registry.revoke(id, by) };
    if (method === 'DELETE' && m[2] === undefined) return { status: 200, body: api.registry.remove(id, by) };
    return { status: 404, body: { error: `no route for ${method} ${path}` } };
  } catch (err) {
    if (!(err instanceof RegistryCommandError)) throw err;
    return { status: err.problem === 'unknown' ? 404 : 409, body: { error: err.message, problem: err.problem } };
  }
}
