import { addingBelowDevice } from './lazy-devices.js';
import {
  DataType,
  NodeId,
  StatusCodes,
  type LocalizedText,
  type StatusCode,
  type Namespace,
  type UAAlarmConditionEx,
  type UAExclusiveLimitAlarmEx,
  type UAObject,
  type UAVariable,
} from './ua.js';
import { asEvent, retained, type AlarmCondition, type AlarmEvent } from '../../core/alarm.js';
import type { Logger } from '../../core/logger.js';
import type { RuleSpec } from '../../cep/rules/language.js';
import { AlarmCommandError, type AlarmBook } from '../../state/alarm-book.js';

/** The OPC UA alarm type a rule's alarms are shown as. */
export type AlarmKind =
  | { type: 'ExclusiveLimitAlarmType'; limit: 'High' | 'Low'; level: number }
  | { type: 'OffNormalAlarmType' }
  | { type: 'AlarmConditionType' };

/**
 * A threshold rule is a limit alarm (its raise level as HighLimit or LowLimit); a device that
 * should be sending or should agree with its group is off-normal; anything else (persistence,
 * patterns, drift, trends) is a plain alarm condition.
 */
export function alarmKindOf(rule: RuleSpec | undefined): AlarmKind {
  const last = rule?.pipeline[rule.pipeline.length - 1];
  const t = last?.threshold;
  if (t?.above !== undefined) return { type: 'ExclusiveLimitAlarmType', limit: 'High', level: t.above };
  if (t?.below !== undefined) return { type: 'ExclusiveLimitAlarmType', limit: 'Low', level: t.below };
  if (last?.absence || last?.mismatch) return { type: 'OffNormalAlarmType' };
  return { type: 'AlarmConditionType' };
}

export const conditionNodeId = (device: string, rule: string): string => `s=Devices/${device}/Alarms/${rule}`;

interface Held {
  device: string;
  rule: string;
  node: UAAlarmConditionEx;
  kind: AlarmKind;
  /** A limit alarm's InputNode: the value the rule compared at the alarm's last change. */
  input?: UAVariable;
}

/**
 * The gateway's alarms as OPC UA conditions on their device objects. The AlarmBook is the truth:
 * its changes are applied here, and Acknowledge/Confirm called by a client go to the book (which
 * then reaches REST, MQTT and Modbus). A condition node is created at a device's first alarm,
 * not for every rule on every device: 10k devices × 7 rules would be 70k idle conditions.
 */
export class AlarmConditions {
  private readonly held = new Map<string, Held>();
  /** The same, by the condition's full node id (what a method call names). */
  private readonly byNodeId = new Map<string, Held>();
  /**
   * Conditions not created yet, by condition node id: with their changes in order once watched,
   * or, noted while nobody watched, to be created from the book's state.
   */
  private readonly waiting = new Map<
    string,
    { device: UAObject; events: AlarmEvent[]; fromBook: boolean; of: { device: string; rule: string } }
  >();
  private draining?: NodeJS.Immediate;

  constructor(
    private readonly ns: Namespace,
    private readonly book: AlarmBook,
    private readonly kindOf: (rule: string) => AlarmKind,
    private readonly log: Logger,
    /** Whether any client watches events now. */
    private readonly watched: () => boolean,
  ) {
    ns.addressSpace.addMethodCallInterceptor((_context, object, method) => {
      // A refresh must find every retained condition, including those nobody has seen yet.
      if (method.browseName.name === 'ConditionRefresh' || method.browseName.name === 'ConditionRefresh2') this.createWaiting();
      return this.check(object?.nodeId.toString(), method.browseName.name);
    });
  }

  /**
   * node-opcua answers Good to an Acknowledge of an acknowledged branch and has no check that a
   * Confirm follows an Acknowledge; the book knows, so a client gets the status the spec names.
   */
  private check(conditionId: string | undefined, method: string | null): StatusCode {
    if (method !== 'Acknowledge' && method !== 'Confirm') return StatusCodes.Good;
    const held = conditionId === undefined ? undefined : this.byNodeId.get(conditionId);
    if (!held) return StatusCodes.Good;
    const c = this.book.get(held.device, held.rule);
    if (method === 'Acknowledge') return c && !c.acked ? StatusCodes.Good : StatusCodes.BadConditionBranchAlreadyAcked;
    if (c && !c.acked) return StatusCodes.BadInvalidState;
    return c && !c.confirmed ? StatusCodes.Good : StatusCodes.BadConditionBranchAlreadyConfirmed;
  }

