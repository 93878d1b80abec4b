import { connect, type MqttClient } from 'mqtt';
import { Observable } from 'rxjs';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { RawFrame } from '../../normalise/decode-mqtt.js';
import { INFERENCE_TOPIC_FILTER, type IngestGate, type MqttTransport } from './transport.js';

/** How long start() waits for a first connection before going on and retrying in the background. */
const FIRST_CONNECT_WAIT_MS = 3000;

/**
 * A client of a plant's own broker. An unreachable broker does not fail the start (gateways
 * often boot before the broker): mqtt.js keeps reconnecting, resubscribes, and /health shows
 * the mqtt part failing until it is connected.
 */
export class ExternalBroker implements MqttTransport {
  readonly kind = 'external' as const;
  private client?: MqttClient;
  private gate?: IngestGate;

  constructor(
    private readonly options: { url: string; clientId: string },
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    const client = connect(this.options.url, { clientId: this.options.clientId, reconnectPeriod: 1000, connectTimeout: 5000, clean: true });
    this.client = client;
    // mqtt.js sends the PUBACK when handleMessage calls back: only once the gate's buffer has the event on disk.
    client.handleMessage = (_packet, callback) => {
      if (!this.gate) return callback();
      this.gate.durable().then(
        () => callback(),
        (err: Error) => callback(err),
      );
    };
    client.on('connect', () => this.log.info({ url: this.options.url }, 'connected to external MQTT broker'));
    client.on('offline', () => this.log.warn({ url: this.options.url }, 'external MQTT broker unreachable; retrying'));
    client.on('error', (err) => this.log.debug({ err: err.message }, 'MQTT client error'));
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, FIRST_CONNECT_WAIT_MS);
      client.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** The external broker took the message already: a full, refusing buffer counts it as refused rather than holding it. */
  setGate(gate: IngestGate | undefined): void {
    this.gate = gate;
  }

  readonly frames$ = new Observable<RawFrame>((subscriber) => {
    const client = this.client;
    if (!client) throw new Error('MQTT client not started');
    const onMessage = (topic: string, payload: Buffer): void => {
      subscriber.next({ topic, payload, receivedAt: this.clock.now() });
    };
    client.on('message', onMessage);
    // Sent now or on connect; mqtt.js resubscribes after every reconnect.
    client.subscribe(INFERENCE_TOPIC_FILTER, { qos: 1 });
    return () => {
      client.off('message', onMessage);
      if (client.connected) client.unsubscribe(INFERENCE_TOPIC_FILTER);
    };
  });

  async publish(topic: string, payload: string): Promise<boolean> {
    const client = this.client;
    if (!client?.connected) return false;
    try {
      await client.publishAsync(topic, payload, { qos: 0 });
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Flushes queued publishes for up to a second, then cuts the socket: stop must not hang on a
   * dead broker (mqtt.js ignores a second, forced end() once it is disconnecting).
   */
  async stop(): Promise<void> {
    const client = this.client;
    if (!client) return;
    const graceful = client.endAsync();
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 1000).unref());
    if ((await Promise.race([graceful, timer])) === 'timeout') client.stream?.destroy();
  }

  connected(): boolean {
    return this.client?.connected === true;
  }

  port(): number | undefined {
    return undefined;
  }
}
