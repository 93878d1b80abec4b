import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Clock } from '../core/clock.js';
import { GatewayError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { InferenceEvent } from '../normalise/inference-event.js';

export type DevicePolicy = 'auto' | 'allowlist' | 'quarantine';
export const DEVICE_POLICIES: readonly DevicePolicy[] = ['auto', 'allowlist', 'quarantine'];

/** configured: in the config; approved: admitted by an operator; auto: admitted by the `auto` policy. */
export type RegistryStatus = 'configured' | 'approved' | 'auto' | 'quarantined' | 'revoked';
export type Admission = 'bridge' | 'hold' | 'unknown_device' | 'revoked';

export interface RegistryEntry {
  id: string;
  status: RegistryStatus;
  /** When the status was last set, epoch ms. */
  since: number;
  by?: string;
  firstSeen?: number;
  lastSeen?: number;
  /** Events held while quarantined. */
  held?: number;
  model?: { name: string; version: string };
}

export class RegistryCommandError extends GatewayError {
  constructor(
    readonly problem: 'unknown' | 'configured',
    message: string,
  ) {
    super(message, false);
  }
}

const FILE_VERSION = 1;

/**
 * Which devices may feed the gateway. Configured devices always; others by policy: `auto` admits
 * and registers them, `allowlist` refuses them, `quarantine` holds them (visible here, not
 * bridged) until an operator approves. Operators' decisions survive restarts (`file`).
 */
export class DeviceRegistry {
  private readonly entries = new Map<string, RegistryEntry>();
  private configured = new Set<string>();

  constructor(
    private policy: DevicePolicy,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly file?: string,
  ) {}

  /** The configured devices and policy, at start and on reload. */
  configure(devices: { id: string }[], policy: DevicePolicy): void {
    this.policy = policy;
    const now = this.clock.now();
    for (const id of this.configured) {
      const e = this.entries.get(id);
      if (e?.status === 'configured' && !devices.some((d) => d.id === id)) this.entries.delete(id);
    }
    this.configured = new Set(devices.map((d) => d.id));
    for (const id of this.configured) {
      const e = this.entries.get(id);
      if (!e || e.status !== 'revoked') this.entries.set(id, { ...e, id, status: 'configured', since: e?.since ?? now });
    }
  }

  load(): void {
    if (!this.file) return;
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      return;
    }
    try {
      const data = JSON.parse(text) as { version?: number; devices?: RegistryEntry[] };
      if (data.version !== FILE_VERSION || !Array.isArray(data.devices))
        throw new Error(`not a device registry of version ${FILE_VERSION}`);
      for (const e of data.devices) {
        if (this.configured.has(e.id) && e.status !== 'revoked') continue;
        this.entries.set(e.id, e);
      }
    } catch (err) {
      const aside = `${this.file}.damaged-${this.clock.now()}`;
      renameSync(this.file, aside);
      this.log.error({ file: this.file, aside, err: String(err) }, 'device registry unreadable: set aside');
    }
  }

  /** What happens to an event of this device; quarantined devices' events are counted as held. */
  admit(event: InferenceEvent): Admission {
    const e = this.entries.get(event.device);
    const now = this.clock.now();
    if (e) {
      e.lastSeen = now;
      e.firstSeen ??= now;
      e.model = event.model;
      if (e.status === 'revoked') return 'revoked';
      if (e.status !== 'quarantined') return 'bridge';
      e.held = (e.held ?? 0) + 1;
      return 'hold';
    }
    if (this.policy === 'allowlist') return 'unknown_device';
    const status = this.policy === 'auto' ? 'auto' : 'quarantined';
    this.entries.set(event.device, {
      id: event.device,
      status,
      since: now,
      firstSeen: now,
      lastSeen: now,
      model: event.model,
      ...(status === 'quarantined' ? { held: 1 } : {}),
    });
    this.log.info({ device: event.device, status }, status === 'auto' ? 'device registered' : 'device quarantined until approved');
    this.save();
    return status === 'auto' ? 'bridge' : 'hold';
  }

  get(id: string): RegistryEntry | undefined {
    const e = this.entries.get(id);
    return e && { ...e };
  }

  list(): RegistryEntry[] {
    return [...this.entries.values()].map((e) => ({ ...e })).sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Admits a device (quarantined, revoked, or not seen yet) from now on. */
  approve(id: string, by: string): RegistryEntry {
    return this.set(id, this.configured.has(id) ? 'configured' : 'approved', by);
  }

  /** Refuses a device's events from now on, configured or not. */
  revoke(id: string, by: string): RegistryEntry {
    return this.set(id, 'revoked', by);
  }

  /** Forgets a device that is not configured: under `quarantine` or `allowlist` it has to be approved again. */
  remove(id: string, by: string): RegistryEntry {
    const e = this.entries.get(id);
    if (!e) throw new RegistryCommandError('unknown', `no device ${id}`);
    if (this.configured.has(id)) throw new RegistryCommandError('configured', `${id} is configured: remove it from the config file`);
    this.entries.delete(id);
    this.log.info({ device: id, by }, 'device removed from the registry');
    this.save();
    return e;
  }

  private set(id: string, status: RegistryStatus, by: string): RegistryEntry {
    const e: RegistryEntry = { ...this.entries.get(id), id, status, since: this.clock.now(), by };
    if (status !== 'quarantined') delete e.held;
    this.entries.set(id, e);
    this.log.info({ device: id, status, by }, `device ${status}`);
    this.save();
    return { ...e };
  }

  /** Membership changes are rare (a new device, an operator's decision): each is written at once. */
  private save(): void {
    if (!this.file) return;
    try {
      mkdirSync(dirname(this.file), { recursive: true });
      const tmp = `${this.file}.tmp`;
      const kept = [...this.entries.values()].filter((e) => e.status !== 'configured');
      writeFileSync(tmp, JSON.stringify({ version: FILE_VERSION, devices: kept }));
      renameSync(tmp, this.file);
    } catch (err) {
      this.log.error({ file: this.file, err: String(err) }, 'device registry not written');
    }
  }
}
