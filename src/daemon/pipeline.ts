import { Subject, type Subscription } from 'rxjs';
import type { AlarmEvent } from '../core/alarm.js';
import type { DerivedEvent, RuleAction } from '../core/rule-output.js';
import type { Logger } from '../core/logger.js';
import type { RuleEngine } from '../cep/rules/engine.js';
import { decodeEventJson, decodeMqttFrame, type Decoded, type RawFrame, type ValidEvent } from '../normalise/decode-mqtt.js';
import type { InferenceEvent } from '../normalise/inference-event.js';
import { ResendFilter } from '../normalise/resend-filter.js';
import type { AlarmBook } from '../state/alarm-book.js';
import type { DeviceStateStore } from '../state/device-state.js';
import type { DeviceRegistry } from '../state/device-registry.js';
import type { GatewayMetrics } from './metrics.js';
import type { LoadShedder } from './load-shedder.js';

const HEARTBEAT = Symbol('heartbeat');
/** An event object a source decoded itself (e.g. from registers), still to be validated. */
interface DecodedInput {
  json: unknown;
  receivedAt: number;
  source: string;
}
/** An event a source validated already (HTTP checks a batch whole before it answers). */
interface ValidInput {
  valid: ValidEvent;
  receivedAt: number;
  source: string;
}
type Input = RawFrame | DecodedInput | ValidInput;
type PipelineItem = Input | typeof HEARTBEAT;

/**
 * ingest → normalise → CEP → state, synchronously: when `push` returns, the event is in state and
 * handed to every sink. Sinks subscribe to `events$` and `alarms$`.
 */
export class Pipeline {
  private readonly input = new Subject<PipelineItem>();
  private readonly eventSubject = new Subject<InferenceEvent>();
  private readonly alarmSubject = new Subject<AlarmEvent>();
  readonly events$ = this.eventSubject.asObservable();
  readonly alarms$ = this.alarmSubject.asObservable();
  private readonly derivedSubject = new Subject<DerivedEvent>();
  private readonly actionSubject = new Subject<RuleAction>();
  /** Rule results published as events (derived outputs). */
  readonly derived$ = this.derivedSubject.asObservable();
  /** Rule actions (MQTT publish, Modbus coil). */
  readonly actions$ = this.actionSubject.asObservable();
  private readonly subscriptions: Subscription[] = [];
  private beats = 0;
  private acceptedTotal = 0;
  private rejectedTotal = 0;
  private readonly resends = new ResendFilter();

  constructor(
    private readonly engine: RuleEngine,
    private readonly state: DeviceStateStore,
    private readonly alarms: AlarmBook,
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
    private readonly registry?: DeviceRegistry,
    private readonly shedder?: LoadShedder,
  ) {}

  start(): void {
    const cepInput = new Subject<InferenceEvent>();
    this.subscriptions.push(
      this.engine.connect(cepInput).subscribe((out) => {
        if (out.type === 'derived') return this.derivedSubject.next(out.event);
        if (out.type === 'action') return this.actionSubject.next(out.action);
        this.alarms.apply(out.alarm);
      }),
      // Rules' verdicts and operators' acknowledgements reach state and every sink the same way.
      this.alarms.events$.subscribe((a) => {
        this.state.applyAlarm(a);
        this.metrics.alarmTransitions.inc({ state: a.state });
        this.log.info({ alarm: a }, `alarm ${a.state}: ${a.device} ${a.rule}${a.by ? ` by ${a.by}` : ''}`);
        this.alarmSubject.next(a);
      }),
      this.input.subscribe((item) => {
        if (item === HEARTBEAT) {
          this.beats++;
          return;
        }
        // One event that trips a bug downstream is logged and counted; it must not end the stream.
        try {
          const event = this.normalise(item);
          if (!event) return;
          this.state.applyEvent(event);
          this.eventSubject.next(event);
          cepInput.next(event);
        } catch (err) {
          this.metrics.pipelineErrors.inc();
          this.log.error({ input: inputName(item), err: err instanceof Error ? err.stack : String(err) }, 'event processing failed');
        }
      }),
    );
  }

