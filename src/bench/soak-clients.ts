// The soak's outside world: MCUs that publish QoS 1 and remember what was acknowledged, and the
// two kinds of alarm consumers (an MQTT subscriber and an OPC UA client) that remember what reached them.
import { connect, type MqttClient } from 'mqtt';
import {
  AttributeIds,
  MessageSecurityMode,
  OPCUACertificateManager,
  OPCUAClient,
  SecurityPolicy,
  TimestampsToReturn,
  constructEventFilter,
  setWarningLogger,
  type ClientSession,
  type ClientSubscription,
  type Variant,
} from 'node-opcua';
import { HistoryReadRequest, ReadEventDetails, type HistoryReadResponse, type HistoryReadResult } from 'node-opcua-types';
import { join } from 'node:path';

/** One alarm transition as every side names it: device, rule, raised/cleared, its time. */
export const transitionKey = (device: string, rule: string, raised: boolean, ts: number): string =>
  `${device}|${rule}|${raised ? 'raised' : 'cleared'}|${ts}`;

/** Whether device `i` is anomalous at `ms` since the start: four devices cycle through 15 s of wear every 40 s. */
const anomalous = (i: number, ms: number): boolean => i < 4 && (ms + i * 10_000) % 40_000 < 15_000;

/**
 * MCUs publishing at QoS 1 with a persistent session, as firmware that must not lose results
 * does: unacknowledged messages are sent again after any reconnect. `acked` holds `device|seq`
 * of every event the broker acknowledged.
 */
export class McuFleet {
  readonly acked = new Set<string>();
  published = 0;
  private client?: MqttClient;
  private timer?: NodeJS.Timeout;
  private inFlight = 0;
  private readonly seqs: number[];
  private readonly t0 = Date.now();

  constructor(
    private readonly url: string,
    private readonly devices: number,
    private readonly rate: number,
    private readonly maxInFlight = 500,
  ) {
    this.seqs = Array.from({ length: devices }, () => 0);
  }

  static deviceId = (i: number): string => `mcu-${String(i).padStart(2, '0')}`;

  start(): void {
    this.client = connect(this.url, { clientId: 'soak-fleet', clean: false, reconnectPeriod: 200, connectTimeout: 2000 });
    this.client.on('error', () => undefined);
    let next = 0;
    let due = 0;
    const tickMs = 20;
    this.timer = setInterval(() => {
      due += (this.rate * tickMs) / 1000;
      while (due >= 1 && this.inFlight < this.maxInFlight) {
        due--;
        this.send(next++ % this.devices);
      }
    }, tickMs);
  }

  private send(i: number): void {
    const device = McuFleet.deviceId(i);
    const seq = ++this.seqs[i]!;
    const now = Date.now();
    const anomaly = anomalous(i, now - this.t0) ? 0.9 : 0.1;
    const payload = JSON.stringify({ device, ts: now, seq, model: { name: 'soak-model', version: '1.0.0' }, label: 'x', anomaly });
    this.inFlight++;
    this.published++;
    this.client!.publish(`tinyml/${device}/inference`, payload, { qos: 1 }, (err) => {
      this.inFlight--;
      if (!err) this.acked.add(`${device}|${seq}`);
    });
  }

  /** Stops publishing and waits until everything published was acknowledged. */
  async drain(timeoutMs: number): Promise<boolean> {
    clearInterval(this.timer);
    const end = Date.now() + timeoutMs;
    while (this.inFlight > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    return this.inFlight === 0;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.client?.endAsync(true);
  }
}

/** An MQTT subscriber of every alarm, QoS 1 with a persistent session: what a plant's alarm consumer gets. */
export class MqttAlarmWatch {
  readonly seen = new Set<string>();
  private client?: MqttClient;

  constructor(private readonly url: string) {}

  async start(): Promise<void> {
    const client = connect(this.url, { clientId: 'soak-alarms', clean: false, reconnectPeriod: 200 });
    this.client = client;
    client.on('error', () => undefined);
    client.on('message', (_topic, payload) => {
      const a = JSON.parse(payload.toString()) as { device: string; rule: string; state: string; ts: number };
      if (a.state === 'raised' || a.state === 'cleared') this.seen.add(transitionKey(a.device, a.rule, a.state === 'raised', a.ts));
    });
    await new Promise<void>((resolve) => client.once('connect', () => resolve()));
    await client.subscribeAsync('tinyml/+/alarm', { qos: 1 });
  }

