import { join } from 'node:path';
import modbusSerial from 'modbus-serial';
import { connectAsync, type MqttClient } from 'mqtt';
import {
  AttributeIds,
  BrowseDirection,
  MessageSecurityMode,
  OPCUACertificateManager,
  OPCUAClient,
  SecurityPolicy,
  TimestampsToReturn,
  UserTokenType,
  makeBrowsePath,
  constructEventFilter,
  DataType,
  type Variant,
  type ClientSession,
  type ClientSubscription,
  type DataValue,
} from 'node-opcua';
import { HistoryReadRequest, ReadEventDetails, ReadRawModifiedDetails } from 'node-opcua-types';

export interface OpcuaClientOptions {
  mode?: keyof typeof MessageSecurityMode;
  policy?: keyof typeof SecurityPolicy;
  user?: { userName: string; password: string };
  /** Connection attempts before giving up (a rejected client should fail fast). */
  maxRetry?: number;
}

/** A node-opcua client over a real socket, with its PKI in `pkiDir` (not under $HOME); None and anonymous unless told. */
export async function opcuaSession(
  port: number,
  pkiDir: string,
  options: OpcuaClientOptions = {},
): Promise<{ session: ClientSession; client: OPCUAClient; ns: number; close(): Promise<void> }> {
  const client = OPCUAClient.create({
    endpointMustExist: false,
    securityMode: MessageSecurityMode[options.mode ?? 'None'],
    securityPolicy: SecurityPolicy[options.policy ?? 'None'],
    clientCertificateManager: new OPCUACertificateManager({
      rootFolder: join(pkiDir, 'client-pki'),
      automaticallyAcceptUnknownCertificate: true,
    }),
    connectionStrategy: { maxRetry: options.maxRetry ?? 3, initialDelay: 200, maxDelay: 1000 },
  });
  try {
    await client.connect(`opc.tcp://127.0.0.1:${port}/UA/TinyMLGateway`);
    const session = await client.createSession(options.user ? { type: UserTokenType.UserName, ...options.user } : undefined);
    const ns = (await session.readNamespaceArray()).indexOf('urn:tinyml-gateway');
    return {
      session,
      client,
      ns,
      close: async () => {
        await session.close();
        await client.disconnect();
      },
    };
  } catch (err) {
    await client.disconnect();
    throw err;
  }
}

/** Browse names of what `nodeId` organizes (Organizes only: HasEventSource would name each device twice). */
export async function organized(session: ClientSession, nodeId: string): Promise<string[]> {
  const r = await session.browse({
    nodeId,
    referenceTypeId: 'Organizes',
    includeSubtypes: true,
    browseDirection: BrowseDirection.Forward,
    resultMask: 63,
  });
  return (r.references ?? []).map((ref) => ref.browseName.name ?? '');
}

/**
 * The node id at a browse path from Objects: plain segments are in our namespace, `0:Name`
 * segments are standard ones (e.g. `['Devices', 'press-01', 'persist', '0:ActiveState', '0:Id']`).
 */
export async function nodeAt(session: ClientSession, ns: number, path: string[]): Promise<string> {
  const bnf = path.map((p) => `/${p.includes(':') ? p : `${ns}:${p}`}`).join('');
  const result = await session.translateBrowsePath(makeBrowsePath('ObjectsFolder', bnf));
  const target = result.targets?.[0];
  if (!target) throw new Error(`no node at Objects${bnf}: ${result.statusCode.toString()}`);
  return target.targetId.toString();
}

/** A state variable of the condition of `rule` on `device`, e.g. `ActiveState/Id`. */
export function conditionState(opc: { session: ClientSession; ns: number }, device: string, rule: string, state: string): Promise<string> {
  return nodeAt(opc.session, opc.ns, ['Devices', device, rule, ...state.split('/').map((s) => `0:${s}`)]);
}

export async function readValue(session: ClientSession, nodeId: string): Promise<unknown> {
  const dv = await session.read({ nodeId, attributeId: AttributeIds.Value });
  return dv.value.value;
}

/** A subscription publishing every 50 ms: fast enough for tests to wait on. */
export function fastSubscription(session: ClientSession): Promise<ClientSubscription> {
  return session.createSubscription2({
    requestedPublishingInterval: 50,
    requestedMaxKeepAliveCount: 20,
    requestedLifetimeCount: 200,
    publishingEnabled: true,
  });
}

/** Subscribes to one variable at 50 ms and collects every notified value. */
export async function monitorValues(session: ClientSession, nodeId: string): Promise<{ values: unknown[]; stop(): Promise<void> }> {
  const subscription = await fastSubscription(session);
  const item = await subscription.monitor(
    { nodeId, attributeId: AttributeIds.Value },
    { samplingInterval: 0, queueSize: 100, discardOldest: true },
    TimestampsToReturn.Both,
  );
  const values: unknown[] = [];
  item.on('changed', (dv: DataValue) => values.push(dv.value.value));
  return { values, stop: () => subscription.terminate() };
}

