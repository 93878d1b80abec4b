import { EMPTY, filter, map, merge, type Observable, type Subscription } from 'rxjs';
import type { DerivedEvent, RuleAction } from '../../core/rule-output.js';
import type { AlarmEvent } from '../../core/alarm.js';
import type { Part } from '../../core/part.js';
import type { Logger } from '../../core/logger.js';
import type { InferenceEvent } from '../../normalise/inference-event.js';

export interface Publisher {
  publish(topic: string, payload: string, durable?: boolean): Promise<boolean>;
}

/** Accepted events, normalised (ts filled in): what flows should act on, unlike the raw inference topic. */
export const eventTopic = (device: string): string => `tinyml/${device}/event`;
export const alarmTopic = (device: string): string => `tinyml/${device}/alarm`;
export const derivedTopic = (device: string): string => `tinyml/${device}/derived`;

export interface RepublishedStreams {
  /** Absent when republishing events is disabled. */
  events$?: Observable<InferenceEvent>;
  alarms$: Observable<AlarmEvent>;
  derived$: Observable<DerivedEvent>;
  actions$: Observable<RuleAction>;
}

/**
 * Republishes accepted events on `tinyml/<device>/event` (unless disabled), every alarm
 * transition on `tinyml/<device>/alarm` and rules' derived events on `tinyml/<device>/derived`,
 * as JSON, for Node-RED and other subscribers; and publishes rules' MQTT actions.
 */
export class MqttRepublisher implements Part {
  readonly name = 'mqtt-out';
  private subscription?: Subscription;

  constructor(
    private readonly streams: RepublishedStreams,
    private readonly publisher: Publisher,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    const s = this.streams;
    const send = (topic: string, payload: string, durable: boolean): void => {
      void this.publisher.publish(topic, payload, durable).then((ok) => {
        if (!ok) this.log[durable ? 'warn' : 'debug']({ topic }, 'not republished: MQTT not connected');
      });
    };
    // Alarms are the ones a subscriber must not miss: QoS 1, held while the broker is away.
    this.subscription = merge(
      (s.events$ ?? EMPTY).pipe(map((e) => [eventTopic(e.device), JSON.stringify(e), false] as const)),
      s.alarms$.pipe(map((a) => [alarmTopic(a.device), JSON.stringify(a), true] as const)),
      s.derived$.pipe(map((d) => [derivedTopic(d.device), JSON.stringify(d), false] as const)),
      s.actions$.pipe(
        filter((a) => a.type === 'mqtt'),
        map((a) => [a.topic, a.payload, false] as const),
      ),
    ).subscribe(([topic, payload, durable]) => send(topic, payload, durable));
  }

  async stop(): Promise<void> {
    this.subscription?.unsubscribe();
  }

  problem(): string | undefined {
    return undefined;
  }
}
