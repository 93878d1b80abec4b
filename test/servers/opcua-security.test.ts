import t from 'tap';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DataType, MessageSecurityMode, StatusCodes } from 'node-opcua';
import { Gateway } from '../../src/daemon/gateway.js';
import { VERSION } from '../../src/daemon/version.js';
import { capturingLogger, secret, secretHash } from '../helpers/test-log.js';
import { listClientCertificates, pkiCommand } from '../../src/cli/pki.js';
import { testConfig } from '../helpers/gateway-config.js';
import { waitFor } from '../helpers/ports.js';
import { opcuaSession, readValue, type OpcuaClientOptions } from '../helpers/clients.js';
import { tempDir } from '../helpers/temp-dir.js';

t.setTimeout(180_000);

/** A gateway whose log lines are kept, parsed. */
async function loggedGateway(t: { teardown(fn: () => void): void }, opcua: Record<string, unknown>, dataDir?: string) {
  const made = await testConfig(t, { opcua });
  if (dataDir) made.config.gateway.dataDir = dataDir;
  const { log, lines } = capturingLogger();
  const gateway = new Gateway(made.config, { log });
  await gateway.start();
  return { ...made, gateway, lines };
}

const fails = async (what: Promise<unknown>): Promise<string> => {
  try {
    await what;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  throw new Error('expected a failure');
};

const io = () => {
  const out: string[] = [];
  return { out, io: { out: (s: string) => void out.push(s), err: (s: string) => void out.push(s) } };
};

t.test('default security: SignAndEncrypt only, a generated admin, untrusted client certificates until `pki trust`', async (t) => {
  const dataDir = tempDir(t, 'tinyml-sec-');
  const first = await loggedGateway(t, { security: {} }, dataDir);
  t.teardown(() => first.gateway.stop());
  const created = first.lines.find((l) => typeof l.passwordFile === 'string');
  t.ok(created, 'the log names the file with the admin password');
  const password = secret(readFileSync(String(created?.passwordFile), 'utf8').trim());
  t.equal(statSync(String(created?.passwordFile)).mode & 0o777, 0o600, 'readable by the gateway user only');
  t.notOk(JSON.stringify(first.lines).includes(password), 'the password is in no log line');
  const usersFile = readFileSync(join(dataDir, 'opcua-users.json'), 'utf8');
  t.notOk(usersFile.includes(password), 'the users file holds no password');
  t.match(usersFile, /scrypt\$/, 'but its salted hash');

  const clientPki = tempDir(t, 'tinyml-client-');
  const admin = { userName: 'admin', password };
  const port = first.ports.opcua;
  const secure: OpcuaClientOptions = { mode: 'SignAndEncrypt', policy: 'Basic256Sha256', user: admin, maxRetry: 0 };

  // Discovery answers over an unsecured channel; it offers only the secure endpoints.
  const probe = await fails(opcuaSession(port, clientPki, { maxRetry: 0 }));
  t.ok(probe.length > 0, 'no session over None');
  const untrusted = await fails(opcuaSession(port, clientPki, secure));
  t.ok(untrusted.length > 0, 'an unknown client certificate is refused');
  const rejection = first.lines.find((l) => l.msg === 'OPC UA client certificate rejected');
  t.ok(rejection, 'one log line names the rejected certificate');
  t.match(rejection, { status: 'BadCertificateUntrusted', thumbprint: /^[0-9a-f]{40}$/, subject: /CN=/ });
  const thumbprint = String(rejection?.thumbprint);

  const listed = io();
  t.equal(await pkiCommand('list', undefined, dataDir, listed.io), 0);
  t.match(listed.out.join(''), new RegExp(`rejected\\s+${thumbprint}`), 'pki list shows it as rejected');
  const trusted = io();
  t.equal(await pkiCommand('trust', thumbprint.slice(0, 12), dataDir, trusted.io), 0, 'pki trust takes a thumbprint prefix');
  t.same(
    listClientCertificates(dataDir).map((c) => [c.status, c.thumbprint]),
    [['trusted', thumbprint]],
  );

  // The running server watches its trust list: no restart needed.
  // Generous: each refused attempt is a full SignAndEncrypt handshake, and under a loaded CI run three took over 15 s.
  const opc = await waitFor(async () => opcuaSession(port, clientPki, secure).catch(() => undefined), 'trusted client to connect', 40_000);
  t.teardown(() => opc.close());
  const endpoints = await opc.client.getEndpoints();
  t.same(
    [...new Set(endpoints.map((e) => `${MessageSecurityMode[e.securityMode]} ${(e.securityPolicyUri ?? '').split('#')[1]}`))].sort(),
    ['SignAndEncrypt Aes128_Sha256_RsaOaep', 'SignAndEncrypt Basic256Sha256'],
    'SignAndEncrypt with both policies, nothing else',
  );
  t.equal(await readValue(opc.session, `ns=${opc.ns};s=Gateway/Version`), VERSION, 'the session reads');

  const wrong = { ...secure, user: { userName: 'admin', password: 'wrong-password' } };
  t.match(await fails(opcuaSession(port, clientPki, wrong)), /BadUserAccessDenied/, 'a wrong password is refused');
  const anonymous = { ...secure, user: undefined };
  t.match(await fails(opcuaSession(port, clientPki, anonymous)), /ANONYMOUS user token/, 'no endpoint offers anonymous');

  const rejected = io();
  t.equal(await pkiCommand('reject', thumbprint, dataDir, rejected.io), 0);
  t.equal(listClientCertificates(dataDir)[0]?.status, 'rejected', 'pki reject moves it back');
  t.equal(await pkiCommand('trust', 'ffff', dataDir, io().io), 1, 'an unknown or too short thumbprint is an error');

  await opc.close();
  await first.gateway.stop();
  // The admin is created once: a restart keeps it and prints no password.
  const second = await loggedGateway(t, { security: {} }, dataDir);
  t.teardown(() => second.gateway.stop());
  t.notOk(
    second.lines.some((l) => 'passwordFile' in l),
    'no new admin after the first start',
  );
  t.equal(readFileSync(join(dataDir, 'opcua-admin-password'), 'utf8').trim(), password, 'the password file stays');
  t.equal(readFileSync(join(dataDir, 'opcua-users.json'), 'utf8'), usersFile);
});

t.test('each security mode and policy; users from config with roles', async (t) => {
  const users = [
    { name: 'olivia', passwordHash: await secretHash('operator-pass'), role: 'operator' },
    { name: 'victor', passwordHash: await secretHash('viewer-pass'), role: 'viewer' },
  ];
  const { gateway, ports, config } = await loggedGateway(t, {
    users,
    security: { modes: ['None', 'Sign', 'SignAndEncrypt'], autoAcceptClientCertificates: true },
  });
  t.teardown(() => gateway.stop());
  const clientPki = config.gateway.dataDir;
  const operator = { userName: 'olivia', password: 'operator-pass' };
  for (const [mode, policy] of [
    ['None', 'None'],
    ['Sign', 'Basic256Sha256'],
    ['Sign', 'Aes128_Sha256_RsaOaep'],
    ['SignAndEncrypt', 'Basic256Sha256'],
    ['SignAndEncrypt', 'Aes128_Sha256_RsaOaep'],
  ] as const) {
    const opc = await opcuaSession(ports.opcua, clientPki, { mode, policy, user: operator, maxRetry: 0 });
    t.equal(await readValue(opc.session, `ns=${opc.ns};s=Gateway/Devices`), 2, `${mode} ${policy}: a session reads`);
    await opc.close();
  }
  t.match(await fails(opcuaSession(ports.opcua, clientPki, { maxRetry: 0 })), /ANONYMOUS user token/, 'anonymous is off');

  const call = async (user: { userName: string; password: string }) => {
    const opc = await opcuaSession(ports.opcua, clientPki, { mode: 'SignAndEncrypt', policy: 'Basic256Sha256', user, maxRetry: 0 });
    try {
      const r = await opc.session.call({
        objectId: `ns=${opc.ns};s=Gateway`,
        methodId: `ns=${opc.ns};s=Gateway/AcknowledgeAll`,
        inputArguments: [{ dataType: DataType.String, value: '' }],
      });
      return { status: r.statusCode, read: await readValue(opc.session, `ns=${opc.ns};s=Gateway/Version`) };
    } finally {
      await opc.close();
    }
  };
  const viewer = await call({ userName: 'victor', password: 'viewer-pass' });
  t.equal(viewer.status.name, StatusCodes.BadUserAccessDenied.name, 'a viewer may not call methods');
  t.type(viewer.read, 'string', 'but reads');
  t.equal((await call(operator)).status.name, 'Good', 'an operator may');
});
