import type { Observable } from 'rxjs';
import type { RawFrame } from '../../normalise/decode-mqtt.js';

export const INFERENCE_TOPIC_FILTER = 'tinyml/+/inference';
/** The same topics as a pattern; group 1 is the device id. */
export const INFERENCE_TOPIC = /^tinyml\/([^/]+)\/inference$/;

/**
 * What must hold before an inference message is acknowledged: room to take it (a full buffer that
 * refuses new points says no, and the MCU keeps the message) and, once handed over, durability.
 */
export interface IngestGate {
  hasRoom(): boolean;
  /** Resolves when everything handed over so far survives a crash. */
  durable(): Promise<void>;
}

/**
 * The MQTT side of the gateway: the embedded broker or a client of an external one. I/O only;
 * decoding happens downstream. Stopping it stops intake, so MCUs keep unacknowledged QoS 1
 * messages and resend them to the next run.
 */
export interface MqttTransport {
  readonly kind: 'embedded' | 'external';
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Inference frames, delivered synchronously before the broker acknowledges them. */
  readonly frames$: Observable<RawFrame>;
  /** Holds acknowledgements until the gate says so. */
  setGate(gate: IngestGate | undefined): void;
  /**
   * Publishes unless stopped; resolves false when the message could not be sent. `durable`
   * (alarms): QoS 1, and kept (bounded) while the broker is unreachable, sent once it is back.
   */
  publish(topic: string, payload: string, durable?: boolean): Promise<boolean>;
  connected(): boolean;
  /** The TCP port actually bound (embedded broker only). */
  port(): number | undefined;
}
