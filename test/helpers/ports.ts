import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';

/**
 * The lowest port the kernel hands out to outgoing connections. A port taken with listen(0) comes from
 * that same range, so a client connecting elsewhere between our probe and the bind may take it first.
 */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) ? low : 0;
  } catch {
    return 0;
  }
}

const LOWEST = 10_000;
const below = ephemeralLow();
const given = new Set<number>();

async function bindable(port: number): Promise<boolean> {
  const server = createServer();
  const ok = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (ok) await new Promise<void>((resolve) => server.close(() => resolve()));
  return ok;
}

/**
 * A TCP port free on loopback right now, for the caller to bind soon after. Picked at random below the
 * ephemeral range, so neither outgoing connections nor (very likely) a parallel test file take it meanwhile.
 */
export async function freePort(): Promise<number> {
  if (below - LOWEST >= 1000) {
    for (let tries = 0; tries < 100; tries++) {
      const port = LOWEST + Math.floor(Math.random() * (below - LOWEST));
      if (given.has(port) || !(await bindable(port))) continue;
      given.add(port);
      return port;
    }
  }
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function waitFor<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  what: string,
  timeoutMs = 10_000,
  everyMs = 50,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
