import { SerialPort } from 'serialport';
import type { SerialPortConfig } from '../../config/serial-schema.js';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import { Nap } from '../../core/nap.js';
import type { SerialDecoder, SerialDropReason, SerialOutput } from '../../normalise/serial/serial-decoder.js';
import { reopenDelay } from '../modbus/backoff.js';
import { decoderFor } from './decoder-for.js';

/** Where a port's results go: event objects (validated by the pipeline) and what was dropped. */
export interface SerialSink {
  event(json: Record<string, unknown>, receivedAt: number): void;
  dropped(port: string, reason: SerialDropReason, detail: string): void;
  /** The port opened (true) or was lost (false). */
  link(port: string, open: boolean): void;
}

/**
 * One serial port: opened, read, and reopened with backoff when it goes away (a USB device
 * unplugged) until it comes back. Bytes go to the port's decoder; I/O only.
 */
export class SerialReader {
  private port?: SerialPort;
  private running = false;
  private loop?: Promise<void>;
  private readonly nap = new Nap();
  private readonly decoder: SerialDecoder;
  private failures = 0;
  private idleTimer?: NodeJS.Timeout;
  private opens = 0;

  constructor(
    private readonly config: SerialPortConfig,
    private readonly sink: SerialSink,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.decoder = decoderFor(config);
  }

  start(): void {
    this.running = true;
    this.loop = this.run().catch((err: unknown) =>
      this.log.error({ port: this.config.path, err: String(err) }, 'serial reader stopped by an error'),
    );
  }

  async stop(): Promise<void> {
    this.running = false;
    this.nap.wake();
    const port = this.port;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
    await this.loop;
  }

  problem(): string | undefined {
    return this.port?.isOpen
      ? undefined
      : `serial port ${this.config.path} is not open${this.failures > 0 ? ` (${this.failures} attempts)` : ''}`;
  }

  status(): { path: string; open: boolean; opens: number; failedOpens: number } {
    return { path: this.config.path, open: this.port?.isOpen ?? false, opens: this.opens, failedOpens: this.failures };
  }

  private async run(): Promise<void> {
    while (this.running) {
      const port = await this.open();
      if (!port) {
        await this.nap.sleep(reopenDelay(this.failures - 1, this.config.reopenMaxMs));
        continue;
      }
      await new Promise<void>((resolve) => port.once('close', () => resolve()));
      this.port = undefined;
      clearTimeout(this.idleTimer);
      this.emit(this.decoder.reset());
      this.sink.link(this.config.path, false);
      if (this.running) this.log.warn({ port: this.config.path }, 'serial port lost: reopening');
    }
  }

  private async open(): Promise<SerialPort | undefined> {
    const port = new SerialPort({ path: this.config.path, baudRate: this.config.baudRate, autoOpen: false });
    try {
      await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
    } catch (err) {
      if (this.failures++ === 0) this.log.warn({ port: this.config.path, err: String(err) }, 'serial port cannot be opened: retrying');
      return undefined;
    }
    if (!this.running) {
      port.close();
      return undefined;
    }
    this.log.info({ port: this.config.path, framing: this.config.framing, after: this.failures }, 'serial port open');
    this.failures = 0;
    this.opens++;
    this.port = port;
    port.on('data', (chunk: Buffer) => this.data(chunk));
    // A read error (EIO when the device vanishes) is followed by close; the loop reopens.
    port.on('error', (err) => this.log.debug({ port: this.config.path, err: String(err) }, 'serial port error'));
    this.sink.link(this.config.path, true);
    return port;
  }

  private data(chunk: Buffer): void {
    this.emit(this.decoder.push(chunk));
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.emit(this.decoder.flush()), this.config.idleFlushMs);
  }

  private emit(outputs: SerialOutput[]): void {
    const at = this.clock.now();
    for (const o of outputs) {
      if (o.ok) this.sink.event(o.json, at);
      else this.sink.dropped(this.config.path, o.reason, o.detail);
    }
  }
}
