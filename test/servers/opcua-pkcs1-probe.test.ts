import t from 'tap';
import { webcrypto } from 'node:crypto';
import { createRequire } from 'node:module';

// Installed before node-opcua is loaded: counts the 4096-bit RSA-OAEP key requests of
// node-opcua-secure-channel's PKCS#1 v1.5 probe (answered with a promise that never settles, so
// that no key is generated here either) and passes every other request on.
const subtle = webcrypto.subtle;
let probes = 0;
const counting = function (this: unknown, algorithm: unknown, ...rest: unknown[]): unknown {
  const a = algorithm as { name?: string; modulusLength?: number };
  if (a.name === 'RSA-OAEP' && a.modulusLength === 4096) {
    probes += 1;
    return new Promise<never>(() => undefined);
  }
  return Reflect.apply(Object.getPrototypeOf(subtle).generateKey as (...args: unknown[]) => unknown, subtle, [algorithm, ...rest]);
};
Object.defineProperty(subtle, 'generateKey', { value: counting, configurable: true, writable: true });
t.teardown(() => void delete (subtle as { generateKey?: unknown }).generateKey);

t.test('loading node-opcua generates no 4096-bit probe key, and WebCrypto is left as it was', async (t) => {
  const { withoutPkcs1Probe } = await import('../../src/servers/opcua/pkcs1-probe.js');
  const ua = await import('../../src/servers/opcua/ua.js');
  t.type(ua.OPCUAServer, 'function', 'node-opcua is loaded');
  t.equal(probes, 0, 'the probe asked for no key');
  t.equal(subtle.generateKey, counting, 'generateKey is the one installed before the load');

  const pair = await withoutPkcs1Probe(() =>
    subtle.generateKey(
      { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
      false,
      ['sign', 'verify'],
    ),
  );
  t.ok('privateKey' in pair, 'any other key request inside the guard is served');
});

t.test('the pinned node-opcua does run the probe when loaded unguarded (so the guard is not dead code)', async (t) => {
  const require = createRequire(import.meta.url);
  const entry = require.resolve('node-opcua-secure-channel');
  delete require.cache[entry];
  const before = probes;
  require(entry);
  t.equal(probes, before + 1, 'one 4096-bit RSA-OAEP key requested at load');
});
