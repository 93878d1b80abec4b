import { join } from 'node:path';
import { format } from 'node:util';
import {
  OPCUAServer,
  OPCUACertificateManager,
  RegisterServerMethod,
  setErrorLogger,
  setWarningLogger,
  NamespaceOptions,
  type UAObject,
  type UAObjectType,
  type UAVariable,
  type Namespace,
} from './ua.js';
import type { Subscription } from 'rxjs';
import type { Logger } from '../../core/logger.js';
import type { Part } from '../../core/part.js';
import { newDevice, type DeviceStateStore, type DeviceState } from '../../state/device-state.js';
import type { RuleStatus, SwapReport } from '../../cep/rules/engine.js';
import { DEFAULT_ANOMALY_RANGE, type DeviceConfig, type OpcuaConfig } from '../../config/schema.js';
import type { Clock } from '../../core/clock.js';
import type { RuleSpec } from '../../cep/rules/language.js';
import { asEvent, type AlarmEvent } from '../../core/alarm.js';
import type { AlarmBook } from '../../state/alarm-book.js';
import { AlarmConditions, alarmKindOf, type AlarmKind } from './alarm-conditions.js';
import { addingBelowDevice, buildDevicesOnFirstUse, buildOnBrowse } from './lazy-devices.js';
import { initializeOverlapped } from './overlapped-init.js';
import { addDeviceType, DeviceNodes, DEVICES_FOLDER, NAMESPACE_URI, type DeviceView } from './device-type.js';
import { GATEWAY_OBJECT, GatewayNodes, type GatewayStatus } from './gateway-nodes.js';
import { addMethod, InvalidArgument, METHODS } from './methods.js';
import { DEVICE_ID_PATTERN } from '../../normalise/inference-event.js';
import type { DeviceRegistry } from '../../state/device-registry.js';
import { EVENTS_WITH_HISTORY, HISTORIZED, installEventHistory, installValueHistory } from './history.js';
import { MAX_HISTORY_ROWS, type HistorySource } from '../../state/history.js';
import { RuleNodes, RULES_FOLDER } from './rule-nodes.js';
import { harvestQueuedItemsOnly } from './harvest.js';
import { eventsWatched, onEventWatchStart, trackWatchers } from './live-values.js';
import { HandshakeGuard, type HandshakeRefusal } from './handshake-guard.js';
import { clientCertificateManager, endpointSecurity, loadUsers, mayCall, roleOf, userManager } from './security.js';

export interface OpcuaOptions {
  port: number;
  host?: string;
  dataDir: string;
  version: string;
  /** Endpoints, users and certificate trust. */
  security: Pick<OpcuaConfig, 'security' | 'users'>;
  limits: Pick<OpcuaConfig, 'maxClients' | 'maxMonitoredItems' | 'handshakeTimeout' | 'maxHandshakes'>;
  /** A connection closed before it opened a secure channel (for the metrics). */
  refused?: (reason: HandshakeRefusal) => void;
  clock: Clock;
  rules: () => RuleSpec[];
  ruleStatus: () => RuleStatus[];
  devices: () => DeviceConfig[];
  status: () => GatewayStatus;
  alarms: AlarmBook;
  /** What HistoryRead answers from: InfluxDB when configured, else the in-memory ring. */
  history: HistorySource;
  /** Reloads rules and devices from the config file (the ReloadRules method; SIGHUP does the same). */
  reloadRules: () => Promise<SwapReport | undefined>;
  /** The device registry the ApproveDevice and RevokeDevice methods act on. */
  registry?: DeviceRegistry;
  /** Runs background work on a later turn of the event loop (setImmediate); a test may hold it. */
  nextTurn?: (run: () => void) => void;
}

/** How often Online, InferenceRate, Rules and Gateway are sampled (they change without an event). */
const REFRESH_MS = 1000;

/** Device objects made per turn of the event loop after start: some 15 ms of a 2-core gateway's thread. */
const OBJECTS_PER_TURN = 100;

// Children of string node ids read as paths (`s=Devices/press-01/Model/Name`), not `…-Model-Name`.
NamespaceOptions.nodeIdNameSeparator = '/';

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

/** One GeneralModelChangeEvent for a device and everything below it, not one per node. */
function inModelChange<T>(ns: Namespace, make: () => T): T {
  let made: T | undefined;
  (ns.addressSpace as unknown as { modelChangeTransaction(f: () => void): void }).modelChangeTransaction(() => (made = make()));
  return made as T;
}

