import { createServer, type AddressInfo, type Server } from 'node:net';
import { once } from 'node:events';
import { Aedes } from 'aedes';
import { Observable } from 'rxjs';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { RawFrame } from '../../normalise/decode-mqtt.js';
import { INFERENCE_TOPIC_FILTER, type MqttTransport } from './transport.js';

type DeliverFn = Parameters<Aedes['subscribe']>[1];

/** aedes on a TCP listener: MCUs and Node-RED connect to it directly. */
export class EmbeddedBroker implements MqttTransport {
  readonly kind = 'embedded' as const;
  private broker?: Aedes;
  private server?: Server;
  private stopped = false;

  constructor(
    private readonly options: { host: string; port: number; id: string },
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    this.broker = await Aedes.createBroker({ id: this.options.id });
    this.broker.on('clientError', (client, err) => this.log.debug({ client: client.id, err: err.message }, 'mqtt client error'));
    const server = createServer(this.broker.handle);
    this.server = server;
    server.listen(this.options.port, this.options.host);
    await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => Promise.reject(err as Error))]);
    this.log.info({ host: this.options.host, port: this.port() }, 'embedded MQTT broker listening');
  }

  readonly frames$ = new Observable<RawFrame>((subscriber) => {
    const broker = this.broker;
    if (!broker) throw new Error('embedded broker not started');
    const deliver: DeliverFn = (packet, done) => {
      const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : Buffer.from(packet.payload);
      subscriber.next({ topic: packet.topic, payload, receivedAt: this.clock.now() });
      done();
    };
    broker.subscribe(INFERENCE_TOPIC_FILTER, deliver, () => undefined);
    return () => broker.unsubscribe(INFERENCE_TOPIC_FILTER, deliver, () => undefined);
  });

  publish(topic: string, payload: string): Promise<boolean> {
    const broker = this.broker;
    if (!broker || this.stopped) return Promise.resolve(false);
    // Alarms are produced while aedes is still delivering the inference message that caused
    // them; publishing re-entrantly there cut that message off from the remaining subscribers.
    return new Promise((resolve) => {
      setImmediate(() =>
        broker.publish({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 0, retain: false, dup: false }, (err) => resolve(!err)),
      );
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const { server, broker } = this;
    if (server?.listening) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      if (broker) await new Promise<void>((resolve) => broker.close(() => resolve()));
      await closed;
    } else if (broker) {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    }
  }

  connected(): boolean {
    return !this.stopped && this.server?.listening === true;
  }

  port(): number | undefined {
    const address = this.server?.address();
    return address && typeof address === 'object' ? (address as AddressInfo).port : undefined;
  }
}
