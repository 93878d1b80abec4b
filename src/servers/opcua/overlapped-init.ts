import type { OPCUAServer } from 'node-opcua';

/** The member of node-opcua's server that this start-up order relies on. */
interface WithCertificates {
  initializeCM(): Promise<void>;
}

/**
 * `server.initialize()` with the certificate work (on first start a new key pair and a self-signed
 * certificate, 0.3–0.5 s mostly in libuv's thread pool) overlapping the address-space load (the
 * standard nodeset, some 0.7 s on the event thread) instead of preceding it. Nothing in the address
 * space reads the certificate; the endpoints read it from its files when a client first connects,
 * which is after `start()`, and this resolves only once the certificate work has.
 */
export async function initializeOverlapped(server: OPCUAServer): Promise<void> {
  const inner = server as unknown as WithCertificates;
  const initializeCM = inner.initializeCM;
  if (Object.prototype.hasOwnProperty.call(inner, 'initializeCM') || typeof initializeCM !== 'function') {
    // A node-opcua without this member: its own order.
    await server.initialize();
    return;
  }
  let certificates: Promise<void> | undefined;
  inner.initializeCM = () => {
    certificates = initializeCM.call(server);
    // Awaited below; until then a rejection must not count as unhandled.
    certificates.catch(() => undefined);
    return Promise.resolve();
  };
  try {
    await server.initialize();
  } finally {
    delete (inner as Partial<WithCertificates>).initializeCM;
  }
  await certificates;
}
