import { clientAddress } from './client-address.js';

/** Whether an address (a socket's remoteAddress, or a listener's host) is this machine only. */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const a = clientAddress(address);
  return a === '::1' || a === 'localhost' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

/** Who may send events without credentials: clients on this machine, any client, or nobody. */
export type AnonymousIngest = 'loopback' | 'any' | 'off';

/** Whether a client without credentials at `remote` may send events under `policy`. */
export const anonymousMayIngest = (policy: AnonymousIngest, remote: string | undefined): boolean =>
  policy === 'any' || (policy === 'loopback' && isLoopback(remote));

/** Why a client without credentials was refused under `policy`, for its answer and the log. */
export const anonymousRefusal = (policy: AnonymousIngest, without: string): string =>
  `events without ${without} are taken from ${policy === 'off' ? 'nowhere' : 'this machine only'} (gateway.anonymousIngest)`;
