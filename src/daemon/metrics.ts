import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RuleStatus } from '../cep/rules/engine.js';
import { REJECT_REASONS } from '../normalise/decode-mqtt.js';
import type { SinkStatus } from '../sinks/influx/influx-sink.js';
import { HANDSHAKE_REFUSALS } from '../servers/opcua/handshake-guard.js';
import { HTTP_CLOSES } from './http-limits.js';

const SINK_STATES = ['connected', 'buffering', 'draining'] as const;

const PREFIX = 'tinyml_gateway_';

/** Every Prometheus metric the gateway exposes, on its own registry (no global state). */
export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly counter = <L extends string>(name: string, help: string, labelNames: L[] = []): Counter<L> =>
    new Counter({ name: PREFIX + name, help, labelNames, registers: [this.registry] });
  private readonly gauge = <L extends string>(name: string, help: string, labelNames: L[] = []): Gauge<L> =>
    new Gauge({ name: PREFIX + name, help, labelNames, registers: [this.registry] });

  readonly eventsReceived = this.counter('events_received_total', 'Frames received by ingest, valid or not', ['source']);
  readonly eventsAccepted = this.counter('events_accepted_total', 'Inference events that passed validation');
  readonly eventsRejected = this.counter('events_rejected_total', 'Frames dropped by validation, by reason', ['reason']);
  readonly serialDropped = this.counter(
    'serial_dropped_total',
    'Bytes from a serial port that did not become an event, by port and reason',
    ['port', 'reason'],
  );
  readonly serialPortOpen = this.gauge('serial_port_open', 'Whether a configured serial port is open (1) or being reopened (0)', ['port']);
  readonly httpConnectionsClosed = this.counter(
    'http_connections_closed_total',
    'HTTP connections the listener closed itself (headers_timeout, body_timeout, bad_request, per_client_cap, max_connections)',
    ['reason'],
  );
  readonly httpIngestRefused = this.counter('http_ingest_refused_total', 'POST /ingest requests refused, by reason', ['reason']);
  readonly eventsShed = this.counter(
    'events_shed_total',
    'Events not taken because the gateway was overloaded (MQTT QoS 0, serial), by source; QoS 1 and HTTP are back-pressured instead',
    ['source'],
  );
  readonly eventsHeld = this.counter(
    'events_held_total',
    'Valid events of quarantined devices, held back until an operator approves the device',
  );
  readonly mqttRefused = this.counter(
    'mqtt_refused_total',
    'Embedded broker logins and publishes refused (login, rogue, protected, read_only, reserved)',
    ['reason'],
  );
  readonly pipelineErrors = this.counter('pipeline_errors_total', 'Events whose processing threw (a bug; the event is lost)');
  readonly ruleErrors = this.counter('rule_errors_total', 'Errors that stopped a rule', ['rule']);
  readonly ruleKeysEvicted = this.counter(
    'rule_keys_evicted_total',
    'Devices forgotten by a rule (overflow, ttl) or events it ignored (dropped)',
    ['rule', 'reason'],
  );
  readonly ruleLatency = new Histogram({
    name: `${PREFIX}rule_evaluation_seconds`,
    help: 'Time one event takes through a rule (sampled, 1 event in 16)',
    labelNames: ['rule'],
    buckets: [1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2],
    registers: [this.registry],
  });
  private ruleStatus: () => RuleStatus[] = () => [];
  readonly alarmTransitions = this.counter('alarm_transitions_total', 'Alarm transitions, by new state', ['state']);
  readonly alarmsActive: Gauge;
  private activeAlarms: () => number = () => 0;
  readonly sinkPointsWritten = this.counter('sink_points_written_total', 'Points confirmed by a sink upstream', ['sink']);
  readonly sinkPointsDropped = this.counter('sink_points_dropped_total', 'Points a sink gave up on, by reason', ['sink', 'reason']);
  readonly sinkRetries = this.counter('sink_retries_total', 'Failed upstream writes, each retried with backoff', ['sink']);
  readonly sinkWriteSeconds = new Histogram({
    name: `${PREFIX}sink_write_seconds`,
    help: 'Time of one confirmed upstream write (a batch)',
    labelNames: ['sink'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  private sinks: () => Record<string, SinkStatus> = () => ({});
  readonly modbusRequests = this.counter('modbus_requests_total', 'Modbus TCP requests by function code and outcome', [
    'function',
    'outcome',
  ]);
  readonly modbusRefused = this.counter('modbus_connections_refused_total', 'Modbus TCP connections closed on arrival, by reason', [
    'reason',
  ]);
  readonly modbusConnections = this.gauge('modbus_connections', 'Modbus TCP client connections open');
  readonly opcuaConnectionsClosed = this.counter(
    'opcua_connections_closed_total',
    'OPC UA connections closed before they opened a secure channel (handshake_timeout, handshake_cap)',
    ['reason'],
  );
  readonly partUp = this.gauge('part_up', '1 while a daemon part runs healthily', ['part']);
  readonly checkpointSeconds = this.gauge('rule_checkpoint_seconds', "Time the last rule-state snapshot took on the engine's thread", []);
  readonly checkpointBytes = this.gauge('rule_checkpoint_bytes', 'Size of the last rule-state snapshot written', []);
  readonly checkpointFailures = this.counter('rule_checkpoint_failures_total', 'Rule-state snapshots that could not be written', []);

  constructor() {
    // Per-rule figures live in the engine; they are read when scraped, not pushed on every event.
    const perRule = (name: string, help: string, type: 'counter' | 'gauge', value: (r: RuleStatus) => number | undefined): void => {
      const status = (): RuleStatus[] => this.ruleStatus();
      const collect = function (this: Gauge<'rule'> | Counter<'rule'>): void {
        this.reset();
        for (const r of status()) {
          const v = value(r);
          if (v !== undefined) this.inc({ rule: r.id }, v);
        }
      };
      const options = { name: PREFIX + name, help, labelNames: ['rule' as const], registers: [this.registry], collect };
      if (type === 'counter') new Counter(options);
      else new Gauge(options);
    };
    perRule('rule_events_in_total', 'Events that passed a rule input filter', 'counter', (r) => r.eventsIn);
    perRule('rule_events_out_total', 'Signals a rule emitted (level changes, matches, rows)', 'counter', (r) => r.eventsOut);
    perRule('rule_late_events_total', 'Events too late for every window of a rule (side output)', 'counter', (r) => r.late);
    perRule('rule_keys', 'Keys (usually devices) held in each rule state', 'gauge', (r) => r.keys);
    perRule('rule_state_entries', 'Entries across the state maps of a rule', 'gauge', (r) => r.stateSize);
    perRule('rule_partial_matches', 'Partial matches the patterns of a rule hold', 'gauge', (r) => r.partialMatches);
    perRule('rule_state_bytes', 'Bytes of a rule state as the last snapshot wrote it', 'gauge', (r) => r.stateBytes);
    perRule('rule_running', '1 while a rule runs, 0 when stopped by an error', 'gauge', (r) => (r.state === 'running' ? 1 : 0));
    const active = (): number => this.activeAlarms();
    this.alarmsActive = new Gauge({
      name: `${PREFIX}alarms_active`,
      help: 'Alarms currently raised',
      registers: [this.registry],
      collect() {
        this.set(active());
      },
    });
    this.sinkGauges();
    collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
    for (const reason of REJECT_REASONS) this.eventsRejected.inc({ reason }, 0);
    for (const reason of HTTP_CLOSES) this.httpConnectionsClosed.inc({ reason }, 0);
    for (const reason of HANDSHAKE_REFUSALS) this.opcuaConnectionsClosed.inc({ reason }, 0);
    this.alarmTransitions.inc({ state: 'raised' }, 0);
    this.alarmTransitions.inc({ state: 'cleared' }, 0);
  }

  /** Where the gauges read derived state from when scraped: keys per rule, raised alarms, sink buffers. */
  watch(sources: { rules?: () => RuleStatus[]; activeAlarms?: () => number; sinks?: () => Record<string, SinkStatus> }): void {
    if (sources.rules) this.ruleStatus = sources.rules;
    if (sources.activeAlarms) this.activeAlarms = sources.activeAlarms;
    if (sources.sinks) this.sinks = sources.sinks;
  }

  /** Buffer depth, age and state of each sink, read when scraped. */
  private sinkGauges(): void {
    const sinks = (): Record<string, SinkStatus> => this.sinks();
    const perSink = (name: string, help: string, value: (s: SinkStatus) => number): void => {
      new Gauge({
        name: PREFIX + name,
        help,
        labelNames: ['sink'],
        registers: [this.registry],
        collect() {
          this.reset();
          for (const [sink, s] of Object.entries(sinks())) this.set({ sink }, value(s));
        },
      });
    };
    perSink('sink_buffered_points', 'Points waiting in a sink buffer', (s) => s.bufferedPoints);
    perSink('sink_buffered_bytes', 'Bytes a sink buffer holds (on disk with the write-ahead buffer)', (s) => s.bufferedBytes);
    perSink('sink_oldest_point_age_seconds', 'Age of the oldest point not yet confirmed upstream', (s) => s.oldestPointAgeSeconds);
    new Gauge({
      name: `${PREFIX}sink_state`,
      help: '1 for the state a sink is in: connected, buffering (upstream failing) or draining (sending a backlog)',
      labelNames: ['sink', 'state'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [sink, s] of Object.entries(sinks())) {
          for (const state of SINK_STATES) this.set({ sink, state }, s.state === state ? 1 : 0);
        }
      },
    });
  }
}
