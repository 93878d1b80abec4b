import { createHash } from 'node:crypto';
import { verifyPassword } from '../../core/password.js';
import { INFERENCE_TOPIC } from './transport.js';
import { anonymousMayIngest, anonymousRefusal, type AnonymousIngest } from '../../core/loopback.js';

export type MqttIdentity =
  | { kind: 'device'; device: string }
  | { kind: 'user'; name: string; role: 'subscriber' | 'publisher' }
  | { kind: 'anonymous' };

export type MqttRefusal = 'rogue' | 'protected' | 'read_only' | 'reserved' | 'anonymous';

export interface MqttAccessConfig {
  allowAnonymous: boolean;
  /** Where clients without a login may publish events from. */
  anonymousIngest: AnonymousIngest;
  devices: { id: string; credentials?: { mqtt?: { username?: string; passwordHash: string } } }[];
  users: { name: string; passwordHash: string; role: 'subscriber' | 'publisher' }[];
}

interface Account {
  identity: MqttIdentity;
  hash: string;
}

/**
 * Who may connect to the embedded broker and what they may publish. A device with credentials
 * logs in as itself and may publish only on its own inference topic; another client publishing as
 * it is a rogue node. Subscriber users (Node-RED, SCADA) read everything and publish nothing on
 * inference topics.
 */
export class MqttAccess {
  private accounts = new Map<string, Account>();
  private protectedDevices = new Set<string>();
  private allowAnonymous = true;
  private anonymousIngest: AnonymousIngest = 'loopback';
  private readonly verified = new Map<string, boolean>();

  constructor(config: MqttAccessConfig) {
    this.configure(config);
  }

  configure(config: MqttAccessConfig): void {
    this.allowAnonymous = config.allowAnonymous;
    this.anonymousIngest = config.anonymousIngest;
    this.accounts = new Map();
    this.protectedDevices = new Set();
    for (const d of config.devices) {
      const mqtt = d.credentials?.mqtt;
      if (!mqtt) continue;
      this.accounts.set(mqtt.username ?? d.id, { identity: { kind: 'device', device: d.id }, hash: mqtt.passwordHash });
      this.protectedDevices.add(d.id);
    }
    for (const u of config.users)
      this.accounts.set(u.name, { identity: { kind: 'user', name: u.name, role: u.role }, hash: u.passwordHash });
    this.verified.clear();
  }

  /** The identity a CONNECT proves, or undefined when it proves none (wrong password, or anonymous where that is off). */
  async authenticate(username: string | undefined, password: Buffer | undefined): Promise<MqttIdentity | undefined> {
    if (username === undefined || username === '') return this.allowAnonymous ? { kind: 'anonymous' } : undefined;
    const account = this.accounts.get(username);
    if (!account || !password) return undefined;
    const key = createHash('sha256').update(username).update('\0').update(password).digest('base64');
    let ok = this.verified.get(key);
    if (ok === undefined) {
      ok = await verifyPassword(password.toString('utf8'), account.hash);
      if (this.verified.size > 10_000) this.verified.clear();
      this.verified.set(key, ok);
    }
    return ok ? account.identity : undefined;
  }

  /** Whether `identity`, connected from `remote`, may publish on `topic`. */
  mayPublish(
    identity: MqttIdentity,
    topic: string,
    remote: string | undefined,
  ): { ok: true } | { ok: false; reason: MqttRefusal; detail: string } {
    if (topic.startsWith('$SYS/')) return { ok: false, reason: 'reserved', detail: '$SYS topics are the broker’s' };
    const device = INFERENCE_TOPIC.exec(topic)?.[1];
    if (device === undefined) return { ok: true };
    if (identity.kind === 'device') {
      return identity.device === device
        ? { ok: true }
        : { ok: false, reason: 'rogue', detail: `${identity.device} published as ${device}` };
    }
    if (identity.kind === 'user') {
      return identity.role === 'publisher'
        ? { ok: true }
        : { ok: false, reason: 'read_only', detail: `user ${identity.name} may not publish events` };
    }
    if (this.protectedDevices.has(device)) return { ok: false, reason: 'protected', detail: `${device} logs in to publish` };
    if (!anonymousMayIngest(this.anonymousIngest, remote))
      return { ok: false, reason: 'anonymous', detail: anonymousRefusal(this.anonymousIngest, 'a login') };
    return { ok: true };
  }
}
