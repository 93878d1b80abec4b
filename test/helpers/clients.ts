import { join } from 'node:path';
import modbusSerial from 'modbus-serial';
import { connectAsync, type MqttClient } from 'mqtt';
import {
  AttributeIds,
  MessageSecurityMode,
  OPCUACertificateManager,
  OPCUAClient,
  SecurityPolicy,
  TimestampsToReturn,
  type ClientSession,
  type DataValue,
} from 'node-opcua';

/** A node-opcua client over a real socket, with its PKI in `pkiDir` (not under $HOME). */
export async function opcuaSession(port: number, pkiDir: string): Promise<{ session: ClientSession; ns: number; close(): Promise<void> }> {
  const client = OPCUAClient.create({
    endpointMustExist: false,
    securityMode: MessageSecurityMode.None,
    securityPolicy: SecurityPolicy.None,
    clientCertificateManager: new OPCUACertificateManager({
      rootFolder: join(pkiDir, 'client-pki'),
      automaticallyAcceptUnknownCertificate: true,
    }),
    connectionStrategy: { maxRetry: 3, initialDelay: 200, maxDelay: 1000 },
  });
  await client.connect(`opc.tcp://127.0.0.1:${port}/UA/TinyMLGateway`);
  const session = await client.createSession();
  const ns = (await session.readNamespaceArray()).indexOf('urn:tinyml-gateway');
  return {
    session,
    ns,
    close: async () => {
      await session.close();
      await client.disconnect();
    },
  };
}

export async function readValue(session: ClientSession, nodeId: string): Promise<unknown> {
  const dv = await session.read({ nodeId, attributeId: AttributeIds.Value });
  return dv.value.value;
}

/** Subscribes to one variable at 50 ms and collects every notified value. */
export async function monitorValues(session: ClientSession, nodeId: string): Promise<{ values: unknown[]; stop(): Promise<void> }> {
  const subscription = await session.createSubscription2({
    requestedPublishingInterval: 50,
    requestedMaxKeepAliveCount: 20,
    requestedLifetimeCount: 200,
    publishingEnabled: true,
  });
  const item = await subscription.monitor(
    { nodeId, attributeId: AttributeIds.Value },
    { samplingInterval: 0, queueSize: 100, discardOldest: true },
    TimestampsToReturn.Both,
  );
  const values: unknown[] = [];
  item.on('changed', (dv: DataValue) => values.push(dv.value.value));
  return { values, stop: () => subscription.terminate() };
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
