import { createHash } from 'node:crypto';
import {
  AccessLevelFlag,
  AttributeIds,
  HistoryData,
  ReadRawModifiedDetails,
  DataType,
  DataValue,
  HistoryReadResult,
  NodeId,
  ReadEventDetails,
  StatusCodes,
  Variant,
  type ISessionContext,
  type SimpleAttributeOperand,
  type UAObject,
  type UAVariable,
} from './ua.js';
// node-opcua re-exports these structures as types only; their classes live here.
import { HistoryEvent, HistoryEventFieldList } from './ua.js';
import { retained, type AlarmEvent } from '../../core/alarm.js';
import type { Logger } from '../../core/logger.js';
import type { HistoryField, HistoryQuery, HistorySource, HistoryValue } from '../../state/history.js';
import type { AlarmKind } from './alarm-conditions.js';
import { conditionNodeId } from './alarm-conditions.js';

/** EventNotifier of an object with events and event history: SubscribeToEvents | HistoryRead. */
export const EVENTS_WITH_HISTORY = 0x01 | 0x04;

/** The DateTime OPC UA sends for "not specified". */
const unspecified = (d: Date | null | undefined): boolean => !d || d.getTime() <= Date.UTC(1601, 0, 1);

/** The device variables with history, and the field each is kept as. */
export const HISTORIZED: Readonly<Record<string, HistoryField>> = { AnomalyScore: 'anomaly', Confidence: 'confidence', Label: 'label' };

interface ContinuationData {
  continuationPoint?: Buffer | null;
  releaseContinuationPoints?: boolean;
}

/**
 * One page of a history read, for values and events alike. The time domain follows Part 11
 * (start and end in either order, or one of them with a count); a continuation point is the
 * offset of the next page, so the server holds nothing for a client that never comes back.
 */
async function readPage<T>(
  details: { startTime: Date | null; endTime: Date | null; numValuesPerNode: number },
  continuationData: ContinuationData,
  fetch: (q: HistoryQuery) => Promise<T[]>,
  wrap: (page: T[]) => HistoryData | HistoryEvent,
): Promise<HistoryReadResult> {
  if (continuationData.releaseContinuationPoints) return new HistoryReadResult({ statusCode: StatusCodes.Good });
  const start = unspecified(details.startTime) ? undefined : details.startTime!.getTime();
  const end = unspecified(details.endTime) ? undefined : details.endTime!.getTime();
  const limit = details.numValuesPerNode;
  if (start === undefined && (end === undefined || limit === 0))
    return new HistoryReadResult({ statusCode: StatusCodes.BadInvalidTimestampArgument });
  const backwards = start === undefined || (end !== undefined && end < start);
  const offset = offsetOf(continuationData.continuationPoint);
  const rows = await fetch({
    ...(start === undefined ? {} : { from: end !== undefined && end < start ? end : start }),
    ...(end === undefined ? {} : { to: start !== undefined && end < start ? start : end }),
    // One row more than asked tells whether a continuation is needed.
    limit: limit > 0 ? limit + 1 : 0,
    offset,
    newestFirst: backwards,
  });
  const page = limit > 0 ? rows.slice(0, limit) : rows;
  return new HistoryReadResult({
    statusCode: page.length === 0 ? StatusCodes.GoodNoData : StatusCodes.Good,
    historyData: wrap(page),
    ...(limit > 0 && rows.length > limit ? { continuationPoint: continuation(offset + limit) } : {}),
  });
}

type HistoryCallback = (err: Error | null, result?: HistoryReadResult) => void;

/**
 * Makes `variable` historized: HistoryRead with raw details returns its past values from `source`
 * (InfluxDB or the in-memory ring), stamped with event time. node-opcua's own historian is not
 * used: it adds a dozen `HA Configuration` nodes to every variable, most of a device's memory.
 */
export function installValueHistory(variable: UAVariable, device: string, field: HistoryField, source: HistorySource, log: Logger): void {
  const dataType = field === 'label' ? DataType.String : DataType.Double;
  const node = variable as unknown as {
    historizing: boolean;
    accessLevel: number;
    userAccessLevel?: number;
    _historyRead: (c: ISessionContext, d: unknown, i: unknown, e: unknown, cd: ContinuationData, cb: HistoryCallback) => void;
  };
  node.historizing = true;
  node.accessLevel |= AccessLevelFlag.HistoryRead;
  if (node.userAccessLevel !== undefined) node.userAccessLevel |= AccessLevelFlag.HistoryRead;
  node._historyRead = (_context, details, _indexRange, _encoding, continuationData, callback) => {
    if (!(details instanceof ReadRawModifiedDetails) || details.isReadModified) {
      callback(null, new HistoryReadResult({ statusCode: StatusCodes.BadHistoryOperationUnsupported }));
      return;
    }
    const values = (page: HistoryValue[]) =>
      new HistoryData({
        dataValues: page.map(
          (r) =>
            new DataValue({
              value: new Variant({ dataType, value: r.value }),
              sourceTimestamp: new Date(r.ts),
              serverTimestamp: new Date(r.ts),
              statusCode: StatusCodes.Good,
            }),
        ),
      });
    readPage(details, continuationData, (q) => source.values(device, field, q), values).then(
      (result) => callback(null, result),
      (err: unknown) => {
        log.warn({ device, field, err: String(err) }, 'OPC UA HistoryRead failed');
        callback(null, new HistoryReadResult({ statusCode: StatusCodes.BadHistoryOperationInvalid }));
      },
    );
  };
}

