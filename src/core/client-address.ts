import { BlockList, isIPv4 } from 'node:net';

/** A client's address as people write it: IPv4-mapped IPv6 (`::ffff:10.0.0.5`) shown as IPv4. */
export function clientAddress(remote: string | undefined): string {
  const address = remote ?? '';
  return address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
}

/** Who may connect: any address in `entries` (addresses or CIDR networks); everybody when empty. */
export function allowList(entries: readonly string[]): (address: string) => boolean {
  if (entries.length === 0) return () => true;
  const list = new BlockList();
  for (const entry of entries) {
    const [net, prefix] = entry.split('/');
    const type = isIPv4(net!) ? 'ipv4' : 'ipv6';
    if (prefix === undefined) list.addAddress(net!, type);
    else list.addSubnet(net!, Number(prefix), type);
  }
  return (address) => list.check(address, isIPv4(address) ? 'ipv4' : 'ipv6');
}
