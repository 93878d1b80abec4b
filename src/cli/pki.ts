import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OPCUACertificateManager } from '../servers/opcua/ua.js';
import { describeCertificate, pkiFolder } from '../servers/opcua/security.js';
import type { Io } from './commands.js';

interface Listed {
  status: 'trusted' | 'rejected';
  file: string;
  der: Buffer;
  thumbprint: string;
  subject: string;
  applicationUri?: string;
  validTo: string;
}

/** PEM or DER on disk → DER. */
function readDer(file: string): Buffer {
  const raw = readFileSync(file);
  const pem = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(raw.toString('latin1'));
  return pem ? Buffer.from(pem[1]!.replace(/\s+/g, ''), 'base64') : raw;
}

function listFolder(folder: string, status: Listed['status']): Listed[] {
  if (!existsSync(folder)) return [];
  return readdirSync(folder)
    .filter((f) => /\.(pem|der|crt)$/i.test(f))
    .map((f) => {
      const der = readDer(join(folder, f));
      return { status, file: join(folder, f), der, ...describeCertificate(der) };
    });
}

/** Client certificates the server trusts and those it turned away, from `<dataDir>/pki/server`. */
export function listClientCertificates(dataDir: string): Listed[] {
  const root = pkiFolder(dataDir);
  return [...listFolder(join(root, 'trusted', 'certs'), 'trusted'), ...listFolder(join(root, 'rejected'), 'rejected')];
}

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
