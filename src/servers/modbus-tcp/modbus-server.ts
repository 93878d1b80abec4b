import { ServerTCP, type IServiceVector } from 'modbus-serial';
import { once } from 'node:events';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { Part } from '../../core/part.js';
import type { DeviceStateStore } from '../../state/device-state.js';
import type { RegisterMap, FieldContext } from './register-map.js';
import { enforceQuantityLimits } from './quantity-limits.js';

export interface ModbusOptions {
  host: string;
  port: number;
  unitId: number;
}

/** modbus-serial answers an error carrying `modbusErrorCode` with that exception code. */
class ModbusException extends Error {
  constructor(
    readonly modbusErrorCode: number,
    message: string,
  ) {
    super(message);
  }
}

const ILLEGAL_ADDRESS = new ModbusException(0x02, 'illegal data address');

type Callback<T> = (err: Error | null, value: T) => void;

/**
 * The library's callbacks take (err, value). Its multi-register path indexes `values` even on
 * error, so an exception without an array would turn into a TypeError and exception 04.
 */
function fail<T>(cb: Callback<T>, err: Error): void {
  (cb as (e: Error, v: unknown[]) => void)(err, []);
}

/**
 * Read-only Modbus TCP view of device state: input registers and discrete inputs per the
 * RegisterMap, the test pattern also as holding registers; other holding registers, coils not
 * driven by rules, and writes are exception 02 until a map makes them writable.
 */
export class ModbusServerPart implements Part {
  readonly name = 'modbus';
  private server?: ServerTCP;
  private running = false;
  /** Coils driven by rule actions (`modbusCoil`): on while any device holds an alarm that drives it. */
  private readonly coils = new Map<number, Set<string>>();

  constructor(
    private readonly options: ModbusOptions,
    private map: RegisterMap,
    private readonly state: DeviceStateStore,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** Swaps the register map after a config reload; clients stay connected. */
  setMap(map: RegisterMap): void {
    this.map = map;
  }

  /** The coils rules drive; other coil addresses stay illegal. */
  declareCoils(addresses: number[]): void {
    for (const a of addresses) if (!this.coils.has(a)) this.coils.set(a, new Set());
    for (const a of this.coils.keys()) if (!addresses.includes(a)) this.coils.delete(a);
  }

  applyCoilAction(action: { address: number; rule: string; device: string; value: boolean }): void {
    const holders = this.coils.get(action.address);
    if (!holders) return;
    const who = `${action.rule}/${action.device}`;
    if (action.value) holders.add(who);
    else holders.delete(who);
  }

  async start(): Promise<void> {
    enforceQuantityLimits();
    const server = new ServerTCP(this.vector(), { host: this.options.host, port: this.options.port, unitID: this.options.unitId });
    this.server = server;
    server.on('socketError', (err: unknown) => this.log.debug({ err: String(err) }, 'modbus client socket error'));
    await Promise.race([once(server, 'initialized'), once(server, 'serverError').then(([err]) => Promise.reject(err as Error))]);
    this.running = true;
    this.log.info({ host: this.options.host, port: this.options.port, unitId: this.options.unitId }, 'Modbus TCP server listening');
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.running = false;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  problem(): string | undefined {
    return this.running ? undefined : 'not running';
  }

  private vector(): IServiceVector {
    const context = (id: string): FieldContext => {
      const device = this.state.get(id);
      return { device, online: device ? this.state.isOnline(device) : false, nowMs: this.clock.now() };
    };
    const readRegisters = (addr: number, length: number, cb: Callback<number[]>): void => {
      if (!this.map.inputRegistersInRange(addr, length)) return fail(cb, ILLEGAL_ADDRESS);
      cb(null, this.map.readInputRegisters(addr, length, context));
    };
    const readHolding = (addr: number, length: number, cb: Callback<number[]>): void => {
      if (!this.map.holdingRegistersInRange(addr, length)) return fail(cb, ILLEGAL_ADDRESS);
      cb(null, this.map.readHoldingRegisters(addr, length));
    };
    return {
      getMultipleInputRegisters: (addr: number, length: number, _unit: number, cb: Callback<number[]>) => readRegisters(addr, length, cb),
      getInputRegister: (addr: number, _unit: number, cb: Callback<number>) =>
        readRegisters(addr, 1, (err, v) => (err ? fail(cb, err) : cb(null, v[0] ?? 0))),
      getDiscreteInput: (addr: number, _unit: number, cb: Callback<boolean>) => {
        if (!this.map.discreteInputsInRange(addr, 1)) return fail(cb, ILLEGAL_ADDRESS);
        const { device, unacked } = this.map.discreteInput(addr);
        const d = device && this.state.get(device.id);
        cb(null, d ? (unacked ? d.unacked : d.alarms).size > 0 : false);
      },
      getHoldingRegister: (addr: number, _unit: number, cb: Callback<number>) =>
        readHolding(addr, 1, (err, v) => (err ? fail(cb, err) : cb(null, v[0] ?? 0))),
      getMultipleHoldingRegisters: (addr: number, length: number, _unit: number, cb: Callback<number[]>) => readHolding(addr, length, cb),
      getCoil: (addr: number, _unit: number, cb: Callback<boolean>) => {
        const holders = this.coils.get(addr);
        if (!holders) return fail(cb, ILLEGAL_ADDRESS);
        cb(null, holders.size > 0);
      },
      setRegister: (_addr: number, _v: number, _unit: number, cb: Callback<void>) => fail(cb, ILLEGAL_ADDRESS),
      setCoil: (_addr: number, _v: boolean, _unit: number, cb: Callback<void>) => fail(cb, ILLEGAL_ADDRESS),
    };
  }
}
