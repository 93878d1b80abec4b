import type { Subscription } from 'rxjs';
import type { Part } from '../../core/part.js';
import type { RawFrame } from '../../normalise/decode-mqtt.js';
import type { IngestGate, MqttTransport } from './transport.js';

/** Connects the MQTT transport's frames to the pipeline; stopping it stops intake first. */
export class MqttIngest implements Part {
  readonly name = 'mqtt';
  private subscription?: Subscription;

  constructor(
    readonly transport: MqttTransport,
    private readonly push: (frame: RawFrame) => void,
    private readonly gate?: IngestGate,
  ) {}

  async start(): Promise<void> {
    this.transport.setGate(this.gate);
    await this.transport.start();
    this.subscription = this.transport.frames$.subscribe((frame) => this.push(frame));
  }

  /**
   * Closes the transport before unsubscribing: a message that arrives in between would otherwise
   * be acknowledged to the MCU by the broker without reaching the pipeline.
   */
  async stop(): Promise<void> {
    await this.transport.stop();
    this.subscription?.unsubscribe();
  }

  problem(): string | undefined {
    return this.transport.connected() ? undefined : `${this.transport.kind} broker not connected`;
  }
}
