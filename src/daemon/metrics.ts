import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { REJECT_REASONS } from '../normalise/decode-mqtt.js';

const PREFIX = 'tinyml_gateway_';

/** Every Prometheus metric the gateway exposes, on its own registry (no global state). */
export class GatewayMetrics {
  readonly registry = new Registry();
  readonly eventsReceived = new Counter({
    name: `${PREFIX}events_received_total`,
    help: 'Frames received by ingest, valid or not',
    labelNames: ['source'],
    registers: [this.registry],
  });
  readonly eventsAccepted = new Counter({
    name: `${PREFIX}events_accepted_total`,
    help: 'Inference events that passed validation',
    registers: [this.registry],
  });
  readonly eventsRejected = new Counter({
    name: `${PREFIX}events_rejected_total`,
    help: 'Frames dropped by validation, by reason',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly ruleEvaluations = new Counter({
    name: `${PREFIX}rule_evaluations_total`,
    help: 'Events evaluated by each rule',
    labelNames: ['rule'],
    registers: [this.registry],
  });
  readonly ruleErrors = new Counter({
    name: `${PREFIX}rule_errors_total`,
    help: 'Rules stopped by an error',
    labelNames: ['rule'],
    registers: [this.registry],
  });
  readonly pipelineErrors = new Counter({
    name: `${PREFIX}pipeline_errors_total`,
    help: 'Events whose processing threw (a bug; the event is lost)',
    registers: [this.registry],
  });
  readonly alarmTransitions = new Counter({
    name: `${PREFIX}alarm_transitions_total`,
    help: 'Alarm transitions, by new state',
    labelNames: ['state'],
    registers: [this.registry],
  });
  readonly alarmsActive = new Gauge({ name: `${PREFIX}alarms_active`, help: 'Alarms currently raised', registers: [this.registry] });
  readonly sinkPointsWritten = new Counter({
    name: `${PREFIX}sink_points_written_total`,
    help: 'Points confirmed by a sink upstream',
    labelNames: ['sink'],
    registers: [this.registry],
  });
  readonly sinkPointsDropped = new Counter({
    name: `${PREFIX}sink_points_dropped_total`,
    help: 'Points a sink gave up on (buffer full, shutdown timeout)',
    labelNames: ['sink', 'reason'],
    registers: [this.registry],
  });
  readonly sinkWriteErrors = new Counter({
    name: `${PREFIX}sink_write_errors_total`,
    help: 'Failed upstream writes (retried)',
    labelNames: ['sink'],
    registers: [this.registry],
  });
  readonly sinkBuffered = new Gauge({
    name: `${PREFIX}sink_buffered_points`,
    help: 'Points waiting in a sink buffer',
    labelNames: ['sink'],
    registers: [this.registry],
  });
  readonly partUp = new Gauge({
    name: `${PREFIX}part_up`,
    help: '1 while a daemon part runs healthily',
    labelNames: ['part'],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
    for (const reason of REJECT_REASONS) this.eventsRejected.inc({ reason }, 0);
    this.alarmTransitions.inc({ state: 'raised' }, 0);
    this.alarmTransitions.inc({ state: 'cleared' }, 0);
  }
}
