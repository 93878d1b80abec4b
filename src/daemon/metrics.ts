import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { REJECT_REASONS } from '../normalise/decode-mqtt.js';

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
  readonly pipelineErrors = this.counter('pipeline_errors_total', 'Events whose processing threw (a bug; the event is lost)');
  readonly ruleEvaluations = this.counter('rule_evaluations_total', 'Events evaluated by each rule', ['rule']);
  readonly ruleErrors = this.counter('rule_errors_total', 'Rules stopped by an error', ['rule']);
  readonly ruleKeysEvicted = this.counter(
    'rule_keys_evicted_total',
    'Devices forgotten by a rule (overflow, ttl) or events it ignored (dropped)',
    ['rule', 'reason'],
  );
  readonly ruleKeys: Gauge<'rule'>;
  private ruleStatus: () => { id: string; keys: number }[] = () => [];
  readonly alarmTransitions = this.counter('alarm_transitions_total', 'Alarm transitions, by new state', ['state']);
  readonly alarmsActive: Gauge;
  private activeAlarms: () => number = () => 0;
  readonly sinkPointsWritten = this.counter('sink_points_written_total', 'Points confirmed by a sink upstream', ['sink']);
  readonly sinkPointsDropped = this.counter('sink_points_dropped_total', 'Points a sink gave up on, by reason', ['sink', 'reason']);
  readonly sinkWriteErrors = this.counter('sink_write_errors_total', 'Failed upstream writes (retried)', ['sink']);
  readonly sinkBuffered = this.gauge('sink_buffered_points', 'Points waiting in a sink buffer', ['sink']);
  readonly partUp = this.gauge('part_up', '1 while a daemon part runs healthily', ['part']);

  constructor() {
    const status = (): { id: string; keys: number }[] => this.ruleStatus();
    this.ruleKeys = new Gauge({
      name: `${PREFIX}rule_keys`,
      help: 'Devices held in each rule state',
      labelNames: ['rule'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const rule of status()) this.set({ rule: rule.id }, rule.keys);
      },
    });
    const active = (): number => this.activeAlarms();
    this.alarmsActive = new Gauge({
      name: `${PREFIX}alarms_active`,
      help: 'Alarms currently raised',
      registers: [this.registry],
      collect() {
        this.set(active());
      },
    });
    collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
    for (const reason of REJECT_REASONS) this.eventsRejected.inc({ reason }, 0);
    this.alarmTransitions.inc({ state: 'raised' }, 0);
    this.alarmTransitions.inc({ state: 'cleared' }, 0);
  }

  /** Where the gauges read derived state from when scraped: keys per rule, raised alarms. */
  watch(sources: { rules: () => { id: string; keys: number }[]; activeAlarms: () => number }): void {
    this.ruleStatus = sources.rules;
    this.activeAlarms = sources.activeAlarms;
  }
}
