import type { Observable, Subscription } from 'rxjs';
import type { AlarmTransition } from '../../core/alarm.js';
import type { Part } from '../../core/part.js';
import type { Logger } from '../../core/logger.js';

export interface Publisher {
  publish(topic: string, payload: string): Promise<boolean>;
}

export function alarmTopic(device: string): string {
  return `tinyml/${device}/alarm`;
}

/** Republishes every alarm transition as JSON on `tinyml/<device>/alarm` for Node-RED and others. */
export class AlarmPublisher implements Part {
  readonly name = 'mqtt-alarms';
  private subscription?: Subscription;

  constructor(
    private readonly alarms$: Observable<AlarmTransition>,
    private readonly publisher: Publisher,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    this.subscription = this.alarms$.subscribe((t) => {
      void this.publisher.publish(alarmTopic(t.device), JSON.stringify(t)).then((ok) => {
        if (!ok) this.log.debug({ device: t.device, rule: t.rule }, 'alarm not republished: MQTT not connected');
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
