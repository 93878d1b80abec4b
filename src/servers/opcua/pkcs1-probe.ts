import { webcrypto } from 'node:crypto';

type GenerateKey = typeof webcrypto.subtle.generateKey;

/** The key node-opcua-secure-channel's start-up probe asks for, and nothing else does. */
function isProbeKey(algorithm: unknown): boolean {
  const a = algorithm as { name?: unknown; modulusLength?: unknown } | null;
  return typeof a === 'object' && a !== null && a.name === 'RSA-OAEP' && a.modulusLength === 4096;
}

/**
 * Runs `load` (the require of node-opcua) without the RSA PKCS#1 v1.5 probe that
 * node-opcua-secure-channel starts when it is loaded on Node 20–21: it generates a 4096-bit RSA key
 * pair at every start, 1–1.5 s of CPU on the second core of a 2-core gateway while the event thread
 * loads the address space, only to print warning W27 about the `Basic128Rsa15` and `Basic256`
 * policies. The gateway offers neither (both of its policies use RSA-OAEP), so the answer is never
 * needed. The probe's key request gets a promise that never settles, which leaves the probe waiting
 * harmlessly until it is collected; every other key request passes through, and the real method is
 * back in place as soon as `load` returns.
 */
export function withoutPkcs1Probe<T>(load: () => T): T {
  const subtle = webcrypto.subtle;
  const own = Object.getOwnPropertyDescriptor(subtle, 'generateKey');
  const generateKey = subtle.generateKey as GenerateKey | undefined;
  if (typeof generateKey !== 'function') return load();
  const guarded = function (this: unknown, algorithm: unknown, ...rest: unknown[]): unknown {
    if (isProbeKey(algorithm)) return new Promise<never>(() => undefined);
    return Reflect.apply(generateKey, this ?? subtle, [algorithm, ...rest]);
  };
  Object.defineProperty(subtle, 'generateKey', { value: guarded, configurable: true, writable: true });
  try {
    return load();
  } finally {
    if (own) Object.defineProperty(subtle, 'generateKey', own);
    else delete (subtle as { generateKey?: GenerateKey }).generateKey;
  }
}
