import t from 'tap';
import { mkdirSync, renameSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { OPCUACertificateManager, StatusCodes } from 'node-opcua';
import { clientCertificateManager, pkiFolder, readDer } from '../../src/servers/opcua/security.js';
import { testLogger } from '../helpers/test-log.js';

t.setTimeout(60_000);

// node-opcua's index follows the trust folders through a file watcher. Polling once in ten minutes
// stands for a watcher that missed a move, which it does when a certificate leaves rejected/
// before the watcher saw it arrive; the server must read the folders then, not refuse until a restart.
process.env.OPCUA_PKI_USE_POLLING = 'true';
process.env.OPCUA_PKI_POLLING_INTERVAL = String(10 * 60 * 1000);

t.test('a certificate moved to trusted/ on disk is accepted even when the watcher missed the move', async (t) => {
  const dir = t.testdir();
  const client = new OPCUACertificateManager({ rootFolder: join(dir, 'client') });
  await client.initialize();
  await client.createSelfSignedCertificate({
    applicationUri: 'urn:test:client',
    subject: '/CN=test-client',
    dns: [],
    startDate: new Date(),
    validity: 30,
  });
  const der = readDer(join(dir, 'client', 'own', 'certs', 'self_signed_certificate.pem'));
  await client.dispose();

  const manager = clientCertificateManager(dir, false, testLogger());
  await manager.initialize();
  t.teardown(() => manager.dispose());
  t.equal((await manager.checkCertificate(der)).name, StatusCodes.BadCertificateUntrusted.name, 'unknown: refused, and kept in rejected/');
  const rejected = join(pkiFolder(dir), 'rejected');
  const [file] = readdirSync(rejected);
  t.ok(file, 'the server wrote it to rejected/');

  // What `pki trust` leaves on disk, without the running server's watcher seeing it.
  const trusted = join(pkiFolder(dir), 'trusted', 'certs');
  mkdirSync(trusted, { recursive: true });
  renameSync(join(rejected, file!), join(trusted, file!));
  t.equal((await manager.checkCertificate(der)).name, StatusCodes.Good.name, 'trusted on disk: accepted');
  t.equal((await manager.checkCertificate(der)).name, StatusCodes.Good.name, 'and from then on');
});