  /**
   * Applies one change of the book to the device's condition. A condition is a node-opcua subtree
   * of some fifty nodes (3–4 ms and 80–90 KB each), so it exists only once a client can see it:
   * while no client watches events, a change only notes the condition as waiting, and the book,
   * the truth, gives its state when it is created. That happens when a client starts watching
   * events, calls ConditionRefresh, or reaches below the device (`createFor`). Once watched, a
   * condition that does not exist yet is created in a later turn of the event loop, one per turn,
   * and then takes its changes in order: an alarm storm (every device at once) must not hold MQTT,
   * Modbus and OPC UA still for the sum of them.
   */
  apply(device: UAObject, e: AlarmEvent): void {
    const id = conditionNodeId(e.device, e.rule);
    if (this.held.has(id)) return this.change(device, e);
    const queued = this.waiting.get(id);
    if (queued) {
      if (!queued.fromBook) queued.events.push(e);
      return;
    }
    const watched = this.watched();
    this.waiting.set(id, { device, events: watched ? [e] : [], fromBook: !watched, of: { device: e.device, rule: e.rule } });
    if (watched) this.drain();
  }

  /** How many conditions exist as nodes. */
  get created(): number {
    return this.held.size;
  }

  /** A client started watching events: the waiting conditions are created, one per turn. */
  watchStarted(): void {
    if (this.waiting.size > 0) this.drain();
  }

  /** Creates every waiting condition now (before a ConditionRefresh answers). */
  createWaiting(): void {
    while (this.waiting.size > 0) this.createOne();
  }

  /** Creates the device's waiting conditions now (a client reached below the device); true if any. */
  createFor(device: string): boolean {
    if (this.waiting.size === 0) return false;
    const ids = [...this.waiting].filter(([, q]) => q.of.device === device).map(([id]) => id);
    for (const id of ids) this.createOne(id);
    return ids.length > 0;
  }

  dispose(): void {
    if (this.draining) clearImmediate(this.draining);
    this.draining = undefined;
    this.waiting.clear();
  }

  private drain(): void {
    this.draining ??= setImmediate(() => this.createNext());
  }

  private createNext(): void {
    this.draining = undefined;
    this.createOne();
    if (this.waiting.size > 0) this.drain();
  }

  private createOne(which?: string): void {
    const [id, queued] = which === undefined ? (this.waiting.entries().next().value ?? []) : [which, this.waiting.get(which)];
    if (id === undefined || !queued) return;
    this.waiting.delete(id);
    try {
      if (queued.fromBook) {
        const now = this.book.get(queued.of.device, queued.of.rule);
        if (now) this.change(queued.device, asEvent(now));
      } else for (const e of queued.events) this.change(queued.device, e);
    } catch (err) {
      this.log.error(
        { device: queued.of.device, rule: queued.of.rule, err: err instanceof Error ? err.stack : String(err) },
        'OPC UA alarm update failed',
      );
    }
  }

  private change(device: UAObject, e: AlarmEvent): void {
    const { node, kind, input } = this.ensure(device, e);
    const branch = node.currentBranch();
    if (e.state === 'raised' || e.state === 'cleared') {
      input?.setValueFromSource({ dataType: DataType.Double, value: e.value }, StatusCodes.Good, new Date(e.ts));
      if (kind.type === 'ExclusiveLimitAlarmType')
        (node as unknown as UAExclusiveLimitAlarmEx).limitState.setState(e.active ? kind.limit : null);
      branch.setActiveState(e.active);
      branch.setAckedState(e.acked);
      branch.setConfirmedState(e.confirmed);
      node.raiseNewCondition({
        severity: e.severity,
        message: e.message,
        retain: retained(e),
        quality: StatusCodes.Good,
        time: new Date(e.ts),
      });
      return;
    }
    // A client's Acknowledge/Confirm has already changed the branch and raised its event; but
    // node-opcua drops Retain at Confirm even while the alarm is active, which would take an
    // active alarm off every client's list: that is put right with one more event.
    const done = e.state === 'acknowledged' ? branch.getAckedState() : branch.getConfirmedState();
    if (done && branch.getRetain() === retained(e)) return;
    if (e.state === 'acknowledged') branch.setAckedState(true);
    else branch.setConfirmedState(true);
    if (e.comment !== undefined) branch.setComment(e.comment);
    branch.setRetain(retained(e));
    node.raiseNewBranchState(branch);
  }

  /** The device's object is being deleted, and its conditions with it. */
  forget(device: string): void {
    for (const [id, queued] of this.waiting) if (queued.of.device === device) this.waiting.delete(id);
    for (const [id, held] of this.held) {
      if (held.device !== device) continue;
      this.held.delete(id);
      this.byNodeId.delete(held.node.nodeId.toString());
    }
  }

  private ensure(device: UAObject, c: AlarmCondition): Held {
    const id = conditionNodeId(c.device, c.rule);
    const existing = this.held.get(id);
    if (existing) return existing;
    return addingBelowDevice(() => this.create(device, c, id));
  }

