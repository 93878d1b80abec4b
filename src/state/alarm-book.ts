import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Subject } from 'rxjs';
import { retained, type AlarmCondition, type AlarmEvent, type AlarmEventState, type AlarmTransition } from '../core/alarm.js';
import type { Clock } from '../core/clock.js';
import { GatewayError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';

export type AlarmCommandProblem = 'unknown' | 'already-acked' | 'not-acked' | 'already-confirmed';

/** An operator command that does not apply to the alarm as it stands; `problem` maps to HTTP and OPC UA status codes. */
export class AlarmCommandError extends GatewayError {
  constructor(
    readonly problem: AlarmCommandProblem,
    message: string,
  ) {
    super(message);
  }
}

export interface AlarmBookOptions {
  /** Where the retained alarms are kept across restarts; none: in memory only. */
  file?: string;
  /** Changes within this window are written together (default 1 s; a graceful stop writes at once). */
  writeDelayMs?: number;
}

const FILE_VERSION = 1;
const keyOf = (device: string, rule: string): string => `${device}\u0000${rule}`;

/**
 * The alarms that need attention, with both verdicts: the rules' (active) and the operators'
 * (acknowledged, confirmed). Rules feed it transitions; operators acknowledge and confirm from
 * any front end (OPC UA, REST, Modbus), and every change goes out once on `events$` to all of
 * them. Retained alarms are written to disk, so a restart shows the same alarms.
 */
export class AlarmBook {
  private readonly conditions = new Map<string, AlarmCondition>();
  private readonly eventSubject = new Subject<AlarmEvent>();
  readonly events$ = this.eventSubject.asObservable();
  private writeTimer?: NodeJS.Timeout;
  /** The write in flight: writes go one at a time, so an older state never lands after a newer one. */
  private writing?: Promise<void>;

  constructor(
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly options: AlarmBookOptions = {},
  ) {}

  /** Reads the alarms kept by the previous run; a damaged file is logged and set aside, never fatal. */
  load(): AlarmCondition[] {
    const file = this.options.file;
    if (!file) return [];
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return [];
    }
    try {
      const data = JSON.parse(text) as { version?: number; alarms?: AlarmCondition[] };
      if (data.version !== FILE_VERSION || !Array.isArray(data.alarms)) throw new Error(`not an alarm file of version ${FILE_VERSION}`);
      for (const c of data.alarms) if (isCondition(c)) this.conditions.set(keyOf(c.device, c.rule), { ...c });
    } catch (err) {
      const aside = `${file}.damaged-${this.clock.now()}`;
      renameSync(file, aside);
      this.log.error({ file, aside, err: String(err) }, 'alarm file unreadable: set aside, starting with no retained alarms');
    }
    return this.list();
  }

  list(device?: string): AlarmCondition[] {
    const all = [...this.conditions.values()].map((c) => ({ ...c }));
    return device === undefined ? all : all.filter((c) => c.device === device);
  }

  get(device: string, rule: string): AlarmCondition | undefined {
    const c = this.conditions.get(keyOf(device, rule));
    return c && { ...c };
  }

  /** A rule's verdict. Raising an alarm that is already active only refreshes its value and message. */
  apply(t: AlarmTransition): void {
    const key = keyOf(t.device, t.rule);
    const c = this.conditions.get(key);
    if (t.state === 'raised') {
      if (c?.active) {
        Object.assign(c, { severity: t.severity, message: t.message, value: t.value });
        this.changed();
        return;
      }
      const next: AlarmCondition = {
        device: t.device,
        rule: t.rule,
        active: true,
        acked: false,
        confirmed: false,
        severity: t.severity,
        message: t.message,
        value: t.value,
        raisedAt: t.ts,
        ts: t.ts,
      };
      this.conditions.set(key, next);
      this.emit('raised', next);
      return;
    }
    if (!c?.active) return;
    Object.assign(c, { active: false, message: t.message, value: t.value, ts: t.ts });
    this.emit('cleared', c);
  }

  acknowledge(device: string, rule: string, by: string, comment?: string): AlarmEvent {
    const c = this.find(device, rule);
    if (c.acked) throw new AlarmCommandError('already-acked', `alarm ${rule} on ${device} is already acknowledged`);
    Object.assign(c, { acked: true, ts: this.clock.now(), by, comment });
    return this.emit('acknowledged', c);
  }

  confirm(device: string, rule: string, by: string, comment?: string): AlarmEvent {
    const c = this.find(device, rule);
    if (!c.acked) throw new AlarmCommandError('not-acked', `alarm ${rule} on ${device} must be acknowledged before it is confirmed`);
    if (c.confirmed) throw new AlarmCommandError('already-confirmed', `alarm ${rule} on ${device} is already confirmed`);
    Object.assign(c, { confirmed: true, ts: this.clock.now(), by, comment });
    return this.emit('confirmed', c);
  }

  /** Acknowledges every unacknowledged alarm (of one device, or all); returns what changed. */
  acknowledgeAll(device: string | undefined, by: string, comment?: string): AlarmEvent[] {
    return this.list(device)
      .filter((c) => !c.acked)
      .map((c) => this.acknowledge(c.device, c.rule, by, comment));
  }

  /**
   * Ends every alarm of a device (or of rules no longer configured): cleared, acknowledged and
   * confirmed, so it leaves the book. For alarms whose rule will never clear them.
   */
  reset(select: (c: AlarmCondition) => boolean, by: string, message: string): AlarmEvent[] {
    const out: AlarmEvent[] = [];
    for (const c of [...this.conditions.values()].filter(select)) {
      const ts = this.clock.now();
      if (c.active) out.push(this.emit('cleared', Object.assign(c, { active: false, message, ts })));
      if (!c.acked) out.push(this.emit('acknowledged', Object.assign(c, { acked: true, by, comment: message, ts })));
      if (!c.confirmed) out.push(this.emit('confirmed', Object.assign(c, { confirmed: true, by, comment: message, ts })));
    }
    return out;
  }

  /** Writes the alarms now, synchronously, after any write in flight (at stop). */
  async close(): Promise<void> {
    clearTimeout(this.writeTimer);
    this.writeTimer = undefined;
    await this.writing;
    this.flush();
  }

  /** Writes the alarms now, synchronously. */
  flush(): void {
    clearTimeout(this.writeTimer);
    this.writeTimer = undefined;
    const file = this.options.file;
    if (!file) return;
    try {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(`${file}.tmp`, this.serialised());
      renameSync(`${file}.tmp`, file);
    } catch (err) {
      this.log.error({ file, err: String(err) }, 'alarm state not written');
    }
  }

  private serialised(): string {
    return JSON.stringify({ version: FILE_VERSION, alarms: [...this.conditions.values()] });
  }

  /** The timer's write: off the event thread but for the JSON, so a busy alarm book does not stall ingest. */
  private writeLater(): void {
    this.writeTimer = undefined;
    const file = this.options.file!;
    const text = this.serialised();
    const previous = this.writing ?? Promise.resolve();
    const write = previous
      .then(async () => {
        await mkdir(dirname(file), { recursive: true });
        await writeFile(`${file}.tmp`, text);
        await rename(`${file}.tmp`, file);
      })
      .catch((err: unknown) => this.log.error({ file, err: String(err) }, 'alarm state not written'))
      .finally(() => {
        if (this.writing === write) this.writing = undefined;
      });
    this.writing = write;
  }

  private find(device: string, rule: string): AlarmCondition {
    const c = this.conditions.get(keyOf(device, rule));
    if (!c) throw new AlarmCommandError('unknown', `no alarm ${rule} on ${device}`);
    return c;
  }

  private emit(state: AlarmEventState, c: AlarmCondition): AlarmEvent {
    const event: AlarmEvent = { ...c, state };
    if (!retained(c)) this.conditions.delete(keyOf(c.device, c.rule));
    this.changed();
    this.eventSubject.next(event);
    return event;
  }

  private changed(): void {
    if (!this.options.file || this.writeTimer) return;
    this.writeTimer = setTimeout(() => this.writeLater(), this.options.writeDelayMs ?? 1000);
    this.writeTimer.unref();
  }
}

function isCondition(c: unknown): c is AlarmCondition {
  const x = c as Partial<AlarmCondition> | null;
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof x.device === 'string' &&
    typeof x.rule === 'string' &&
    typeof x.active === 'boolean' &&
    typeof x.acked === 'boolean' &&
    typeof x.confirmed === 'boolean' &&
    typeof x.severity === 'number' &&
    typeof x.message === 'string'
  );
}
