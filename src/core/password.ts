import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/** `scrypt$<N>$<salt>$<hash>` (base64): what config files hold instead of a password. */
export const PASSWORD_HASH_PATTERN = /^scrypt\$(\d+)\$([A-Za-z0-9+/=]{16,})\$([A-Za-z0-9+/=]{40,})$/;

const COST = 16384;
const KEY_BYTES = 32;

function derive(password: string, salt: Buffer, cost: number): Promise<Buffer> {
  const options: ScryptOptions = { N: cost, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
  return new Promise((resolve, reject) => scrypt(password, salt, KEY_BYTES, options, (err, key) => (err ? reject(err) : resolve(key))));
}

/** A salted scrypt hash of `password`, e.g. for `opcua.users[].passwordHash`. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, COST);
  return `scrypt$${COST}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** Constant-time check of a password against a hash made by `hashPassword`; a malformed hash never matches. */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  const m = PASSWORD_HASH_PATTERN.exec(hash);
  if (!m) return false;
  const expected = Buffer.from(m[3]!, 'base64');
  const key = await derive(password, Buffer.from(m[2]!, 'base64'), Number(m[1]));
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** A password for a generated account: 18 random bytes, URL-safe. */
export function randomPassword(): string {
  return randomBytes(18).toString('base64url');
}