  private create(device: UAObject, c: AlarmCondition, id: string): Held {
    const kind = this.kindOf(c.rule);
    const options = {
      browseName: c.rule,
      displayName: c.rule,
      nodeId: id,
      componentOf: device,
      conditionSource: device,
      conditionOf: device,
      conditionName: c.rule,
      optionals: ['ConfirmedState', 'Confirm'],
      inputNode: NodeId.nullNodeId,
    };
    const input = kind.type === 'ExclusiveLimitAlarmType' ? this.inputVariable(device, c) : undefined;
    const node =
      kind.type === 'ExclusiveLimitAlarmType'
        ? this.ns.instantiateExclusiveLimitAlarm(kind.type, {
            ...options,
            // A NodeId, not the node: node-opcua would otherwise evaluate the limits itself; the rule decides.
            inputNode: input!.nodeId,
            // Only the limit the rule raises at; the other is left out of the node, not set to a dummy.
            ...(kind.limit === 'High' ? { highLimit: kind.level } : { lowLimit: kind.level }),
          } as unknown as Parameters<Namespace['instantiateExclusiveLimitAlarm']>[1])
        : kind.type === 'OffNormalAlarmType'
          ? this.ns.instantiateOffNormalAlarm({ ...options, normalState: NodeId.nullNodeId })
          : this.ns.instantiateAlarmCondition(kind.type, options);
    // node-opcua names the source `2:<device>` (its qualified browse name); SCADA lists show the device id.
    node.setSourceName(c.device);
    node.setEnabledState(true);
    raiseOnlyWhenHeard(node, device);
    node.on('acknowledged', (_eventId: Buffer | null, comment: LocalizedText) => this.fromClient('acknowledge', c, comment));
    node.on('confirmed', (_eventId: Buffer | null, comment: LocalizedText) => this.fromClient('confirm', c, comment));
    const held = { device: c.device, rule: c.rule, node, kind, ...(input ? { input } : {}) };
    this.held.set(id, held);
    this.byNodeId.set(node.nodeId.toString(), held);
    return held;
  }

  /** `Devices/<device>/Inputs/<rule>`; waiting for data until the first change, so creating the alarm raises nothing. */
  private inputVariable(device: UAObject, c: AlarmCondition): UAVariable {
    const folderId = `s=Devices/${c.device}/Inputs`;
    const folder =
      (this.ns.addressSpace.findNode(`ns=${this.ns.index};${folderId}`) as UAObject | null) ??
      this.ns.addObject({ componentOf: device, browseName: 'Inputs', nodeId: folderId });
    const variable = this.ns.addVariable({
      componentOf: folder,
      browseName: c.rule,
      nodeId: `${folderId}/${c.rule}`,
      dataType: DataType.Double,
      minimumSamplingInterval: 0,
    });
    variable.setValueFromSource({ dataType: DataType.Double, value: 0 }, StatusCodes.BadWaitingForInitialData);
    return variable;
  }

  private fromClient(command: 'acknowledge' | 'confirm', c: AlarmCondition, comment: LocalizedText): void {
    try {
      this.book[command](c.device, c.rule, 'opcua', comment.text ?? undefined);
    } catch (err) {
      // The book and the condition disagree (e.g. acknowledged over REST a moment before): the book wins.
      if (!(err instanceof AlarmCommandError)) throw err;
      this.log.warn({ device: c.device, rule: c.rule, err: err.message }, `OPC UA ${command} not applied`);
    }
  }
}

interface Raising {
  raiseConditionEvent(branch: { renewEventId(): void }, renewEventId: boolean): void;
}

/**
 * Where node-opcua's raiseConditionEvent sends a condition's events: the condition, the object it
 * is a condition of, every object up the inverse HasEventSource / HasNotifier chain from there,
 * and the Server object. Devices do not move, so the chain is walked once.
 */
function eventReceivers(condition: UAAlarmConditionEx, source: UAObject): UAObject[] {
  const server = source.addressSpace.rootFolder.objects.server;
  const out: UAObject[] = [condition as unknown as UAObject, server];
  const seen = new Set(out.map((o) => o.nodeId.toString()));
  const queue = [source];
  seen.add(source.nodeId.toString());
  while (queue.length) {
    const obj = queue.pop()!;
    out.push(obj);
    for (const ref of ['HasNotifier', 'HasEventSource']) {
      for (const up of obj.findReferencesAsObject(ref, false) as UAObject[]) {
        if (seen.has(up.nodeId.toString())) continue;
        seen.add(up.nodeId.toString());
        queue.push(up);
      }
    }
  }
  return out;
}

/**
 * An alarm transition changes the condition's state either way; building the event (every field
 * of the condition read into an event record) and walking it up to the Server object is skipped
 * while no client listens for events anywhere on that path. A client that subscribes later gets
 * the retained conditions by ConditionRefresh, built from that state; history comes from the book.
 */
function raiseOnlyWhenHeard(condition: UAAlarmConditionEx, source: UAObject): void {
  const node = condition as unknown as Raising;
  if (typeof node.raiseConditionEvent !== 'function') throw new Error('node-opcua condition has no raiseConditionEvent to guard');
  const raise = node.raiseConditionEvent.bind(node);
  let receivers: UAObject[] | undefined;
  node.raiseConditionEvent = (branch, renewEventId) => {
    receivers ??= eventReceivers(condition, source);
    if (receivers.some((r) => r.listenerCount('event') > 0)) return raise(branch, renewEventId);
    if (renewEventId) branch.renewEventId();
  };
}
