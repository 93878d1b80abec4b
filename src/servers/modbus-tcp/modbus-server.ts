import { createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import type { ModbusServerConfig, ModbusTable } from '../../config/modbus-schema.js';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { Part } from '../../core/part.js';
import { AlarmCommandError, type AlarmBook } from '../../state/alarm-book.js';
import type { DeviceStateStore } from '../../state/device-state.js';
import type { AddressSpace, ReadSource } from './address-space.js';
import { allowList, clientAddress } from '../../core/client-address.js';
import { LogThrottle } from '../../core/log-throttle.js';
import type { Command } from './device-fields.js';
import { EXCEPTION, exceptionPdu, handlePdu, type PduTarget } from './pdu.js';

export type ModbusOutcome = 'ok' | 'exception' | 'no-answer';

/** What the server reports to metrics. */
export interface ModbusCounters {
  request(fc: number, outcome: ModbusOutcome): void;
  refused(reason: 'allowlist' | 'max-connections'): void;
  connections(open: number): void;
}

const NO_COUNTERS: ModbusCounters = { request: () => undefined, refused: () => undefined, connections: () => undefined };

/** MBAP header: transaction id, protocol id (0), length of what follows, unit id. */
const MBAP = 7;
/** A PDU is at most 253 bytes, so the MBAP length field is at most 254. */
const MAX_LENGTH = 254;
/** Answers a client may leave unread before it is dropped. */
const MAX_UNREAD = 256 * 1024;

/**
 * The Modbus TCP server PLCs read: frames requests itself (the client's address, unit ids,
 * allowlist, connection limits, idle timeout) and answers them from the AddressSpace. Writes
 * reach only fields the map marks writable: commands that acknowledge or reset alarms.
 */
export class ModbusServerPart implements Part {
  readonly name = 'modbus';
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  /** Coils driven by rule actions (`modbusCoil`): on while any device holds an alarm that drives it. */
  private readonly coils = new Map<number, Set<string>>();
  private readonly allowed: (address: string) => boolean;
  private readonly throttle = new LogThrottle(60_000);

  constructor(
    private readonly options: Pick<ModbusServerConfig, 'host' | 'port' | 'unknownUnit' | 'allow' | 'maxConnections' | 'idleTimeoutMs'>,
    private space: AddressSpace,
    private readonly state: DeviceStateStore,
    private readonly alarms: AlarmBook,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly counters: ModbusCounters = NO_COUNTERS,
  ) {
    this.allowed = allowList(options.allow);
  }

  /** Swaps the address space after a reload or a rule change; clients stay connected. */
  setSpace(space: AddressSpace): void {
    this.space = space;
    const ruleCoils = new Set(space.placed.filter((p) => p.field.startsWith('rule:')).map((p) => p.address));
    for (const address of this.coils.keys()) if (!ruleCoils.has(address)) this.coils.delete(address);
    this.logProblems();
  }

  applyCoilAction(action: { address: number; rule: string; device: string; value: boolean }): void {
    let holders = this.coils.get(action.address);
    if (!holders) this.coils.set(action.address, (holders = new Set()));
    const who = `${action.rule}/${action.device}`;
    if (action.value) holders.add(who);
    else holders.delete(who);
  }

  private logProblems(): void {
    for (const problem of this.space.problems) this.log.warn({ path: problem.path.join('.') }, problem.message);
  }

  async start(): Promise<void> {
    this.logProblems();
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    server.listen({ host: this.options.host, port: this.options.port });
    await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => Promise.reject(err as Error))]);
    server.on('error', (err) => this.log.error({ err: String(err) }, 'Modbus TCP server error'));
    this.log.info({ host: this.options.host, port: this.options.port }, 'Modbus TCP server listening');
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  problem(): string | undefined {
    return this.server?.listening ? undefined : 'not running';
  }

  private accept(socket: Socket): void {
    const client = clientAddress(socket.remoteAddress);
    const refuse = (reason: 'allowlist' | 'max-connections', message: string): void => {
      this.counters.refused(reason);
      const { log, held } = this.throttle.take(`${reason}:${client}`, this.clock.now());
      if (log) this.log.warn({ client, ...(held ? { alsoRefused: held } : {}) }, message);
      socket.destroy();
    };
    if (!this.allowed(client)) return refuse('allowlist', 'Modbus client refused: not in modbus.allow');
    if (this.sockets.size >= this.options.maxConnections)
      return refuse('max-connections', `Modbus client refused: ${this.options.maxConnections} connections open (modbus.maxConnections)`);
    this.sockets.add(socket);
    this.counters.connections(this.sockets.size);
    socket.setNoDelay(true);
    if (this.options.idleTimeoutMs > 0) {
      socket.setTimeout(this.options.idleTimeoutMs, () => {
        this.log.debug({ client }, 'Modbus client idle: closed');
        socket.destroy();
      });
    }
    socket.on('error', (err) => this.log.debug({ client, err: String(err) }, 'Modbus client socket error'));
    socket.once('close', () => {
      this.sockets.delete(socket);
      this.counters.connections(this.sockets.size);
    });
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= MBAP) {
        const length = pending.readUInt16BE(4);
        if (pending.readUInt16BE(2) !== 0 || length < 2 || length > MAX_LENGTH) {
          this.log.debug({ client }, 'not Modbus TCP: connection closed');
          socket.destroy();
          return;
        }
        if (pending.length < 6 + length) break;
        const frame = pending.subarray(0, 6 + length);
        pending = pending.subarray(6 + length);
        const reply = this.answer(frame, client);
        if (reply) socket.write(reply);
      }
      // A client that sends but never reads would make us hold its answers without bound.
      if (socket.writableLength > MAX_UNREAD) {
        this.log.warn({ client }, 'Modbus client does not read its answers: closed');
        socket.destroy();
      }
    });
  }

  /** One request frame to its reply frame, or undefined for no answer. */
  private answer(frame: Buffer, client: string): Buffer | undefined {
    const unit = frame[6]!;
    const pdu = frame.subarray(MBAP);
    const fc = pdu[0]!;
    let response: Buffer;
    if (this.space.hasUnit(unit)) response = handlePdu(pdu, this.target(unit, client));
    else if (this.options.unknownUnit === 'exception') response = exceptionPdu(fc, EXCEPTION.gatewayTargetFailed);
    else {
      this.counters.request(fc, 'no-answer');
      return undefined;
    }
    this.counters.request(fc, (response[0]! & 0x80) !== 0 ? 'exception' : 'ok');
    const out = Buffer.alloc(MBAP + response.length);
    frame.copy(out, 0, 0, 4);
    out.writeUInt16BE(response.length + 1, 4);
    out[6] = unit;
    response.copy(out, MBAP);
    return out;
  }

  private target(unit: number, client: string): PduTarget {
    const space = this.space;
    const source = this.source();
    return {
      readBits: (table, address, count) => space.readBits(unit, table, address, count, source) ?? EXCEPTION.illegalAddress,
      readRegisters: (table, address, count) => space.readRegisters(unit, table, address, count, source) ?? EXCEPTION.illegalAddress,
      write: (table, address, values) => {
        const result = space.write(unit, table, address, values);
        if (!result.ok) {
          this.refusedWrite(client, unit, table, address, values.length, result.reason);
          return EXCEPTION.illegalAddress;
        }
        for (const c of result.commands) this.run(c.device, c.command, c.value, client);
        return undefined;
      },
    };
  }

  private source(): ReadSource {
    const now = this.clock.now();
    return {
      context: (id, labels) => {
        const device = id === undefined ? undefined : this.state.get(id);
        return { device, labels, online: device ? this.state.isOnline(device) : false, nowMs: now };
      },
      coilOn: (address) => (this.coils.get(address)?.size ?? 0) > 0,
    };
  }

  private refusedWrite(client: string, unit: number, table: ModbusTable, address: number, count: number, reason: string): void {
    const { log, held } = this.throttle.take(`write:${client}:${unit}:${table}:${address}`, this.clock.now());
    if (log)
      this.log.warn(
        { client, unit, table, address, count, ...(held ? { alsoRefused: held } : {}) },
        `Modbus write refused (${reason === 'unmapped' ? 'no such address' : 'read-only'}): exception 02`,
      );
  }

  /** A command field was written: 0 does nothing, anything else acts. */
  private run(device: string, command: Command, value: number, client: string): void {
    if (value === 0) return;
    const by = `modbus ${client}`;
    try {
      if (command.command === 'reset') this.alarms.reset((c) => c.device === device, by, 'reset over Modbus');
      else if (command.rule === undefined) this.alarms.acknowledgeAll(device, by);
      else this.alarms.acknowledge(device, command.rule, by);
    } catch (err) {
      // Acknowledging what is already acknowledged (or gone) is what a PLC button does twice: not an error.
      if (!(err instanceof AlarmCommandError)) throw err;
    }
    this.log.info({ client, device, command: command.command, rule: command.rule }, `Modbus ${command.command} of ${device}`);
  }
}