type EventFieldReader = (e: AlarmEvent) => Variant;

const text = (t: string | undefined): Variant =>
  new Variant({ dataType: DataType.LocalizedText, value: t === undefined ? null : { text: t } });
const bool = (b: boolean): Variant => new Variant({ dataType: DataType.Boolean, value: b });
const twoState = (get: (e: AlarmEvent) => boolean, yes: string, no: string): [EventFieldReader, EventFieldReader] => [
  (e) => text(get(e) ? yes : no),
  (e) => bool(get(e)),
];

/**
 * Reads a past alarm event's fields by browse path. Only what the gateway keeps of an alarm is
 * there; any other field reads as null.
 */
function eventFields(
  ns: number,
  kindOf: (rule: string) => AlarmKind,
  typeId: (kind: AlarmKind) => NodeId,
): Record<string, EventFieldReader> {
  const [active, activeId] = twoState((e) => e.active, 'Active', 'Inactive');
  const [acked, ackedId] = twoState((e) => e.acked, 'Acknowledged', 'Unacknowledged');
  const [confirmed, confirmedId] = twoState((e) => e.confirmed, 'Confirmed', 'Unconfirmed');
  const time = (e: AlarmEvent) => new Variant({ dataType: DataType.DateTime, value: new Date(e.ts) });
  return {
    EventId: (e) =>
      new Variant({
        dataType: DataType.ByteString,
        value: createHash('sha1').update(`${e.device}\0${e.rule}\0${e.ts}\0${e.state}`).digest(),
      }),
    EventType: (e) => new Variant({ dataType: DataType.NodeId, value: typeId(kindOf(e.rule)) }),
    SourceNode: (e) => new Variant({ dataType: DataType.NodeId, value: NodeId.resolveNodeId(`ns=${ns};s=Devices/${e.device}`) }),
    SourceName: (e) => new Variant({ dataType: DataType.String, value: e.device }),
    Time: time,
    ReceiveTime: time,
    Message: (e) => text(e.message),
    Severity: (e) => new Variant({ dataType: DataType.UInt16, value: e.severity }),
    ConditionName: (e) => new Variant({ dataType: DataType.String, value: e.rule }),
    ConditionId: (e) =>
      new Variant({ dataType: DataType.NodeId, value: NodeId.resolveNodeId(`ns=${ns};${conditionNodeId(e.device, e.rule)}`) }),
    Retain: (e) => bool(retained(e)),
    ActiveState: active,
    'ActiveState/Id': activeId,
    AckedState: acked,
    'AckedState/Id': ackedId,
    ConfirmedState: confirmed,
    'ConfirmedState/Id': confirmedId,
    Comment: (e) => text(e.comment),
    ClientUserId: (e) => new Variant({ dataType: DataType.String, value: e.by ?? null }),
    Quality: () => new Variant({ dataType: DataType.StatusCode, value: StatusCodes.Good }),
  };
}

function fieldKey(operand: SimpleAttributeOperand): string {
  // The ConditionId is the condition node's NodeId attribute, selected with an empty browse path.
  if (operand.attributeId === AttributeIds.NodeId && (operand.browsePath ?? []).length === 0) return 'ConditionId';
  return (operand.browsePath ?? []).map((q) => q.name).join('/');
}

/** A continuation point of ours: where the next page starts. Stateless, so nothing is held for a client that never comes back. */
const continuation = (offset: number): Buffer => Buffer.from(JSON.stringify({ offset }));
const offsetOf = (point: Buffer | null | undefined): number => {
  if (!point || point.length === 0) return 0;
  const offset = (JSON.parse(point.toString()) as { offset?: unknown }).offset;
  return typeof offset === 'number' && offset >= 0 ? offset : 0;
};

/**
 * Gives `object` (a device, or Devices for every device; created with EVENTS_WITH_HISTORY) event history: HistoryRead with
 * ReadEventDetails returns its past alarm events, fields chosen by the request's select clauses.
 */
export function installEventHistory(
  object: UAObject,
  device: string | undefined,
  source: HistorySource,
  kindOf: (rule: string) => AlarmKind,
  log: Logger,
): void {
  const addressSpace = object.addressSpace;
  const ns = object.nodeId.namespace;
  const typeId = (kind: AlarmKind): NodeId => addressSpace.findEventType(kind.type)?.nodeId ?? NodeId.nullNodeId;
  const readers = eventFields(ns, kindOf, typeId);
  const historyRead = async (
    _context: ISessionContext,
    details: unknown,
    _indexRange: unknown,
    _dataEncoding: unknown,
    continuationData: ContinuationData,
  ): Promise<HistoryReadResult> => {
    if (!(details instanceof ReadEventDetails)) return new HistoryReadResult({ statusCode: StatusCodes.BadHistoryOperationUnsupported });
    const select = details.filter?.selectClauses ?? [];
    const events = (page: AlarmEvent[]) =>
      new HistoryEvent({
        events: page.map(
          (e) =>
            new HistoryEventFieldList({
              eventFields: select.map((s) => readers[fieldKey(s)]?.(e) ?? new Variant({ dataType: DataType.Null })),
            }),
        ),
      });
    try {
      return await readPage(details, continuationData, (q) => source.alarms(device, q), events);
    } catch (err) {
      log.warn({ device, err: String(err) }, 'OPC UA event HistoryRead failed');
      return new HistoryReadResult({ statusCode: StatusCodes.BadHistoryOperationInvalid });
    }
  };
  (object as unknown as { historyRead: typeof historyRead }).historyRead = historyRead;
}
