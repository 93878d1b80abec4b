import { OPCUACertificateManager } from '../servers/opcua/ua.js';
import { listClientCertificates, pkiFolder } from '../servers/opcua/security.js';
import type { Io } from './commands.js';

export { listClientCertificates };

/**
 * `tinyml-gateway pki list|trust|reject`: manages which client certificates the OPC UA server
 * accepts. A running gateway watches the folders, so a trusted client may connect at once.
 */
export async function pkiCommand(action: string | undefined, thumbprint: string | undefined, dataDir: string, io: Io): Promise<number> {
  const certs = listClientCertificates(dataDir);
  if (action === 'list') {
    if (certs.length === 0) io.out(`no client certificates under ${pkiFolder(dataDir)}\n`);
    for (const c of certs) {
      io.out(
        `${c.status.padEnd(8)} ${c.thumbprint}  ${c.subject}${c.applicationUri ? `  ${c.applicationUri}` : ''}  valid to ${c.validTo}\n`,
      );
    }
    return 0;
  }
  if (action !== 'trust' && action !== 'reject') {
    io.err('usage: tinyml-gateway pki list | trust THUMBPRINT | reject THUMBPRINT\n');
    return 2;
  }
  const wanted = (thumbprint ?? '').toLowerCase().replace(/:/g, '');
  const matches = wanted.length >= 8 ? certs.filter((c) => c.thumbprint.startsWith(wanted)) : [];
  const distinct = new Set(matches.map((c) => c.thumbprint));
  if (distinct.size !== 1) {
    io.err(
      `${distinct.size === 0 ? 'no' : 'more than one'} certificate matches '${thumbprint ?? ''}' (give 8 or more hex digits; see pki list)\n`,
    );
    return 1;
  }
  const cert = matches[0]!;
  const manager = new OPCUACertificateManager({ rootFolder: pkiFolder(dataDir), automaticallyAcceptUnknownCertificate: false });
  try {
    await manager.initialize();
    if (action === 'trust') await manager.trustCertificate(cert.der);
    else await manager.rejectCertificate(cert.der);
  } finally {
    await manager.dispose();
  }
  io.out(`${action === 'trust' ? 'trusted' : 'rejected'} ${cert.thumbprint}  ${cert.subject}\n`);
  return 0;
}