  async stop(): Promise<void> {
    await this.client?.endAsync(true);
  }
}

const FIELDS = ['SourceName', 'ConditionName', 'ActiveState.Id', 'Time', 'EventType'];

/**
 * An OPC UA client subscribed to the alarm events of Objects/Devices, as a SCADA is: `reconnect`
 * drops the connection and comes back (a SCADA restart); `history` reads the event history of a
 * time span, which is how a client catches up on what happened while it was away.
 */
export class OpcuaAlarmWatch {
  readonly seen = new Set<string>();
  private client?: OPCUAClient;
  private session?: ClientSession;
  private subscription?: ClientSubscription;
  private ns = 0;

  constructor(
    private readonly port: number,
    private readonly pkiDir: string,
  ) {
    // The client library prints its notes (operational limits the server does not publish) as plain text.
    setWarningLogger(() => undefined);
  }

  async start(): Promise<void> {
    const client = OPCUAClient.create({
      endpointMustExist: false,
      securityMode: MessageSecurityMode.None,
      securityPolicy: SecurityPolicy.None,
      clientCertificateManager: new OPCUACertificateManager({
        rootFolder: join(this.pkiDir, 'client-pki'),
        automaticallyAcceptUnknownCertificate: true,
      }),
      connectionStrategy: { maxRetry: 1_000_000, initialDelay: 200, maxDelay: 2000 },
      keepSessionAlive: true,
    });
    this.client = client;
    await client.connect(`opc.tcp://127.0.0.1:${this.port}/UA/TinyMLGateway`);
    const session = await client.createSession();
    this.session = session;
    this.ns = (await session.readNamespaceArray()).indexOf('urn:tinyml-gateway');
    const subscription = await session.createSubscription2({
      requestedPublishingInterval: 100,
      requestedMaxKeepAliveCount: 20,
      requestedLifetimeCount: 600,
      publishingEnabled: true,
    });
    this.subscription = subscription;
    const item = await subscription.monitor(
      { nodeId: `ns=${this.ns};s=Devices`, attributeId: AttributeIds.EventNotifier },
      { samplingInterval: 0, queueSize: 10_000, discardOldest: false, filter: constructEventFilter(FIELDS) },
      TimestampsToReturn.Neither,
    );
    item.on('changed', (values: Variant[]) => this.note(values.map((v) => v.value as unknown)));
  }

  private note([device, rule, active, time]: unknown[]): void {
    if (typeof device !== 'string' || typeof rule !== 'string' || !(time instanceof Date)) return;
    this.seen.add(transitionKey(device, rule, active === true, time.getTime()));
  }

  async reconnect(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** The alarm events of Objects/Devices between `from` and `to` from the server's history: keys of every transition. */
  async history(from: number, to: number): Promise<Set<string>> {
    const found = new Set<string>();
    if (!this.session) return found;
    let continuationPoint: Buffer | null = null;
    do {
      const response: HistoryReadResponse = await this.session.historyRead(
        new HistoryReadRequest({
          historyReadDetails: new ReadEventDetails({
            startTime: new Date(from),
            endTime: new Date(to),
            numValuesPerNode: 1000,
            filter: constructEventFilter(FIELDS),
          }),
          timestampsToReturn: TimestampsToReturn.Source,
          nodesToRead: [{ nodeId: `ns=${this.ns};s=Devices`, ...(continuationPoint ? { continuationPoint } : {}) }],
        }),
      );
      const result: HistoryReadResult | undefined = response.results?.[0];
      const events = (result?.historyData as unknown as { events?: { eventFields?: Variant[] | null }[] | null } | null)?.events ?? [];
      for (const e of events) {
        const [device, rule, active, time] = (e.eventFields ?? []).map((v) => v.value as unknown);
        if (typeof device === 'string' && typeof rule === 'string' && time instanceof Date)
          found.add(transitionKey(device, rule, active === true, time.getTime()));
      }
      continuationPoint = result?.continuationPoint && result.continuationPoint.length > 0 ? result.continuationPoint : null;
    } while (continuationPoint);
    return found;
  }

  async stop(): Promise<void> {
    await this.subscription?.terminate().catch(() => undefined);
    await this.session?.close().catch(() => undefined);
    await this.client?.disconnect().catch(() => undefined);
    this.subscription = undefined;
    this.session = undefined;
  }
}