/** The OPC UA view of the gateway: Objects/Devices/<device>/… with alarm conditions, and Objects/Gateway with its methods. */
export class OpcuaServerPart implements Part {
  readonly name = 'opcua';
  private server?: OPCUAServer;
  private guard?: HandshakeGuard;
  private ns?: Namespace;
  private devicesFolder?: UAObject;
  private deviceType?: UAObjectType;
  private conditions?: AlarmConditions;
  private gateway?: GatewayNodes;
  private rules?: RuleNodes;
  private readonly devices = new Map<string, DeviceNodes>();
  /** Devices known at start whose object is not made yet (see makeObjectsLater). */
  private unmade: string[] = [];
  private readonly subscriptions: Subscription[] = [];
  private refreshTimer?: NodeJS.Timeout;
  private stopWatching?: () => void;
  private ranges?: { of: DeviceConfig[]; byId: Map<string, DeviceView['anomalyRange']> };

  constructor(
    private readonly options: OpcuaOptions,
    private readonly state: DeviceStateStore,
    private readonly log: Logger,
  ) {
    routeLibraryLogs(log);
    harvestQueuedItemsOnly();
    trackWatchers();
  }

  async start(): Promise<void> {
    const pki = join(this.options.dataDir, 'pki');
    const { security, users } = this.options.security;
    const known = await loadUsers({ users }, this.options.dataDir, this.log);
    const limits = this.options.limits;
    const server = new OPCUAServer({
      maxConnectionsPerEndpoint: limits.maxClients,
      serverCapabilities: {
        maxSessions: limits.maxClients,
        maxSubscriptions: limits.maxClients * 10,
        maxMonitoredItems: limits.maxMonitoredItems,
        maxMonitoredItemsPerSubscription: limits.maxMonitoredItems,
      },
      ...endpointSecurity({ security }),
      allowAnonymous: security.allowAnonymous,
      userManager: userManager(known),
      port: this.options.port,
      ...(this.options.host ? { hostname: this.options.host } : {}),
      resourcePath: '/UA/TinyMLGateway',
      buildInfo: { productName: 'tinyml-gateway', softwareVersion: this.options.version, manufacturerName: 'tinyml-gateway' },
      serverCertificateManager: clientCertificateManager(this.options.dataDir, security.autoAcceptClientCertificates, this.log),
      userCertificateManager: new OPCUACertificateManager({ rootFolder: join(pki, 'user'), automaticallyAcceptUnknownCertificate: false }),
      registerServerMethod: RegisterServerMethod.HIDDEN,
    });
    this.server = server;
    await initializeOverlapped(server);
    Object.assign(server.engine.historyServerCapabilities, {
      accessHistoryDataCapability: true,
      accessHistoryEventsCapability: true,
      maxReturnDataValues: MAX_HISTORY_ROWS,
      maxReturnEventValues: MAX_HISTORY_ROWS,
    });
    const addressSpace = server.engine.addressSpace;
    if (!addressSpace) throw new Error('OPC UA address space not created');
    addressSpace.installAlarmsAndConditionsService();
    const ns = addressSpace.registerNamespace(NAMESPACE_URI);
    // First of the interceptors: a viewer is refused before any other check says more.
    addressSpace.addMethodCallInterceptor((context, _object, method) =>
      mayCall(roleOf(context, security.anonymousRole), { name: method.browseName.name ?? '', ours: method.nodeId.namespace === ns.index }),
    );
    this.ns = ns;
    buildDevicesOnFirstUse(ns, DEVICES_FOLDER, (device, below) => {
      const nodes = this.known(device);
      if (!nodes || !below) return nodes !== undefined;
      // A node id below a built device may be a condition nobody has seen yet.
      return nodes.build() ? (this.conditions?.createFor(device), true) : false;
    });
    this.deviceType = addDeviceType(ns);
    const objects = addressSpace.rootFolder.objects;
    this.devicesFolder = ns.addObject({
      organizedBy: objects,
      typeDefinition: 'FolderType',
      browseName: DEVICES_FOLDER,
      displayName: DEVICES_FOLDER,
      nodeId: `s=${DEVICES_FOLDER}`,
      // The area of every device's alarms: subscribing to its events gets all of them.
      eventNotifier: EVENTS_WITH_HISTORY,
      notifierOf: objects.server,
      // A NodeVersion makes node-opcua raise a GeneralModelChangeEvent when a device comes or goes.
      nodeVersion: '0',
    });
    this.rules = new RuleNodes(
      ns,
      ns.addObject({
        organizedBy: objects,
        typeDefinition: 'FolderType',
        browseName: RULES_FOLDER,
        nodeId: `s=${RULES_FOLDER}`,
        nodeVersion: '0',
      }),
    );
    this.addGatewayObject(ns, objects);
    this.conditions = new AlarmConditions(ns, this.options.alarms, this.kindOf, this.log, eventsWatched);
    this.stopWatching = onEventWatchStart(() => this.conditions?.watchStarted());
    installEventHistory(this.devicesFolder, undefined, this.options.history, this.kindOf, this.log);
    buildOnBrowse(this.devicesFolder, () => this.makeObjects(this.unmade.length));
    this.unmade = this.state.all().map((d) => d.id);
    inModelChange(ns, () => {
      for (const c of this.options.alarms.list()) this.applyAlarm(asEvent(c));
    });
    this.subscriptions.push(
      this.state.changes$.subscribe((change) =>
        change.kind === 'device-removed' ? this.removeDevice(change.device.id) : this.sync(change.device),
      ),
      this.options.alarms.events$.subscribe((e) => this.applyAlarm(e)),
    );
    await server.start();
    this.makeObjectsLater();
    this.guard = new HandshakeGuard(limits, this.options.refused ?? (() => undefined), this.options.clock, this.log);
    this.guard.install(server);
    this.refresh();
    this.refreshTimer = setInterval(() => this.refresh(), REFRESH_MS);
    this.refreshTimer.unref();
    this.log.info({ endpoint: this.endpointUrl() }, 'OPC UA server listening');
  }

