import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { Aedes, type AuthenticateError } from 'aedes';
import { Observable } from 'rxjs';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { RawFrame } from '../../normalise/decode-mqtt.js';
import { INFERENCE_TOPIC, type IngestGate, type MqttTransport } from './transport.js';
import type { MqttAccess, MqttIdentity, MqttRefusal } from './mqtt-access.js';
import { ReadBudget } from './read-budget.js';

/**
 * aedes on a TCP listener: MCUs and Node-RED connect to it directly.
 *
 * Inference messages are taken in aedes' authorizePublish hook, because aedes writes the QoS 1
 * PUBACK before it delivers to subscribers: only there does "acknowledged" imply "in the
 * pipeline". While nothing consumes frames$ the publish is refused, so the MCU gets no PUBACK
 * and sends the message again later. With a gate, the PUBACK also waits until the history buffer
 * has the event on disk, and a full buffer that refuses new points refuses the publish.
 */
export class EmbeddedBroker implements MqttTransport {
  readonly kind = 'embedded' as const;
  private broker?: Aedes;
  private server?: Server;
  private stopped = false;
  private consume?: (frame: RawFrame) => void;
  private gate?: IngestGate;
  /** Every TCP connection, MQTT session or not: aedes only closes clients that sent CONNECT. */
  private readonly sockets = new Set<Socket>();
  private readonly readBudget = new ReadBudget();

  private readonly identities = new WeakMap<object, MqttIdentity>();

  constructor(
    private readonly options: { host: string; port: number; id: string },
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly access?: MqttAccess,
    private readonly refused?: (reason: MqttRefusal | 'login') => void,
  ) {}

  async start(): Promise<void> {
    const broker = await Aedes.createBroker({
      id: this.options.id,
      authenticate: (client, username, password, callback) => {
        if (!this.access) return callback(null, true);
        this.access.authenticate(username, password).then(
          (identity) => {
            if (identity) {
              this.identities.set(client, identity);
              return callback(null, true);
            }
            this.refused?.('login');
            this.log.warn({ client: client.id, username }, 'MQTT login refused');
            // CONNACK 4: bad username or password; 5: not authorized (no login where one is required).
            callback(Object.assign(new Error('bad username or password'), { returnCode: username ? 4 : 5 }) as AuthenticateError, false);
          },
          (err: Error) => callback(Object.assign(err, { returnCode: 3 }) as AuthenticateError, false),
        );
      },
      authorizePublish: (client, packet, callback) => {
        if (this.access && client) {
          const remote = (client.conn as { remoteAddress?: string } | undefined)?.remoteAddress;
          const verdict = this.access.mayPublish(this.identities.get(client) ?? { kind: 'anonymous' }, packet.topic, remote);
          if (!verdict.ok) {
            this.refused?.(verdict.reason);
            const level = verdict.reason === 'rogue' || verdict.reason === 'protected' || verdict.reason === 'anonymous' ? 'warn' : 'info';
            this.log[level]({ client: client.id, topic: packet.topic, reason: verdict.reason }, `MQTT publish refused: ${verdict.detail}`);
            return callback(new Error(verdict.detail));
          }
        }
        if (!client || !INFERENCE_TOPIC.test(packet.topic)) return callback(null);
        const consume = this.consume;
        if (!consume) return callback(new Error('gateway is not taking events'));
        const gate = this.gate;
        if (gate && !gate.hasRoom()) return callback(new Error('history buffer full'));
        const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
        consume({ topic: packet.topic, payload, receivedAt: this.clock.now(), qos: packet.qos });
        // QoS 0 has no acknowledgement to hold back: waiting for the fsync would only stall the
        // connection's next packets behind the disk. Room in the buffer is still checked above.
        if (!gate || packet.qos === 0) return callback(null);
        gate.durable().then(
          () => callback(null),
          (err: Error) => callback(err),
        );
      },
    });
    this.broker = broker;
    broker.on('clientError', (client, err) => this.log.debug({ client: client.id, err: err.message }, 'mqtt client error'));
    // No Nagle: an alarm or a republished event is one small packet that should leave now, not with the next one.
    const server = createServer({ noDelay: true }, broker.handle);
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      this.readBudget.attach(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    this.server = server;
    server.listen(this.options.port, this.options.host);
    await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => Promise.reject(err as Error))]);
    this.log.info({ host: this.options.host, port: this.port() }, 'embedded MQTT broker listening');
  }

  setGate(gate: IngestGate | undefined): void {
    this.gate = gate;
  }

  readonly frames$ = new Observable<RawFrame>((subscriber) => {
    if (this.consume) throw new Error('the embedded broker feeds one pipeline');
    this.consume = (frame) => subscriber.next(frame);
    return () => (this.consume = undefined);
  });

  publish(topic: string, payload: string, durable = false): Promise<boolean> {
    const broker = this.broker;
    if (!broker || this.stopped) return Promise.resolve(false);
    // Alarms are produced while aedes is still handling the inference message that caused them;
    // publishing from there re-entrantly cut that message off from the remaining subscribers.
    return new Promise((resolve) => {
      setImmediate(() =>
        broker.publish({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: durable ? 1 : 0, retain: false, dup: false }, (err) =>
          resolve(!err),
        ),
      );
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const { server, broker } = this;
    const closed = server?.listening ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    if (broker) await new Promise<void>((resolve) => broker.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  connected(): boolean {
    return !this.stopped && this.server?.listening === true;
  }

  port(): number | undefined {
    const address = this.server?.address();
    return address && typeof address === 'object' ? (address as AddressInfo).port : undefined;
  }
}
