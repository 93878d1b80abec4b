import { createHash } from 'node:crypto';
import { verifyPassword } from '../../core/password.js';

const CACHE_LIMIT = 10_000;

type TokenDevice = { id: string; credentials?: { httpTokenHash?: string } };

/**
 * Per-device HTTP bearer tokens, configured as salted scrypt hashes. A token is checked against
 * the hashes once; the answer is then remembered under the token's SHA-256 so that a device
 * posting every second costs one hash, not one scrypt, per request.
 */
export class DeviceTokens {
  private hashes: [device: string, hash: string][] = [];
  private readonly known = new Map<string, string | null>();

  constructor(devices: TokenDevice[]) {
    this.configure(devices);
  }

  /** The devices' tokens after a reload: tokens checked before are checked again. */
  configure(devices: TokenDevice[]): void {
    this.hashes = devices.flatMap((d) => (d.credentials?.httpTokenHash ? [[d.id, d.credentials.httpTokenHash] as [string, string]] : []));
    this.known.clear();
  }

  /** Whether `device` has a token: then only that token may post its events. */
  protects(device: string): boolean {
    return this.hashes.some(([d]) => d === device);
  }

  /** The device a token belongs to, or undefined. */
  async deviceOf(token: string): Promise<string | undefined> {
    const key = createHash('sha256').update(token).digest('base64');
    const cached = this.known.get(key);
    if (cached !== undefined) return cached ?? undefined;
    let found: string | null = null;
    for (const [device, hash] of this.hashes) {
      if (await verifyPassword(token, hash)) {
        found = device;
        break;
      }
    }
    if (this.known.size >= CACHE_LIMIT) this.known.delete(this.known.keys().next().value!);
    this.known.set(key, found);
    return found ?? undefined;
  }
}
