import type { ModbusPollConfig } from '../../config/poll-schema.js';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { Part } from '../../core/part.js';
import { BusPoller, type PollSink } from './bus-poller.js';

/** Polls every configured bus; starting never waits for a bus, so a missing port does not stop the gateway. */
export class ModbusPoller implements Part {
  readonly name = 'modbus-poll';
  private readonly buses: BusPoller[];

  constructor(config: ModbusPollConfig, sink: PollSink, clock: Clock, log: Logger) {
    this.buses = config.buses.map((b) => new BusPoller(b, config.profiles, sink, clock, log.child({ bus: b.name })));
  }

  async start(): Promise<void> {
    for (const bus of this.buses) bus.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.buses.map((b) => b.stop()));
  }

  problem(): string | undefined {
    const problems = this.buses.map((b) => b.problem()).filter((p) => p !== undefined);
    return problems.length > 0 ? problems.join('; ') : undefined;
  }
}
