import type { SerialPortConfig } from '../../config/serial-schema.js';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { Part } from '../../core/part.js';
import { SerialReader, type SerialSink } from './serial-reader.js';

/** Every configured serial port, each read and reopened on its own. */
export class SerialIngest implements Part {
  readonly name = 'serial';
  private readonly readers: SerialReader[];

  constructor(ports: SerialPortConfig[], sink: SerialSink, clock: Clock, log: Logger) {
    this.readers = ports.map((p) => new SerialReader(p, sink, clock, log));
  }

  async start(): Promise<void> {
    // A port missing at start is not a failed start: the device may be plugged in later.
    for (const r of this.readers) r.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.readers.map((r) => r.stop()));
  }

  problem(): string | undefined {
    const problems = this.readers.map((r) => r.problem()).filter((p) => p !== undefined);
    return problems.length > 0 ? problems.join('; ') : undefined;
  }

  status(): Record<string, unknown> {
    return { ports: this.readers.map((r) => r.status()) };
  }
}
