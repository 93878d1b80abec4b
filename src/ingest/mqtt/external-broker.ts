import { connectAsync, type MqttClient } from 'mqtt';
import { Observable } from 'rxjs';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import { UpstreamError } from '../../core/errors.js';
import type { RawFrame } from '../../normalise/decode-mqtt.js';
import { INFERENCE_TOPIC_FILTER, type MqttTransport } from './transport.js';

/** A client of a plant's own broker; mqtt.js reconnects by itself and resubscribes. */
export class ExternalBroker implements MqttTransport {
  readonly kind = 'external' as const;
  private client?: MqttClient;

  constructor(
    private readonly options: { url: string; clientId: string },
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    try {
      this.client = await connectAsync(this.options.url, {
        clientId: this.options.clientId,
        reconnectPeriod: 2000,
        connectTimeout: 5000,
      });
    } catch (err) {
      throw new UpstreamError(`cannot connect to MQTT broker ${this.options.url}: ${(err as Error).message}`, { cause: err });
    }
    this.client.on('reconnect', () => this.log.warn({ url: this.options.url }, 'reconnecting to MQTT broker'));
    this.client.on('error', (err) => this.log.warn({ err: err.message }, 'MQTT client error'));
    this.log.info({ url: this.options.url }, 'connected to external MQTT broker');
  }

  readonly frames$ = new Observable<RawFrame>((subscriber) => {
    const client = this.client;
    if (!client) throw new Error('MQTT client not started');
    const onMessage = (topic: string, payload: Buffer): void => {
      subscriber.next({ topic, payload, receivedAt: this.clock.now() });
    };
    client.on('message', onMessage);
    client.subscribe(INFERENCE_TOPIC_FILTER, { qos: 1 }, (err) => {
      if (err) subscriber.error(err);
    });
    return () => {
      client.off('message', onMessage);
      if (client.connected) client.unsubscribe(INFERENCE_TOPIC_FILTER);
    };
  });

  async publish(topic: string, payload: string): Promise<boolean> {
    const client = this.client;
    if (!client || client.disconnecting || client.disconnected) return false;
    try {
      await client.publishAsync(topic, payload, { qos: 0 });
      return true;
    } catch {
      return false;
    }
  }

  async stop(): Promise<void> {
    await this.client?.endAsync();
  }

  connected(): boolean {
    return this.client?.connected === true;
  }

  port(): number | undefined {
    return undefined;
  }
}
