import modbusSerial from 'modbus-serial';
import type { PollBus, PollProfile } from '../../config/poll-schema.js';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import { decodeRegisters, profileBlock } from '../../normalise/decode-registers.js';
import { reopenDelay, retryDelay } from './backoff.js';
import { Nap } from '../../core/nap.js';

// modbus-serial is CommonJS with `module.exports.default = module.exports`.
const ModbusRTU = modbusSerial.default;
type ModbusClient = InstanceType<typeof ModbusRTU>;

/** Where polled results go: new events, and whether each device answers. */
export interface PollSink {
  event(json: Record<string, unknown>, receivedAt: number): void;
  link(device: string, reachable: boolean): void;
}

interface Slot {
  id: string;
  unitId: number;
  profile: PollProfile;
  block: { start: number; count: number };
  lastSeq?: number;
  misses: number;
  nextAt: number;
}

/**
 * One bus (a serial port or a TCP connection) and the devices on it, polled in turn. A device
 * that does not answer costs one timeout, then fewer and fewer as it backs off; the bus reopens
 * itself when the port goes away and comes back.
 */
export class BusPoller {
  private client?: ModbusClient;
  private running = false;
  private loop?: Promise<void>;
  private readonly nap = new Nap();
  private readonly slots: Slot[];
  private openFailures = 0;

  constructor(
    private readonly bus: PollBus,
    profiles: Record<string, PollProfile>,
    private readonly sink: PollSink,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.slots = bus.devices.map((d) => {
      const profile = profiles[d.profile]!;
      return { id: d.id, unitId: d.unitId, profile, block: profileBlock(profile), misses: 0, nextAt: 0 };
    });
  }

  start(): void {
    this.running = true;
    // run() catches what a poll throws; this is the last guard so a bug cannot end the process.
    this.loop = this.run().catch((err: unknown) =>
      this.log.error({ bus: this.bus.name, err: String(err) }, 'Modbus bus poller stopped by an error'),
    );
  }

  async stop(): Promise<void> {
    this.running = false;
    this.nap.wake();
    await this.loop;
    await this.close();
  }

  /** Undefined while the bus is open. */
  problem(): string | undefined {
    return this.client?.isOpen ? undefined : `bus ${this.bus.name}: not connected`;
  }

  private async run(): Promise<void> {
    while (this.running) {
      if (!this.client?.isOpen) {
        if (!(await this.open())) {
          this.missAll();
          await this.sleep(reopenDelay(this.openFailures - 1, this.bus.backoffMaxMs));
          continue;
        }
      }
      const cycleStart = this.clock.now();
      for (const slot of this.slots) {
        if (!this.running || !this.client?.isOpen) break;
        if (this.clock.now() < slot.nextAt) continue;
        try {
          await this.poll(slot);
        } catch (err) {
          this.log.error({ bus: this.bus.name, device: slot.id, err: String(err) }, 'Modbus poll failed');
        }
      }
      await this.sleep(Math.max(0, this.bus.intervalMs - (this.clock.now() - cycleStart)));
    }
  }

  private async open(): Promise<boolean> {
    await this.close();
    const client = new ModbusRTU();
    // A port that vanishes mid-write (EIO) is emitted as 'error' on the client: without a listener
    // that ends the process. The failed request makes the poll loop reopen the bus.
    client.on('error', (err: unknown) => this.log.debug({ bus: this.bus.name, err: String(err) }, 'Modbus bus error'));
    try {
      const { rtu, tcp } = this.bus;
      if (rtu)
        await client.connectRTUBuffered(rtu.path, {
          baudRate: rtu.baudRate,
          parity: rtu.parity,
          dataBits: rtu.dataBits,
          stopBits: rtu.stopBits,
        });
      else await client.connectTCP(tcp!.host, { port: tcp!.port });
    } catch (err) {
      if (this.openFailures++ === 0) this.log.warn({ bus: this.bus.name, err: String(err) }, 'Modbus bus cannot be opened: retrying');
      return false;
    }
    client.setTimeout(this.bus.timeoutMs);
    this.client = client;
    this.log.info({ bus: this.bus.name, after: this.openFailures }, 'Modbus bus open');
    this.openFailures = 0;
    return true;
  }

  /**
   * Closes without waiting on the peer: a TCP slave that lost power would hold a graceful close
   * for minutes, so TCP is destroyed; a serial port is closed (modbus-serial cannot destroy one).
   */
  private async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1000);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      if (this.bus.rtu) client.close(done);
      else client.destroy(done);
    });
  }

  private async poll(slot: Slot): Promise<void> {
    const client = this.client!;
    client.setID(slot.unitId);
    const { start, count } = slot.block;
    let registers: number[];
    try {
      const result =
        slot.profile.table === 'input_register'
          ? await client.readInputRegisters(start, count)
          : await client.readHoldingRegisters(start, count);
      registers = result.data;
    } catch (err) {
      // A port that went away is the bus's problem, not the device's: the loop reopens it.
      if (!client.isOpen) {
        this.log.warn({ bus: this.bus.name, err: String(err) }, 'Modbus bus lost: reopening');
        return;
      }
      this.miss(slot, err);
      return;
    }
    if (slot.misses >= this.bus.offlineAfterMisses) this.log.info({ bus: this.bus.name, device: slot.id }, 'Modbus device answers again');
    slot.misses = 0;
    slot.nextAt = 0;
    const now = this.clock.now();
    this.sink.link(slot.id, true);
    const { seq, event } = decodeRegisters(slot.profile, slot.id, registers);
    if (seq === slot.lastSeq) return;
    slot.lastSeq = seq;
    this.sink.event(event, now);
  }

  private miss(slot: Slot, err: unknown): void {
    slot.misses++;
    const past = slot.misses - this.bus.offlineAfterMisses;
    if (past === 0) {
      this.log.warn(
        { bus: this.bus.name, device: slot.id, misses: slot.misses, err: String(err) },
        'Modbus device not answering: Online=false',
      );
      this.sink.link(slot.id, false);
    }
    if (past >= 0) slot.nextAt = this.clock.now() + retryDelay(past, this.bus.intervalMs, this.bus.backoffMaxMs);
  }

  /** While the bus cannot be opened, every device misses its poll. */
  private missAll(): void {
    if (!this.running) return;
    for (const slot of this.slots) {
      slot.misses++;
      if (slot.misses === this.bus.offlineAfterMisses) this.sink.link(slot.id, false);
    }
  }

  private sleep(ms: number): Promise<void> {
    return this.running ? this.nap.sleep(ms) : Promise.resolve();
  }
}
