import { join } from 'node:path';
import { format } from 'node:util';
import {
  OPCUAServer,
  OPCUACertificateManager,
  RegisterServerMethod,
  setErrorLogger,
  setWarningLogger,
  type UAObject,
  type Namespace,
} from 'node-opcua';
import type { Subscription } from 'rxjs';
import type { Logger } from '../../core/logger.js';
import type { Part } from '../../core/part.js';
import type { DeviceStateStore, DeviceState } from '../../state/device-state.js';
import { DeviceNodes, DEVICES_FOLDER, NAMESPACE_URI } from './device-nodes.js';

export interface OpcuaOptions {
  port: number;
  host?: string;
  dataDir: string;
  version: string;
  rules: () => string[];
}

const ONLINE_REFRESH_MS = 1000;

/** node-opcua prints its warnings as plain text on stdout; the daemon's stdout is JSON lines only. */
function routeLibraryLogs(log: Logger): void {
  // node-opcua calls these with its caller ({ filename, callerline }) first, then printf-style args.
  const route =
    (level: 'warn' | 'error') =>
    (caller: unknown, ...args: unknown[]): void => {
      const { filename, callerline } = (caller ?? {}) as { filename?: string; callerline?: number };
      log[level]({ lib: 'node-opcua', source: filename ? `${filename}:${callerline ?? ''}` : undefined }, format(...args).trim());
    };
  setWarningLogger(route('warn'));
  setErrorLogger(route('error'));
}

/** A read-only OPC UA view of device state: Objects/Devices/<device>/… */
export class OpcuaServerPart implements Part {
  readonly name = 'opcua';
  private server?: OPCUAServer;
  private ns?: Namespace;
  private devicesFolder?: UAObject;
  private readonly devices = new Map<string, DeviceNodes>();
  private subscription?: Subscription;
  private onlineTimer?: NodeJS.Timeout;

  constructor(
    private readonly options: OpcuaOptions,
    private readonly state: DeviceStateStore,
    private readonly log: Logger,
  ) {
    routeLibraryLogs(log);
  }

  async start(): Promise<void> {
    const pki = join(this.options.dataDir, 'pki');
    const server = new OPCUAServer({
      port: this.options.port,
      ...(this.options.host ? { hostname: this.options.host } : {}),
      resourcePath: '/UA/TinyMLGateway',
      buildInfo: { productName: 'tinyml-gateway', softwareVersion: this.options.version, manufacturerName: 'tinyml-gateway' },
      serverCertificateManager: new OPCUACertificateManager({
        rootFolder: join(pki, 'server'),
        automaticallyAcceptUnknownCertificate: true,
      }),
      userCertificateManager: new OPCUACertificateManager({ rootFolder: join(pki, 'user'), automaticallyAcceptUnknownCertificate: false }),
      registerServerMethod: RegisterServerMethod.HIDDEN,
    });
    this.server = server;
    await server.initialize();
    const addressSpace = server.engine.addressSpace;
    if (!addressSpace) throw new Error('OPC UA address space not created');
    this.ns = addressSpace.registerNamespace(NAMESPACE_URI);
    this.devicesFolder = this.ns.addFolder(addressSpace.rootFolder.objects, { browseName: DEVICES_FOLDER, nodeId: `s=${DEVICES_FOLDER}` });
    for (const d of this.state.all()) this.sync(d);
    this.subscription = this.state.changes$.subscribe((change) => this.sync(change.device));
    await server.start();
    this.onlineTimer = setInterval(() => this.refreshOnline(), ONLINE_REFRESH_MS);
    this.onlineTimer.unref();
    this.log.info({ endpoint: this.endpointUrl() }, 'OPC UA server listening');
  }

  endpointUrl(): string | undefined {
    return this.server?.getEndpointUrl();
  }

  /** Adds nodes for configured rules after a reload. */
  rulesChanged(): void {
    for (const d of this.state.all()) this.sync(d);
  }

  async stop(): Promise<void> {
    clearInterval(this.onlineTimer);
    this.subscription?.unsubscribe();
    await this.server?.shutdown(0);
  }

  problem(): string | undefined {
    return this.server?.engine.addressSpace ? undefined : 'not running';
  }

  /** A failure here is logged, never thrown: it would surface inside the pipeline's subscription. */
  private sync(d: DeviceState): void {
    if (!this.ns || !this.devicesFolder) return;
    try {
      let nodes = this.devices.get(d.id);
      if (!nodes) {
        nodes = new DeviceNodes(this.ns, this.devicesFolder, d.id);
        this.devices.set(d.id, nodes);
      }
      nodes.ensureRules(this.options.rules());
      nodes.update(d, this.state.isOnline(d));
    } catch (err) {
      this.log.error({ device: d.id, err: err instanceof Error ? err.message : String(err) }, 'OPC UA update failed');
    }
  }

  private refreshOnline(): void {
    for (const d of this.state.all()) this.devices.get(d.id)?.update(d, this.state.isOnline(d));
  }
}
