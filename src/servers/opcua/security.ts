import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { dirname, join } from 'node:path';
import {
  MessageSecurityMode,
  OPCUACertificateManager,
  SecurityPolicy,
  StatusCodes,
  WellKnownRoles,
  makeRoles,
  type ISessionContext,
  type NodeId,
  type StatusCode,
  type UserManagerOptions,
} from './ua.js';
import { ConfigError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { hashPassword, randomPassword, verifyPassword } from '../../core/password.js';
import { OPCUA_ROLES, type OpcuaConfig, type OpcuaRole } from '../../config/schema.js';

export interface OpcuaUser {
  name: string;
  passwordHash: string;
  role: OpcuaRole;
}

/** Where the generated `admin` user is kept when the config names no users. */
export const USERS_FILE = 'opcua-users.json';
/** Where the generated admin's password is left for the integrator (mode 0600): logs never carry a secret. */
export const ADMIN_PASSWORD_FILE = 'opcua-admin-password';
export const DEFAULT_USER = 'admin';

const ROLE_IDS: Record<OpcuaRole, NodeId[]> = {
  viewer: makeRoles([WellKnownRoles.AuthenticatedUser, WellKnownRoles.Observer]),
  operator: makeRoles([WellKnownRoles.AuthenticatedUser, WellKnownRoles.Observer, WellKnownRoles.Operator]),
  admin: makeRoles([
    WellKnownRoles.AuthenticatedUser,
    WellKnownRoles.Observer,
    WellKnownRoles.Operator,
    WellKnownRoles.Engineer,
    WellKnownRoles.ConfigureAdmin,
    WellKnownRoles.SecurityAdmin,
  ]),
};

/** The PKI folders: the server's own certificate, and the trusted/rejected lists of client certificates. */
export function pkiFolder(dataDir: string): string {
  return join(dataDir, 'pki', 'server');
}

/**
 * The users: those of the config, or (when it names none) the generated ones in
 * `<dataDir>/opcua-users.json`, where an `admin` is created on first start. The gateway keeps
 * only its hash; the password goes to `<dataDir>/opcua-admin-password` (0600), never to the log,
 * so it can be read again later (as Jenkins leaves its initial admin password).
 */
export async function loadUsers(config: Pick<OpcuaConfig, 'users'>, dataDir: string, log: Logger): Promise<OpcuaUser[]> {
  if (config.users.length > 0) return config.users;
  const file = join(dataDir, USERS_FILE);
  if (existsSync(file)) return readUsersFile(file);
  const password = randomPassword();
  const users: OpcuaUser[] = [{ name: DEFAULT_USER, passwordHash: await hashPassword(password), role: 'admin' }];
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const passwordFile = join(dataDir, ADMIN_PASSWORD_FILE);
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  writeFileSync(`${file}.tmp`, JSON.stringify({ version: 1, users }, null, 2), { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
  log.warn(
    { user: DEFAULT_USER, passwordFile, file },
    `OPC UA user '${DEFAULT_USER}' created; its password is in ${passwordFile} (readable by the gateway's user only); put your own users in opcua.users`,
  );
  return users;
}

function readUsersFile(file: string): OpcuaUser[] {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { users?: OpcuaUser[] };
    const users = parsed.users ?? [];
    for (const u of users) if (!OPCUA_ROLES.includes(u.role)) throw new Error(`user ${u.name}: unknown role ${String(u.role)}`);
    return users;
  } catch (err) {
    throw new ConfigError(file, [
      { path: 'users', message: `${err instanceof Error ? err.message : String(err)} (delete the file to create a new admin user)` },
    ]);
  }
}

/** node-opcua's user check: scrypt hashes, roles as well-known role ids. */
export function userManager(users: OpcuaUser[]): UserManagerOptions {
  const byName = new Map(users.map((u) => [u.name, u]));
  return {
    isValidUserAsync(username: string, password: string, callback: (err: Error | null, ok?: boolean) => void): void {
      const user = byName.get(username);
      // An unknown user costs a hash too, so timing does not tell which names exist.
      verifyPassword(password, user?.passwordHash ?? users[0]?.passwordHash ?? '').then(
        (ok) => callback(null, ok && user !== undefined),
        (err: Error) => callback(err),
      );
    },
    getUserRoles: (username: string) => ROLE_IDS[byName.get(username)?.role ?? 'viewer'],
  };
}

/** The role of a session: a user's own, or the configured anonymous role. */
export function roleOf(context: ISessionContext, anonymousRole: OpcuaRole): OpcuaRole {
  const roles = context.getCurrentUserRoles();
  if (roles.length === 0) return 'admin'; // an in-process call, not a client
  if (context.currentUserHasRole(WellKnownRoles.Anonymous)) return anonymousRole;
  if (context.currentUserHasRole(WellKnownRoles.SecurityAdmin)) return 'admin';
  return context.currentUserHasRole(WellKnownRoles.Operator) ? 'operator' : 'viewer';
}

/** Condition methods that change an alarm; viewers may still call ConditionRefresh. */
const CHANGING_CONDITION_METHODS = new Set([
  'Acknowledge',
  'Confirm',
  'AddComment',
  'Enable',
  'Disable',
  'OneShotShelve',
  'TimedShelve',
  'Unshelve',
]);

/** Viewers read and subscribe; every method of ours and every alarm-changing method needs an operator. */
export function mayCall(role: OpcuaRole, method: { name: string; ours: boolean }): StatusCode {
  if (role !== 'viewer') return StatusCodes.Good;
  return method.ours || CHANGING_CONDITION_METHODS.has(method.name) ? StatusCodes.BadUserAccessDenied : StatusCodes.Good;
}

export function endpointSecurity(config: Pick<OpcuaConfig, 'security'>): {
  securityModes: MessageSecurityMode[];
  securityPolicies: SecurityPolicy[];
} {
  const modes = config.security.modes.map((m) => MessageSecurityMode[m]);
  const policies = config.security.policies.map((p) => SecurityPolicy[p]);
  return {
    securityModes: modes,
    securityPolicies: modes.includes(MessageSecurityMode.None) ? [SecurityPolicy.None, ...policies] : policies,
  };
}

/** A client certificate's identity for logs and `pki list`. */
export function describeCertificate(der: Buffer): { thumbprint: string; subject: string; applicationUri?: string; validTo: string } {
  const cert = new X509Certificate(der);
  const uri = /URI:([^,\s]+)/.exec(cert.subjectAltName ?? '')?.[1];
  return {
    thumbprint: cert.fingerprint.replace(/:/g, '').toLowerCase(),
    subject: cert.subject.replace(/\n/g, ', '),
    ...(uri ? { applicationUri: uri } : {}),
    validTo: cert.validTo,
  };
}

export interface ClientCertificate {
  status: 'trusted' | 'rejected';
  file: string;
  der: Buffer;
  thumbprint: string;
  subject: string;
  applicationUri?: string;
  validTo: string;
}

/** PEM or DER on disk → DER. */
export function readDer(file: string): Buffer {
  const raw = readFileSync(file);
  const pem = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(raw.toString('latin1'));
  return pem ? Buffer.from(pem[1]!.replace(/\s+/g, ''), 'base64') : raw;
}

function listFolder(folder: string, status: ClientCertificate['status']): ClientCertificate[] {
  if (!existsSync(folder)) return [];
  return readdirSync(folder)
    .filter((f) => /\.(pem|der|crt)$/i.test(f))
    .map((f) => {
      const der = readDer(join(folder, f));
      return { status, file: join(folder, f), der, ...describeCertificate(der) };
    });
}

/** Client certificates the server trusts and those it turned away, from `<dataDir>/pki/server`. */
export function listClientCertificates(dataDir: string): ClientCertificate[] {
  const root = pkiFolder(dataDir);
  return [...listFolder(join(root, 'trusted', 'certs'), 'trusted'), ...listFolder(join(root, 'rejected'), 'rejected')];
}

/**
 * The manager that checks client certificates, with one log line naming each one it turns away
 * (what an integrator needs to run `tinyml-gateway pki trust <thumbprint>`).
 */
export function clientCertificateManager(dataDir: string, autoAccept: boolean, log: Logger): OPCUACertificateManager {
  const manager = new OPCUACertificateManager({ rootFolder: pkiFolder(dataDir), automaticallyAcceptUnknownCertificate: autoAccept });
  type Callback = (err: Error | null, status?: StatusCode) => void;
  const check = manager.checkCertificate.bind(manager) as (chain: Buffer | Buffer[], cb: Callback) => void;
  const report = (chain: Buffer | Buffer[], status: StatusCode | undefined): void => {
    if (!status || status.equals(StatusCodes.Good)) return;
    const first = Array.isArray(chain) ? chain[0] : chain;
    let who: object = {};
    try {
      who = first ? describeCertificate(first) : {};
    } catch {
      // an unparsable certificate is still reported, without its name
    }
    log.warn({ ...who, status: status.name, trustWith: 'tinyml-gateway pki trust <thumbprint>' }, 'OPC UA client certificate rejected');
  };
  const checked = (chain: Buffer | Buffer[]): Promise<StatusCode | undefined> =>
    new Promise((resolve, reject) => check(chain, (err, status) => (err ? reject(err) : resolve(status))));
  const trustedOnDisk = (chain: Buffer | Buffer[]): boolean => {
    const first = Array.isArray(chain) ? chain[0] : chain;
    try {
      const thumbprint = first && describeCertificate(first).thumbprint;
      return listClientCertificates(dataDir).some((c) => c.status === 'trusted' && c.thumbprint === thumbprint);
    } catch {
      return false;
    }
  };
  const checkedOnDisk = async (chain: Buffer | Buffer[]): Promise<StatusCode | undefined> => {
    const status = await checked(chain);
    if (!status?.equals(StatusCodes.BadCertificateUntrusted) || !trustedOnDisk(chain)) return status;
    // node-opcua's index follows the folders through a file watcher, which misses a certificate
    // trusted right after the server wrote it to rejected/ (gone before the watcher saw it arrive,
    // so it never sees it leave): the index then rejects it until a restart. The folders are the truth.
    await manager.reloadCertificates();
    return checked(chain);
  };
  // node-opcua calls it both with a callback and as a promise.
  const wrapped = (chain: Buffer | Buffer[], callback?: Callback): Promise<StatusCode | undefined> | undefined => {
    const done = checkedOnDisk(chain).then((status) => {
      report(chain, status);
      return status;
    });
    if (!callback) return done;
    done.then(
      (status) => callback(null, status),
      (err: Error) => callback(err),
    );
    return undefined;
  };
  (manager as unknown as { checkCertificate: typeof wrapped }).checkCertificate = wrapped;
  return manager;
}
