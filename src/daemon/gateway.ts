import { deviceAttributes } from '../config/device-attributes.js';
import type { ValidEvent } from '../normalise/decode-mqtt.js';
import type { GatewayConfig } from '../config/schema.js';
import { asEvent } from '../core/alarm.js';
import { systemClock, type Clock } from '../core/clock.js';
import { StartError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { Part } from '../core/part.js';
import { RuleEngine, type RuleStatus, type SwapReport } from '../cep/rules/engine.js';
import { parseRules } from '../config/load.js';
import { EmbeddedBroker } from '../ingest/mqtt/embedded-broker.js';
import { ExternalBroker } from '../ingest/mqtt/external-broker.js';
import { MqttIngest } from '../ingest/mqtt/mqtt-ingest.js';
import { ModbusPoller } from '../ingest/modbus/modbus-poller.js';
import { SerialIngest } from '../ingest/serial/serial-ingest.js';
import { HashedTokens } from '../core/hashed-tokens.js';
import { MqttAccess, type MqttAccessConfig } from '../ingest/mqtt/mqtt-access.js';
import { HttpIngest } from '../ingest/http/http-ingest.js';
import { KeyedRateLimit } from '../ingest/http/rate-limit.js';
import type { IngestGate } from '../ingest/mqtt/transport.js';
import { ModbusServerPart, type ModbusCounters } from '../servers/modbus-tcp/modbus-server.js';
import { AddressSpace } from '../servers/modbus-tcp/address-space.js';
import { OpcuaServerPart } from '../servers/opcua/opcua-server.js';
import { InfluxSink, type SinkCounters } from '../sinks/influx/influx-sink.js';
import { influxSinkOptions } from '../sinks/influx/settings.js';
import type { GatewayStats } from '../sinks/influx/points.js';
import { MqttRepublisher } from '../sinks/mqtt/republisher.js';
import { AlarmBook } from '../state/alarm-book.js';
import { DeviceStateStore } from '../state/device-state.js';
import { DeviceRegistry } from '../state/device-registry.js';
import { MIXED_VERSIONS_RULE, ModelInventory } from '../state/model-inventory.js';
import { HistoryRing, type HistorySource } from '../state/history.js';
import { InfluxHistory } from '../sinks/influx/influx-history.js';
import { join } from 'node:path';
import { interval, map } from 'rxjs';
import { HttpServerPart, type HealthReport, type IngestEndpoint } from './http-server.js';
import { thingsRequest, type ThingsContext } from './things-api.js';
import { GatewayMetrics } from './metrics.js';
import { Pipeline } from './pipeline.js';
import { privateDataDir } from './private-data-dir.js';
import { LoadShedder } from './load-shedder.js';
import { RuleCheckpoints } from './rule-checkpoints.js';
import { SdNotify, watchdogIntervalMs } from './sd-notify.js';
import { VERSION } from './version.js';

export interface GatewayDeps {
  log: Logger;
  clock?: Clock;
  env?: NodeJS.ProcessEnv;
  /** Reads the config again (SIGHUP, the OPC UA ReloadRules method); throws ConfigError when it is wrong. */
  readConfig?: () => GatewayConfig;
  /** Runs background work on a later turn of the event loop (setImmediate); a test may hold it. */
  nextTurn?: (run: () => void) => void;
}

/** A part that only runs code at start/stop (state, CEP), so the start order reads as the spec. */
function innerPart(name: string, start: () => void | Promise<void>, stop: () => void | Promise<void>): Part {
  return { name, start: async () => start(), stop: async () => stop(), problem: () => undefined };
}

/**
 * Builds every part from the config and runs them in order: state, CEP, servers, sinks, ingest,
 * HTTP. Stops ingest first so nothing new arrives while sinks flush.
 */
export class Gateway {
  readonly metrics = new GatewayMetrics();
  readonly state: DeviceStateStore;
  readonly registry: DeviceRegistry;
  readonly inventory: ModelInventory;
  readonly alarms: AlarmBook;
  readonly engine: RuleEngine;
  readonly pipeline: Pipeline;
  readonly shedder: LoadShedder;
  readonly mqtt: MqttIngest;
  readonly poller?: ModbusPoller;
  readonly serial?: SerialIngest;
  readonly modbus?: ModbusServerPart;
  readonly opcua?: OpcuaServerPart;
  readonly influx?: InfluxSink;
  readonly http: HttpServerPart;
  readonly checkpoints: RuleCheckpoints;
  private readonly parts: Part[];
  private started: Part[] = [];
  private readonly notify: SdNotify;
  private watchdogTimer?: NodeJS.Timeout;
  private stopping?: Promise<void>;
  private config: GatewayConfig;
  private readonly env: NodeJS.ProcessEnv;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly readConfig?: () => GatewayConfig;
  private readonly startedAt: number;
  private readonly deviceTokens: HashedTokens;
  private readonly mqttAccess: MqttAccess;
  private inventoryTimer?: NodeJS.Timeout;

  constructor(config: GatewayConfig, deps: GatewayDeps) {
    this.config = config;
    this.env = deps.env ?? process.env;
    this.log = deps.log;
    const clock = deps.clock ?? systemClock;
    this.clock = clock;
    this.startedAt = clock.now();
    this.readConfig = deps.readConfig;
    const log = deps.log;
    const child = (ns: string): Logger => log.child({ ns });
    this.notify = new SdNotify(this.env);
    this.state = new DeviceStateStore(clock, config.gateway.offlineAfterMs);
    this.deviceTokens = new HashedTokens(deviceTokenHashes(config.devices));
    this.mqttAccess = new MqttAccess(mqttAccessConfig(config));
    this.registry = new DeviceRegistry(config.registry.policy, clock, child('registry'), join(config.gateway.dataDir, 'devices.json'));
    this.registry.configure(config.devices, config.registry.policy);
    this.alarms = new AlarmBook(clock, child('alarms'), { file: join(config.gateway.dataDir, 'alarms.json') });
    this.engine = new RuleEngine(
      config.rules,
      {
        latency: (rule, seconds) => this.metrics.ruleLatency.observe({ rule }, seconds),
        failed: (rule, err) => {
          this.metrics.ruleErrors.inc({ rule });
          const error = err instanceof Error ? err : new Error(String(err));
          child('cep').error({ rule, err: error.stack ?? error.message }, `rule ${rule} stopped by error: ${error.message}`);
        },
        evicted: (rule, reason) => this.metrics.ruleKeysEvicted.inc({ rule, reason }),
      },
      undefined,
      deviceAttributes(config.devices),
    );
    this.metrics.watch({ rules: () => this.engine.status(), activeAlarms: () => this.state.activeAlarmCount() });
    this.checkpoints = new RuleCheckpoints(
      { ...config.checkpoint, dataDir: config.gateway.dataDir, gateway: config.gateway.id },
      this.engine,
      this.alarms,
      clock,
      child('checkpoint'),
      {
        written: (tookMs, bytes) => (this.metrics.checkpointSeconds.set(tookMs / 1000), this.metrics.checkpointBytes.set(bytes)),
        failed: () => this.metrics.checkpointFailures.inc(),
      },
    );
    this.shedder = new LoadShedder(config.gateway.overload, clock, (source) => this.metrics.eventsShed.inc({ source }));
    this.pipeline = new Pipeline(this.engine, this.state, this.alarms, this.metrics, child('pipeline'), this.registry, this.shedder);
    this.inventory = new ModelInventory(config.inventory.mixedVersionsAfter, config.inventory.severity);
    this.inventory.configure(groupOf(config), config.inventory.mixedVersionsAfter, config.inventory.severity);
    this.pipeline.events$.subscribe((e) => this.inventory.observe(e.device, e.model, clock.now()));
    const influxOptions = config.influx.enabled ? influxSinkOptions(config.influx, config.gateway.dataDir) : undefined;

    const servers: Part[] = [];
    // OPC UA HistoryRead and GET /history read InfluxDB when it is configured, else a bounded ring in memory.
    const ring = influxOptions ? undefined : new HistoryRing(this.pipeline, config.opcua.history);
    if (ring) servers.push(ring);
    const history: HistorySource = ring ?? new InfluxHistory(influxOptions!);
    if (config.opcua.enabled) {
      this.opcua = new OpcuaServerPart(
        {
          port: config.opcua.port,
          host: config.opcua.host,
          dataDir: config.gateway.dataDir,
          version: VERSION,
          security: config.opcua,
          limits: config.opcua,
          refused: (reason) => this.metrics.opcuaConnectionsClosed.inc({ reason }),
          clock,
          rules: () => this.config.rules,
          ruleStatus: () => this.engine.status(),
          devices: () => this.config.devices,
          status: () => ({
            version: VERSION,
            startedAt: this.startedAt,
            accepted: this.pipeline.accepted,
            rejected: this.pipeline.rejected,
            devices: this.state.all().length,
            activeAlarms: this.state.activeAlarmCount(),
            sinks: { ...(this.influx ? { influx: this.influx.pending() } : {}) },
          }),
          alarms: this.alarms,
          history,
          reloadRules: () => this.reloadFromSource(),
          registry: this.registry,
          nextTurn: deps.nextTurn,
        },
        this.state,
        child('opcua'),
      );
      servers.push(this.opcua);
    }
    if (config.modbus.enabled) {
      this.modbus = new ModbusServerPart(
        config.modbus,
        AddressSpace.fromConfig(config),
        this.state,
        this.alarms,
        clock,
        child('modbus'),
        this.modbusCounters(),
      );
      servers.push(this.modbus);
      const modbus = this.modbus;
      this.pipeline.actions$.subscribe((a) => a.type === 'modbus-coil' && modbus.applyCoilAction(a));
    }

    const transport = config.mqtt.broker.enabled
      ? new EmbeddedBroker({ ...config.mqtt.broker, id: config.gateway.id }, clock, child('mqtt'), this.mqttAccess, (reason) =>
          this.metrics.mqttRefused.inc({ reason }),
        )
      : new ExternalBroker({ url: config.mqtt.url ?? '', clientId: config.mqtt.clientId ?? config.gateway.id }, clock, child('mqtt'));
    const p = this.pipeline;
    if (influxOptions) {
      const stats$ = interval(config.influx.statsIntervalMs).pipe(map(() => this.stats()));
      const streams = { events$: p.events$, alarms$: p.alarms$, derived$: p.derived$, stats$ };
      this.influx = new InfluxSink(influxOptions, streams, this.influxCounters(), child('influx'));
      const influx = this.influx;
      this.metrics.watch({ sinks: () => ({ influx: influx.status() }) });
    }
    // MQTT acknowledges an event only once the history buffer holds it on disk.
    const gate = this.influx && influxOptions?.buffer.enabled ? this.influx : undefined;
    this.mqtt = new MqttIngest(transport, (frame) => this.pipeline.push(frame), gate);
    if (config.modbusPoll.buses.length > 0) {
      const sink = {
        event: (json: unknown, at: number) => this.pipeline.pushEvent(json, at, 'modbus-poll'),
        link: (d: string, up: boolean) => this.pipeline.link(d, up),
      };
      this.poller = new ModbusPoller(config.modbusPoll, sink, clock, child('modbus-poll'));
    }
    if (config.serial.ports.length > 0) {
      const sink = {
        event: (json: unknown, at: number) => this.pipeline.pushEvent(json, at, 'serial', true),
        dropped: (port: string, reason: string, detail: string) => {
          this.metrics.serialDropped.inc({ port, reason });
          if (this.log.isLevelEnabled('debug')) this.log.debug({ port, reason, detail }, 'serial bytes dropped');
        },
        link: (port: string, open: boolean) => this.metrics.serialPortOpen.set({ port }, open ? 1 : 0),
      };
      this.serial = new SerialIngest(config.serial.ports, sink, clock, child('serial'));
    }

    const streams = {
      alarms$: p.alarms$,
      derived$: p.derived$,
      actions$: p.actions$,
      ...(config.mqtt.republishEvents ? { events$: p.events$ } : {}),
    };
    const sinks: Part[] = [new MqttRepublisher(streams, transport, child('mqtt-out'))];
    if (this.influx) sinks.push(this.influx);

    this.http = new HttpServerPart(
      config.http,
      {
        health: () => this.health(),
        metrics: this.metrics.registry,
        rules: {
          status: () => this.engine.status(),
          replace: (text) => this.replaceRules(parseRules(text, 'POST /rules')),
        },
        alarms: this.alarms,
        history,
        devices: {
          state: this.state,
          registry: this.registry,
          expectedPerMinute: (id) => this.config.devices.find((d) => d.id === id)?.expectedPerMinute,
        },
        ingest: config.http.ingest.enabled ? this.httpIngest(config, clock, gate, child('http-ingest')) : undefined,
        apiTokens: new HashedTokens(config.http.apiTokens.map((t) => [t.name, t.tokenHash])),
        things: (path, host) => thingsRequest(path, this.state, this.thingsContext(host)),
        models: (device) =>
          device === undefined
            ? { models: this.inventory.fleet(), groups: this.inventory.groups() }
            : { device, versions: this.inventory.history(device) },
      },
      child('http'),
      (reason) => this.metrics.httpConnectionsClosed.inc({ reason }),
    );
    this.parts = [
      innerPart(
        'state',
        () => this.restoreState(),
        () => this.alarms.close(),
      ),
      // Before cep: it stops after the rules took their last event, and writes their state then.
      this.checkpoints,
      innerPart(
        'cep',
        () => this.pipeline.start(),
        () => this.pipeline.stop(),
      ),
      innerPart(
        'inventory',
        () => {
          const timer = setInterval(() => {
            for (const transition of this.inventory.check(this.clock.now())) this.alarms.apply(transition);
          }, this.config.inventory.checkEvery);
          timer.unref();
          this.inventoryTimer = timer;
        },
        () => clearInterval(this.inventoryTimer),
      ),
      ...servers,
      ...sinks,
      this.shedder,
      this.mqtt,
      ...(this.poller ? [this.poller] : []),
      ...(this.serial ? [this.serial] : []),
      this.http,
    ];
  }

  async start(): Promise<void> {
    for (const part of this.parts) part.begin?.();
    for (const part of this.parts) {
      try {
        await part.start();
      } catch (err) {
        const error = new StartError(part.name, err);
        this.log.error({ part: part.name, err: error.message }, 'start failed');
        // The failed part may hold half of what it opened (timers, a broker without a listener), a begun one a worker.
        this.started.push(part);
        for (const p of this.parts) if (p.begin && !this.started.includes(p)) this.started.push(p);
        await this.stopParts();
        throw error;
      }
      this.started.push(part);
      this.metrics.partUp.set({ part: part.name }, 1);
    }
    await this.notify.ready(`${this.state.all().length} devices, ${this.config.rules.length} rules`);
    this.startWatchdog();
    this.log.info({ version: VERSION, parts: this.started.map((p) => p.name) }, 'gateway started');
  }

  /** Ingest first, then the rest in reverse start order; sinks flush what was accepted. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      clearInterval(this.watchdogTimer);
      await this.notify.stopping().catch(() => undefined);
      await this.stopParts();
      this.log.info({ accepted: this.pipeline.accepted, influxPending: this.influx?.pending() ?? 0 }, 'gateway stopped');
      this.notify.close();
    })();
    return this.stopping;
  }

  /** Forms in Thing Descriptions name the host the client reached the gateway by. */
  private thingsContext(host: string): ThingsContext {
    const hostname = host.replace(/:\d+$/, '');
    return {
      gatewayId: this.config.gateway.id,
      httpBase: `http://${host}`,
      mqttBase: `mqtt://${hostname}:${this.config.mqtt.broker.enabled ? this.config.mqtt.broker.port : 1883}`,
      models: this.config.models,
      labelsOf: (id) => this.state.get(id)?.labels ?? [],
    };
  }

  private httpIngest(config: GatewayConfig, clock: Clock, gate: IngestGate | undefined, log: Logger): IngestEndpoint {
    const { perDevice, requireToken, maxBodyBytes } = config.http.ingest;
    const sink = {
      event: (decoded: ValidEvent, at: number) => this.pipeline.pushDecoded(decoded, at, 'http'),
      refused: (reason: string) => this.metrics.httpIngestRefused.inc({ reason }),
    };
    const limit = new KeyedRateLimit(perDevice.perSecond, perDevice.burst, clock);
    const ingest = new HttpIngest(
      { requireToken, anonymous: config.gateway.anonymousIngest, overloaded: () => this.shedder.overloaded },
      this.deviceTokens,
      limit,
      sink,
      clock,
      log,
      gate,
    );
    return { maxBodyBytes, handle: (headers, body, remote) => ingest.handle(headers, body, remote) };
  }

  /** Applies rules and devices from a new config; listeners and client connections stay. */
  async reload(next: GatewayConfig): Promise<SwapReport | undefined> {
    if (this.stopping) return undefined;
    await this.notify.reloading().catch(() => undefined);
    for (const key of ['mqtt', 'opcua', 'modbus', 'modbusPoll', 'serial', 'http', 'influx'] as const) {
      if (JSON.stringify(next[key]) !== JSON.stringify(this.config[key])) {
        this.log.warn({ key }, `${key} settings changed: they take effect after a restart`);
      }
    }
    const kept = new Set(next.devices.map((d) => d.id));
    for (const gone of this.config.devices.filter((d) => !kept.has(d.id))) {
      // Before the device leaves state: a reset afterwards would bring it back as an unconfigured one.
      this.alarms.reset((c) => c.device === gone.id, 'config', `device ${gone.id} removed from the configuration`);
    }
    this.config = { ...this.config, devices: next.devices, registry: next.registry, inventory: next.inventory };
    this.state.configure(next.devices);
    this.registry.configure(next.devices, next.registry.policy);
    this.inventory.configure(groupOf(next), next.inventory.mixedVersionsAfter, next.inventory.severity);
    this.deviceTokens.configure(deviceTokenHashes(next.devices));
    this.mqttAccess.configure(mqttAccessConfig({ ...this.config, devices: next.devices }));
    this.engine.setAttributes(deviceAttributes(next.devices));
    const report = this.replaceRules(next.rules);
    await this.notify.ready('reloaded').catch(() => undefined);
    this.log.info(report, 'rules and devices reloaded');
    return report;
  }

  /** Reloads from the config file; a wrong file throws and the running config stays. */
  async reloadFromSource(): Promise<SwapReport | undefined> {
    if (!this.readConfig) throw new Error('this gateway was not started from a config file');
    return this.reload(this.readConfig());
  }

  /** Swaps the running rules (SIGHUP, POST /rules); rules whose state shape is unchanged keep their state. */
  replaceRules(rules: GatewayConfig['rules']): SwapReport {
    this.config = { ...this.config, rules };
    const report = this.engine.replaceRules(rules);
    this.clearRetiredAlarms();
    this.modbus?.setSpace(AddressSpace.fromConfig(this.config));
    return report;
  }

  /** Devices from config, and the alarms the previous run left retained (they survive a restart). */
  private async restoreState(): Promise<void> {
    const { tightened } = privateDataDir(this.config.gateway.dataDir);
    if (tightened > 0)
      this.log.warn({ dataDir: this.config.gateway.dataDir, tightened }, 'data dir entries readable by others made private');
    this.state.configure(this.config.devices);
    this.registry.load();
    const restored = this.alarms.load();
    if (restored.length > 0) this.log.info({ alarms: restored.length }, 'retained alarms restored');
    await this.checkpoints.restore();
    // Before state sees them: nothing listens to the book's events yet, so a clear now would not reach state.
    this.clearRetiredAlarms();
    for (const c of this.alarms.list()) this.state.applyAlarm(asEvent(c));
  }

  /** A restored alarm of a rule that is no longer configured has nobody left to clear it. */
  private clearRetiredAlarms(): void {
    const ids = new Set([...this.config.rules.map((r) => r.id), MIXED_VERSIONS_RULE]);
    for (const c of this.alarms.list()) {
      if (c.active && !ids.has(c.rule)) {
        this.alarms.apply({
          ...c,
          state: 'cleared',
          ts: this.clock.now(),
          message: `rule ${c.rule} is no longer configured; alarm cleared`,
        });
      }
    }
  }

  health(): HealthReport {
    const parts: HealthReport['parts'] = {};
    for (const part of this.parts) {
      const problem = this.started.includes(part) ? part.problem() : 'not started';
      const detail = part.status?.() ?? {};
      parts[part.name] = problem === undefined ? { ok: true, ...detail } : { ok: false, problem, ...detail };
      this.metrics.partUp.set({ part: part.name }, problem === undefined ? 1 : 0);
    }
    if (!this.pipeline.heartbeat()) parts.cep = { ok: false, problem: 'event pipeline not alive' };
    parts.rules = rulesHealth(this.engine.status());
    const failing = Object.entries(parts)
      .filter(([, p]) => !p.ok)
      .map(([name]) => name);
    const status = failing.length === 0 ? 'ok' : failing.every((name) => parts[name]?.degraded === true) ? 'degraded' : 'failing';
    return { status, parts, failing };
  }

  private async stopParts(): Promise<void> {
    const order = [...this.started].reverse();
    const isIngest = (p: Part): boolean => p === this.mqtt || p === this.poller || p === this.serial;
    for (const part of [...order.filter(isIngest), ...order.filter((p) => !isIngest(p))]) {
      try {
        await part.stop();
      } catch (err) {
        this.log.warn({ part: part.name, err: String(err) }, 'stop failed');
      }
      this.metrics.partUp.set({ part: part.name }, 0);
    }
    this.started = [];
  }

  private startWatchdog(): void {
    const interval = watchdogIntervalMs(this.env);
    if (interval === undefined || !this.notify.enabled) return;
    this.watchdogTimer = setInterval(() => {
      if (this.pipeline.heartbeat()) void this.notify.watchdog().catch(() => undefined);
      else this.log.error('event pipeline not alive: withholding watchdog ping');
    }, interval);
  }

  private modbusCounters(): ModbusCounters {
    const m = this.metrics;
    return {
      request: (fc, outcome) => m.modbusRequests.inc({ function: String(fc), outcome }),
      refused: (reason) => m.modbusRefused.inc({ reason }),
      connections: (open) => m.modbusConnections.set(open),
    };
  }

  private influxCounters(): SinkCounters {
    const sink = 'influx';
    return {
      written: (n) => this.metrics.sinkPointsWritten.inc({ sink }, n),
      dropped: (n, reason) => this.metrics.sinkPointsDropped.inc({ sink, reason }, n),
      retried: () => this.metrics.sinkRetries.inc({ sink }),
      writeSeconds: (s) => this.metrics.sinkWriteSeconds.observe({ sink }, s),
    };
  }

  /** The gateway's own figures for measurement `gateway`. */
  private stats(): GatewayStats {
    const memory = process.memoryUsage();
    const buffer = this.influx?.status();
    return {
      gateway: this.config.gateway.id,
      ts: this.clock.now(),
      fields: {
        events_accepted: this.pipeline.accepted,
        events_rejected: this.pipeline.rejected,
        devices: this.state.all().length,
        alarms_active: this.state.activeAlarmCount(),
        buffered_points: buffer?.bufferedPoints ?? 0,
        buffered_bytes: buffer?.bufferedBytes ?? 0,
        rss_bytes: memory.rss,
        heap_used_bytes: memory.heapUsed,
        uptime_s: Math.round((this.clock.now() - this.startedAt) / 1000),
      },
    };
  }
}

/** The rule part of /health: degraded, not failing, while some rules are stopped by an error and the others run. */
function rulesHealth(rules: RuleStatus[]): HealthReport['parts'][string] {
  const stopped = rules.filter((r) => r.state !== 'running');
  if (stopped.length === 0) return { ok: true, running: rules.length };
  const problem = `${stopped.length} of ${rules.length} rules stopped by an error: ${stopped.map((r) => `${r.id} (${r.error ?? r.state})`).join(', ')}`;
  return {
    ok: false,
    degraded: true,
    problem,
    running: rules.length - stopped.length,
    stopped: stopped.map((r) => ({ id: r.id, error: r.error })),
  };
}

const deviceTokenHashes = (devices: GatewayConfig['devices']): [string, string | undefined][] =>
  devices.map((d) => [d.id, d.credentials?.httpTokenHash]);

const mqttAccessConfig = (config: GatewayConfig): MqttAccessConfig => ({
  allowAnonymous: config.mqtt.broker.allowAnonymous,
  anonymousIngest: config.gateway.anonymousIngest,
  users: config.mqtt.broker.users,
  devices: config.devices,
});

/** Looked up per event, so by id in a map built once per config, not by scanning the device list. */
function groupOf(config: GatewayConfig): (device: string) => string | undefined {
  const groups = new Map(config.devices.flatMap((d) => (d.group === undefined ? [] : [[d.id, d.group] as const])));
  return (device) => groups.get(device);
}
