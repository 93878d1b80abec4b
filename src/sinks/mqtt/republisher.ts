import { merge, type Observable, type Subscription } from 'rxjs';
import type { AlarmTransition } from '../../core/alarm.js';
import type { Part } from '../../core/part.js';
import type { Logger } from '../../core/logger.js';
import type { InferenceEvent } from '../../normalise/inference-event.js';

export interface Publisher {
  publish(topic: string, payload: string): Promise<boolean>;
}

/** Accepted events, normalised (ts filled in): what flows should act on, unlike the raw inference topic. */
export const eventTopic = (device: string): string => `tinyml/${device}/event`;
export const alarmTopic = (device: string): string => `tinyml/${device}/alarm`;

/**
 * Republishes accepted events on `tinyml/<device>/event` (unless disabled) and every alarm
 * transition on `tinyml/<device>/alarm`, as JSON, for Node-RED and other subscribers.
 */
export class MqttRepublisher implements Part {
  readonly name = 'mqtt-out';
  private subscription?: Subscription;

  constructor(
    private readonly events$: Observable<InferenceEvent> | undefined,
    private readonly alarms$: Observable<AlarmTransition>,
    private readonly publisher: Publisher,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    const events = this.events$ ?? [];
    this.subscription = merge(events, this.alarms$).subscribe((item) => {
      const topic = 'rule' in item ? alarmTopic(item.device) : eventTopic(item.device);
      void this.publisher.publish(topic, JSON.stringify(item)).then((ok) => {
        if (!ok) this.log.debug({ topic }, 'not republished: MQTT not connected');
      });
    });
  }

  async stop(): Promise<void> {
    this.subscription?.unsubscribe();
  }

  problem(): string | undefined {
    return undefined;
  }
}
