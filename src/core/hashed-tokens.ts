import { createHash } from 'node:crypto';
import { verifyPassword } from './password.js';

const CACHE_LIMIT = 10_000;

/**
 * Bearer tokens (a device's, an API client's), configured as salted scrypt hashes per owner. A
 * token is checked against the hashes once; the answer is then remembered under the token's
 * SHA-256 so that a device posting every second costs one hash, not one scrypt, per request.
 */
export class HashedTokens {
  private hashes: [owner: string, hash: string][] = [];
  private readonly known = new Map<string, string | null>();

  constructor(owners: [owner: string, hash: string | undefined][]) {
    this.configure(owners);
  }

  /** The tokens after a reload: tokens checked before are checked again. */
  configure(owners: [owner: string, hash: string | undefined][]): void {
    this.hashes = owners.flatMap(([owner, hash]) => (hash ? [[owner, hash] as [string, string]] : []));
    this.known.clear();
  }

  get size(): number {
    return this.hashes.length;
  }

  /** Whether `owner` has a token: then only that token may act as it. */
  protects(owner: string): boolean {
    return this.hashes.some(([o]) => o === owner);
  }

  /** The owner of a token, or undefined. */
  async ownerOf(token: string): Promise<string | undefined> {
    const key = createHash('sha256').update(token).digest('base64');
    const cached = this.known.get(key);
    if (cached !== undefined) return cached ?? undefined;
    let found: string | null = null;
    for (const [owner, hash] of this.hashes) {
      if (await verifyPassword(token, hash)) {
        found = owner;
        break;
      }
    }
    if (this.known.size >= CACHE_LIMIT) this.known.delete(this.known.keys().next().value!);
    this.known.set(key, found);
    return found ?? undefined;
  }
}