  /**
   * The objects of the devices known at start are made after the server listens, a few per turn,
   * so that start and ready do not grow with devices (a 10,000-device start spent 1.5 s here).
   * Until a device's turn comes, whatever names it makes its object at once: an event, an alarm,
   * a node id below Devices, and a browse of the Devices folder (which makes all of them).
   */
  private makeObjectsLater(): void {
    if (this.unmade.length === 0) return;
    (this.options.nextTurn ?? setImmediate)(() => {
      this.makeObjects(OBJECTS_PER_TURN);
      this.makeObjectsLater();
    });
  }

  /** The next `count` device objects not made yet, in one model change. */
  private makeObjects(count: number): void {
    const ns = this.ns;
    if (!ns || this.unmade.length === 0) return;
    // Taken first: making an object may browse the folder, which must not make these again.
    const ids = this.unmade.splice(0, count);
    inModelChange(ns, () => {
      for (const id of ids) this.known(id);
    });
  }

  /** A known device's nodes: its object is made now if its turn has not come yet. */
  private known(id: string): DeviceNodes | undefined {
    const made = this.devices.get(id);
    if (made) return made;
    const d = this.state.get(id);
    if (d) this.sync(d);
    return this.devices.get(id);
  }

  /** Devices whose object exists: every known device soon after start (see makeObjectsLater). */
  deviceObjects(): string[] {
    return [...this.devices.keys()];
  }

  /** Devices whose variables exist: the ones a client (or an alarm) has reached so far. */
  builtDevices(): string[] {
    return [...this.devices.values()].filter((d) => d.isBuilt).map((d) => d.id);
  }

  /** How many alarm conditions exist as nodes: the ones a client could have seen so far. */
  conditionsCreated(): number {
    return this.conditions?.created ?? 0;
  }

  /** A device variable by browse path below the device (`AnomalyScore`, `Model/Name`, `Scores/<label>`). */
  deviceVariable(device: string, path: string): UAVariable | undefined {
    return this.known(device)?.variable(path);
  }

  endpointUrl(): string | undefined {
    return this.server?.getEndpointUrl();
  }

  async stop(): Promise<void> {
    clearInterval(this.refreshTimer);
    this.unmade = [];
    for (const nodes of this.devices.values()) nodes.dispose();
    this.conditions?.dispose();
    this.stopWatching?.();
    for (const s of this.subscriptions.splice(0)) s.unsubscribe();
    this.guard?.dispose();
    await this.server?.shutdown(0);
  }

  problem(): string | undefined {
    return this.server?.engine.addressSpace ? undefined : 'not running';
  }

  /** A failure here is logged, never thrown: it would surface inside the pipeline's subscription. */
  private sync(d: DeviceState): void {
    if (!this.ns || !this.devicesFolder) return;
    try {
      this.deviceNodes(d.id)?.changed(d, this.options.clock.now());
    } catch (err) {
      this.log.error({ device: d.id, err: err instanceof Error ? err.message : String(err) }, 'OPC UA update failed');
    }
  }

