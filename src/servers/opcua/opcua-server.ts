import { join } from 'node:path';
import { format } from 'node:util';
import {
  OPCUAServer,
  OPCUACertificateManager,
  RegisterServerMethod,
  setErrorLogger,
  setWarningLogger,
  DataType,
  type UAObject,
  type Namespace,
} from 'node-opcua';
import type { Subscription } from 'rxjs';
import type { Logger } from '../../core/logger.js';
import type { Part } from '../../core/part.js';
import type { DeviceStateStore, DeviceState } from '../../state/device-state.js';
import type { SwapReport } from '../../cep/rules/engine.js';
import type { RuleSpec } from '../../cep/rules/language.js';
import { asEvent, type AlarmEvent } from '../../core/alarm.js';
import type { AlarmBook } from '../../state/alarm-book.js';
import { AlarmConditions, alarmKindOf } from './alarm-conditions.js';
import { DeviceNodes, DEVICES_FOLDER, NAMESPACE_URI } from './device-nodes.js';
import { addMethod } from './methods.js';

export interface OpcuaOptions {
  port: number;
  host?: string;
  dataDir: string;
  version: string;
  rules: () => RuleSpec[];
  alarms: AlarmBook;
  /** Reloads rules and devices from the config file (the ReloadRules method; SIGHUP does the same). */
  reloadRules: () => Promise<SwapReport | undefined>;
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

/** The OPC UA view of the gateway: Objects/Devices/<device>/… with alarm conditions, and Objects/Gateway with its methods. */
export class OpcuaServerPart implements Part {
  readonly name = 'opcua';
  private server?: OPCUAServer;
  private ns?: Namespace;
  private devicesFolder?: UAObject;
  private conditions?: AlarmConditions;
  private readonly devices = new Map<string, DeviceNodes>();
  private readonly subscriptions: Subscription[] = [];
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
    addressSpace.installAlarmsAndConditionsService();
    const ns = addressSpace.registerNamespace(NAMESPACE_URI);
    this.ns = ns;
    const objects = addressSpace.rootFolder.objects;
    this.devicesFolder = ns.addObject({
      organizedBy: objects,
      typeDefinition: 'FolderType',
      browseName: DEVICES_FOLDER,
      displayName: DEVICES_FOLDER,
      nodeId: `s=${DEVICES_FOLDER}`,
      // The area of every device's alarms: subscribing to its events gets all of them.
      eventNotifier: 1,
      notifierOf: objects.server,
    });
    this.addGatewayObject(ns, objects);
    const kindOf = (rule: string) => alarmKindOf(this.options.rules().find((r) => r.id === rule));
    this.conditions = new AlarmConditions(ns, this.options.alarms, kindOf, this.log);
    for (const d of this.state.all()) this.sync(d);
    for (const c of this.options.alarms.list()) this.applyAlarm(asEvent(c));
    this.subscriptions.push(
      this.state.changes$.subscribe((change) => this.sync(change.device)),
      this.options.alarms.events$.subscribe((e) => this.applyAlarm(e)),
    );
    await server.start();
    this.onlineTimer = setInterval(() => this.refreshOnline(), ONLINE_REFRESH_MS);
    this.onlineTimer.unref();
    this.log.info({ endpoint: this.endpointUrl() }, 'OPC UA server listening');
  }

  endpointUrl(): string | undefined {
    return this.server?.getEndpointUrl();
  }

  async stop(): Promise<void> {
    clearInterval(this.onlineTimer);
    for (const s of this.subscriptions.splice(0)) s.unsubscribe();
    await this.server?.shutdown(0);
  }

  problem(): string | undefined {
    return this.server?.engine.addressSpace ? undefined : 'not running';
  }

  /** A failure here is logged, never thrown: it would surface inside the pipeline's subscription. */
  private sync(d: DeviceState): void {
    if (!this.ns || !this.devicesFolder) return;
    try {
      this.deviceNodes(d.id)?.update(d, this.state.isOnline(d));
    } catch (err) {
      this.log.error({ device: d.id, err: err instanceof Error ? err.message : String(err) }, 'OPC UA update failed');
    }
  }

  private deviceNodes(id: string): DeviceNodes | undefined {
    const ns = this.ns;
    if (!ns || !this.devicesFolder) return undefined;
    let nodes = this.devices.get(id);
    if (nodes) return nodes;
    nodes = new DeviceNodes(ns, this.devicesFolder, id);
    this.devices.set(id, nodes);
    const alarms = this.options.alarms;
    addMethod(
      ns,
      nodes.object,
      {
        name: 'ResetAlarms',
        description: 'Clears, acknowledges and confirms every alarm of this device (e.g. one its rule can no longer clear)',
        outputs: [{ name: 'Count', dataType: DataType.UInt32, description: 'alarms reset' }],
        run: () => [new Set(alarms.reset((c) => c.device === id, 'opcua', 'reset over OPC UA').map((e) => e.rule)).size],
      },
      this.methodFailed,
    );
    return nodes;
  }

  private applyAlarm(e: AlarmEvent): void {
    try {
      const nodes = this.deviceNodes(e.device);
      if (nodes) this.conditions?.apply(nodes.object, e);
    } catch (err) {
      this.log.error({ device: e.device, rule: e.rule, err: err instanceof Error ? err.stack : String(err) }, 'OPC UA alarm update failed');
    }
  }

  /** Objects/Gateway: the methods that act on the whole gateway. */
  private addGatewayObject(ns: Namespace, objects: UAObject): void {
    const gateway = ns.addObject({ organizedBy: objects, browseName: 'Gateway', displayName: 'Gateway', nodeId: 's=Gateway' });
    const alarms = this.options.alarms;
    addMethod(
      ns,
      gateway,
      {
        name: 'ReloadRules',
        description: 'Reloads rules and devices from the configuration file, as SIGHUP does',
        outputs: [
          { name: 'Kept', dataType: DataType.String, valueRank: 1, description: 'rules whose state carried over' },
          { name: 'Restarted', dataType: DataType.String, valueRank: 1, description: 'rules started afresh' },
          { name: 'Removed', dataType: DataType.String, valueRank: 1, description: 'rules no longer configured' },
        ],
        run: async () => {
          const report = await this.options.reloadRules();
          return [report?.kept ?? [], report?.restarted ?? [], report?.removed ?? []];
        },
      },
      this.methodFailed,
    );
    addMethod(
      ns,
      gateway,
      {
        name: 'AcknowledgeAll',
        description: 'Acknowledges every unacknowledged alarm of a device (an empty Device: of every device)',
        inputs: [{ name: 'Device', dataType: DataType.String, description: 'device id, or empty for all devices' }],
        outputs: [{ name: 'Count', dataType: DataType.UInt32, description: 'alarms acknowledged' }],
        run: ([device]) => [alarms.acknowledgeAll(typeof device === 'string' && device !== '' ? device : undefined, 'opcua').length],
      },
      this.methodFailed,
    );
  }

  private readonly methodFailed = (method: string, err: unknown): void => {
    this.log.warn({ method, err: err instanceof Error ? err.message : String(err) }, 'OPC UA method failed');
  };

  private refreshOnline(): void {
    for (const d of this.state.all()) this.devices.get(d.id)?.update(d, this.state.isOnline(d));
  }
}
