import { spawnSync } from 'node:child_process';
import { networkInterfaces } from 'node:os';

/**
 * An IPv4 address of this machine that is not loopback, so a test can be a client "on the
 * network": a connection to it from here arrives from that address, not from 127.0.0.1. When the
 * machine has none, a dummy interface gets one (root only); undefined if that fails too.
 */
export function networkAddress(): string | undefined {
  const found = Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal);
  if (found) return found.address;
  const made = spawnSync('sh', [
    '-c',
    'ip link add tinyml0 type dummy && ip addr add 10.254.77.1/32 dev tinyml0 && ip link set tinyml0 up',
  ]);
  return made.status === 0 ? '10.254.77.1' : undefined;
}