  private deviceNodes(id: string): DeviceNodes | undefined {
    const ns = this.ns;
    const folder = this.devicesFolder;
    const type = this.deviceType;
    if (!ns || !folder || !type) return undefined;
    let nodes = this.devices.get(id);
    if (nodes) return nodes;
    const view = (): DeviceView => this.view(this.state.get(id) ?? newDevice(id, false, [], this.options.clock.now()));
    nodes = inModelChange(ns, () =>
      addingBelowDevice(() => new DeviceNodes(ns, type, folder, id, view, (built) => this.completeDevice(ns, built))),
    );
    // A browse of the device, or a path through it, may name a condition nobody has seen yet.
    buildOnBrowse(nodes.object, () => this.conditions?.createFor(id));
    installEventHistory(nodes.object, id, this.options.history, this.kindOf, this.log);
    this.devices.set(id, nodes);
    return nodes;
  }

  /** What a device gets once its variables are built: value history and its ResetAlarms method. */
  private completeDevice(ns: Namespace, nodes: DeviceNodes): void {
    const id = nodes.id;
    for (const [name, field] of Object.entries(HISTORIZED)) {
      installValueHistory(nodes.variable(name)!, id, field, this.options.history, this.log);
    }
    const alarms = this.options.alarms;
    addMethod(
      ns,
      nodes.object,
      {
        ...METHODS.ResetAlarms,
        run: () => [new Set(alarms.reset((c) => c.device === id, 'opcua', 'reset over OPC UA').map((e) => e.rule)).size],
      },
      this.methodFailed,
    );
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
    const gateway = ns.addObject({
      organizedBy: objects,
      browseName: GATEWAY_OBJECT,
      displayName: GATEWAY_OBJECT,
      nodeId: `s=${GATEWAY_OBJECT}`,
    });
    this.gateway = new GatewayNodes(ns, gateway);
    const alarms = this.options.alarms;
    addMethod(
      ns,
      gateway,
      {
        ...METHODS.ReloadRules,
        run: async () => {
          const report = await this.options.reloadRules();
          this.refresh();
          return [report?.kept ?? [], report?.restarted ?? [], report?.removed ?? []];
        },
      },
      this.methodFailed,
    );
    addMethod(
      ns,
      gateway,
      {
        ...METHODS.AcknowledgeAll,
        run: ([device]) => [alarms.acknowledgeAll(typeof device === 'string' && device !== '' ? device : undefined, 'opcua').length],
      },
      this.methodFailed,
    );
    const registry = this.options.registry;
    if (!registry) return;
    const deviceId = (v: unknown): string => {
      if (typeof v !== 'string' || !DEVICE_ID_PATTERN.test(v)) throw new InvalidArgument(`not a device id: ${String(v)}`);
      return v;
    };
    addMethod(ns, gateway, { ...METHODS.ApproveDevice, run: ([d]) => [registry.approve(deviceId(d), 'opcua').status] }, this.methodFailed);
    addMethod(ns, gateway, { ...METHODS.RevokeDevice, run: ([d]) => [registry.revoke(deviceId(d), 'opcua').status] }, this.methodFailed);
  }

  private readonly kindOf = (rule: string): AlarmKind => alarmKindOf(this.options.rules().find((r) => r.id === rule));

  private readonly methodFailed = (method: string, err: unknown): void => {
    this.log.warn({ method, err: err instanceof Error ? err.message : String(err) }, 'OPC UA method failed');
  };

  private view(d: DeviceState): DeviceView {
    return { d, online: this.state.isOnline(d), rate: this.state.inferenceRate(d), anomalyRange: this.anomalyRangeOf(d.id) };
  }

  /**
   * Looked up per event and per device each second, so by id in a map, rebuilt only when a reload
   * replaces the device list (a scan of the list would make the refresh quadratic in devices).
   */
  private anomalyRangeOf(id: string): DeviceView['anomalyRange'] {
    const devices = this.options.devices();
    if (this.ranges?.of !== devices) this.ranges = { of: devices, byId: new Map(devices.map((c) => [c.id, c.anomalyRange])) };
    return this.ranges.byId.get(id) ?? DEFAULT_ANOMALY_RANGE;
  }

  /** A device dropped from the config: its object and conditions go (with a GeneralModelChangeEvent). */
  private removeDevice(id: string): void {
    const nodes = this.devices.get(id);
    if (!nodes || !this.ns) return;
    this.devices.delete(id);
    nodes.dispose();
    this.conditions?.forget(id);
    const ns = this.ns;
    inModelChange(ns, () => ns.addressSpace.deleteNode(nodes.object));
  }

  /** Values that change with time alone, and the rule list (which a reload changes). */
  private refresh(): void {
    try {
      for (const nodes of this.devices.values()) nodes.refresh();
      this.rules?.update(this.options.ruleStatus());
      this.gateway?.update(this.options.status(), this.options.clock.now());
    } catch (err) {
      this.log.error({ err: err instanceof Error ? err.stack : String(err) }, 'OPC UA refresh failed');
    }
  }
}
