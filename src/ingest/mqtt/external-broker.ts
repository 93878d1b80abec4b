import type { MqttClient } from 'mqtt';
import { Observable } from 'rxjs';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { RawFrame } from '../../normalise/decode-mqtt.js';
import { INFERENCE_TOPIC, INFERENCE_TOPIC_FILTER, type IngestGate, type MqttTransport } from './transport.js';

/** How long start() waits for a first connection before going on and retrying in the background. */
const FIRST_CONNECT_WAIT_MS = 3000;
/** Durable publishes (alarms) held while the broker is unreachable; beyond this they are refused. */
export const MAX_PENDING_DURABLE = 10_000;

/**
 * A client of a plant's own broker. An unreachable broker does not fail the start (gateways
 * often boot before the broker): mqtt.js keeps reconnecting, resubscribes, and /health shows
 * the mqtt part failing until it is connected. The session is persistent (clean: false, a stable
 * client id): while the gateway restarts, the broker keeps the QoS 1 events published meanwhile
 * and hands them over when it is back, unacknowledged ones again.
 */
export class ExternalBroker implements MqttTransport {
  readonly kind = 'external' as const;
  private client?: MqttClient;
  private gate?: IngestGate;
  private pendingDurable = 0;
  private consume?: (frame: RawFrame) => void;
  /** Messages a resumed session delivered before anything consumed frames: not yet acknowledged. */
  private readonly waiting: [RawFrame, (err?: Error) => void][] = [];

  constructor(
    private readonly options: { url: string; clientId: string },
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    // Imported here: a gateway on its embedded broker (the default) does not load mqtt.js at all.
    const { connect } = await import('mqtt');
    const client = connect(this.options.url, {
      clientId: this.options.clientId,
      reconnectPeriod: 1000,
      connectTimeout: 5000,
      clean: false,
    });
    this.client = client;
    // mqtt.js sends the PUBACK when handleMessage calls back: only once the pipeline has the event and
    // the gate's buffer holds it on disk. A resumed session delivers queued messages as soon as it
    // connects, before frames$ has a subscriber: those wait here, unacknowledged.
    client.handleMessage = (packet, callback) => {
      if (packet.cmd !== 'publish' || !INFERENCE_TOPIC.test(packet.topic)) return callback();
      const frame: RawFrame = {
        topic: packet.topic,
        payload: Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload),
        receivedAt: this.clock.now(),
        qos: packet.qos,
      };
      if (this.consume) this.take(frame, callback);
      else this.waiting.push([frame, callback]);
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

  private take(frame: RawFrame, callback: (err?: Error) => void): void {
    this.consume!(frame);
    // A QoS 0 message has no acknowledgement to hold back until the fsync.
    if (!this.gate || frame.qos === 0) return callback();
    this.gate.durable().then(
      () => callback(),
      (err: Error) => callback(err),
    );
  }

  readonly frames$ = new Observable<RawFrame>((subscriber) => {
    const client = this.client;
    if (!client) throw new Error('MQTT client not started');
    this.consume = (frame) => subscriber.next(frame);
    for (const [frame, callback] of this.waiting.splice(0)) this.take(frame, callback);
    // Sent now or on connect; mqtt.js resubscribes after every reconnect.
    client.subscribe(INFERENCE_TOPIC_FILTER, { qos: 1 });
    // The subscription stays with the persistent session: the broker keeps queuing while the gateway is away.
    return () => {
      this.consume = undefined;
    };
  });

  async publish(topic: string, payload: string, durable = false): Promise<boolean> {
    const client = this.client;
    if (!client) return false;
    // mqtt.js holds a QoS 1 publish made while offline and sends it on reconnect; the count bounds what it holds.
    if (durable ? this.pendingDurable >= MAX_PENDING_DURABLE : !client.connected) return false;
    if (durable) this.pendingDurable++;
    try {
      await client.publishAsync(topic, payload, { qos: durable ? 1 : 0 });
      return true;
    } catch {
      return false;
    } finally {
      if (durable) this.pendingDurable--;
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