  push(frame: RawFrame, source = 'mqtt'): void {
    this.metrics.eventsReceived.inc({ source });
    // Checked before the frame is decoded: shedding must cost next to nothing.
    if (frame.qos === 0 && this.shedder && !this.shedder.admit(source)) return;
    this.take(frame);
  }

  /**
   * An event a source built from its own protocol (Modbus registers, serial lines, HTTP):
   * validated like any frame. `sheddable`: the source cannot be made to wait (a UART), so under
   * overload the event may be shed.
   */
  pushEvent(json: unknown, receivedAt: number, source: string, sheddable = false): void {
    this.metrics.eventsReceived.inc({ source });
    if (sheddable && this.shedder && !this.shedder.admit(source)) return;
    this.take({ json, receivedAt, source });
  }

  /** An event its source validated already: it takes the same path from here, but is not checked twice. */
  pushDecoded(valid: ValidEvent, receivedAt: number, source: string): void {
    this.metrics.eventsReceived.inc({ source });
    this.take({ valid, receivedAt, source });
  }

  /** Runs one input through the pipeline, timed for the load shedder (two clock reads against tens of µs of work). */
  private take(item: Input): void {
    if (!this.shedder) return this.input.next(item);
    const t0 = performance.now();
    this.input.next(item);
    this.shedder.took(performance.now() - t0);
  }

  /** Whether a polled device answers: a polled device that answers is Online even when it has nothing new. */
  link(device: string, reachable: boolean): void {
    this.state.applyLink(device, reachable);
  }

  /** True when a marker went through the whole chain and CEP is still subscribed: the watchdog's proof of life. */
  heartbeat(): boolean {
    const before = this.beats;
    this.input.next(HEARTBEAT);
    return this.beats === before + 1 && this.subscriptions.length > 0 && this.subscriptions.every((s) => !s.closed);
  }

  /** Events accepted by validation since start. */
  get accepted(): number {
    return this.acceptedTotal;
  }

  /** Frames dropped by validation since start. */
  get rejected(): number {
    return this.rejectedTotal;
  }

  stop(): void {
    for (const s of this.subscriptions.splice(0)) s.unsubscribe();
    this.eventSubject.complete();
    this.alarmSubject.complete();
    this.derivedSubject.complete();
    this.actionSubject.complete();
  }

  private normalise(item: Input): InferenceEvent | undefined {
    let decoded: Decoded =
      'valid' in item ? item.valid : 'json' in item ? decodeEventJson(item.json, item.receivedAt) : decodeMqttFrame(item);
    if (decoded.ok && decoded.stamped && this.resends.isResend(decoded.event, item.receivedAt)) {
      decoded = { ok: false, reason: 'duplicate', detail: `${decoded.event.device} seq ${String(decoded.event.seq)} again, without ts` };
    }
    const admission = decoded.ok ? (this.registry?.admit(decoded.event) ?? 'bridge') : undefined;
    if (decoded.ok && admission === 'bridge') {
      this.acceptedTotal++;
      this.metrics.eventsAccepted.inc();
      return decoded.event;
    }
    if (admission === 'hold') {
      this.metrics.eventsHeld.inc();
      return undefined;
    }
    const reason = decoded.ok ? (admission as 'unknown_device' | 'revoked') : decoded.reason;
    this.rejectedTotal++;
    this.metrics.eventsRejected.inc({ reason });
    if (this.log.isLevelEnabled('debug')) {
      this.log.debug({ input: inputName(item), reason, detail: decoded.ok ? decoded.event.device : decoded.detail }, 'event rejected');
    }
    return undefined;
  }
}

/** What a log line calls an input: its MQTT topic, or the source that decoded it. */
const inputName = (item: Input): string => ('topic' in item ? item.topic : item.source);