export const EVENT_FIELDS = [
  'EventId',
  'EventType',
  'SourceName',
  'ConditionId',
  'ConditionName',
  'Severity',
  'Message',
  'Retain',
  'ActiveState.Id',
  'AckedState.Id',
  'ConfirmedState.Id',
  'Comment',
] as const;
export type UaEvent = Record<(typeof EVENT_FIELDS)[number], unknown>;

/** Subscribes to the events of `nodeId` (the Server object: every event) and collects them; `refresh` calls ConditionRefresh. */
export async function watchEvents(
  session: ClientSession,
  nodeId = 'i=2253',
): Promise<{ events: UaEvent[]; refresh(): Promise<void>; stop(): Promise<void> }> {
  const subscription = await fastSubscription(session);
  const item = await subscription.monitor(
    { nodeId, attributeId: AttributeIds.EventNotifier },
    { samplingInterval: 0, queueSize: 1000, discardOldest: false, filter: constructEventFilter([...EVENT_FIELDS]) },
    TimestampsToReturn.Neither,
  );
  const events: UaEvent[] = [];
  item.on('changed', (values: Variant[]) => {
    const e = Object.fromEntries(EVENT_FIELDS.map((f, i) => [f, values[i]?.value as unknown])) as UaEvent;
    const text = (v: unknown): unknown => (v && typeof v === 'object' && 'text' in v ? (v as { text: unknown }).text : v);
    e.Message = text(e.Message);
    e.Comment = text(e.Comment);
    events.push(e);
  });
  return {
    events,
    refresh: async () => {
      // ConditionType.ConditionRefresh(SubscriptionId)
      const r = await session.call({
        objectId: 'i=2782',
        methodId: 'i=3875',
        inputArguments: [{ dataType: DataType.UInt32, value: subscription.subscriptionId }],
      });
      if (!r.statusCode.isGood()) throw new Error(`ConditionRefresh: ${r.statusCode.toString()}`);
    },
    stop: () => subscription.terminate(),
  };
}

// modbus-serial is CommonJS with `module.exports.default = module.exports`: `.default` is the class either way.
const ModbusRTU = modbusSerial.default;
type ModbusClient = InstanceType<typeof ModbusRTU>;

export async function modbusClient(port: number, unitId = 1): Promise<ModbusClient> {
  const client = new ModbusRTU();
  await client.connectTCP('127.0.0.1', { port });
  client.setID(unitId);
  client.setTimeout(2000);
  return client;
}

export async function mqttClient(port: number): Promise<MqttClient> {
  return connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: `test-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 0 });
}

/** The Modbus exception code a request was answered with, or undefined when it succeeded. */
export async function modbusExceptionOf(request: Promise<unknown>): Promise<number | undefined> {
  try {
    await request;
    return undefined;
  } catch (err) {
    return (err as { modbusCode?: number }).modbusCode;
  }
}

/** One HistoryRead page: raw values (with `fields` absent) or events with those select fields. */
export async function historyPage(
  session: ClientSession,
  nodeId: string,
  q: { start?: number; end?: number; n?: number; continuationPoint?: Buffer | null; fields?: string[] },
): Promise<{
  status: string;
  values: { value: unknown; ts: number }[];
  events: Record<string, unknown>[];
  continuationPoint: Buffer | null;
}> {
  const time = (ms: number | undefined) => (ms === undefined ? null : new Date(ms));
  const details = q.fields
    ? new ReadEventDetails({
        startTime: time(q.start),
        endTime: time(q.end),
        numValuesPerNode: q.n ?? 0,
        filter: constructEventFilter(q.fields),
      })
    : new ReadRawModifiedDetails({ startTime: time(q.start), endTime: time(q.end), numValuesPerNode: q.n ?? 0, isReadModified: false });
  const response = await session.historyRead(
    new HistoryReadRequest({
      historyReadDetails: details,
      timestampsToReturn: TimestampsToReturn.Source,
      nodesToRead: [{ nodeId, ...(q.continuationPoint ? { continuationPoint: q.continuationPoint } : {}) }],
    }),
  );
  const result = response.results?.[0];
  if (!result) throw new Error('HistoryRead: no result');
  const data = result.historyData as unknown as {
    dataValues?: DataValue[] | null;
    events?: { eventFields?: Variant[] | null }[] | null;
  } | null;
  const fields = q.fields ?? [];
  return {
    status: result.statusCode.name,
    values: (data?.dataValues ?? []).map((dv) => ({ value: dv.value.value as unknown, ts: dv.sourceTimestamp?.getTime() ?? 0 })),
    events: (data?.events ?? []).map((e) => Object.fromEntries(fields.map((f, i) => [f, e.eventFields?.[i]?.value as unknown]))),
    continuationPoint: result.continuationPoint ?? null,
  };
}

/** One POST /ingest: the whole batch is taken in one turn of the gateway's event loop. */
export async function postEvents(port: number, events: Record<string, unknown>[]): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${port}/ingest`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(events),
  });
  if (res.status !== 200) throw new Error(`POST /ingest: ${res.status} ${await res.text()}`);
}
