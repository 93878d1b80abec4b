import t from 'tap';
import { StatusCodes, DataType, coerceNodeId, type NodeId } from 'node-opcua';
import { ConfigError } from '../../src/core/errors.js';
import { configSchema } from '../../src/config/schema.js';
import { Gateway } from '../../src/daemon/gateway.js';
import { testLogger } from '../helpers/test-log.js';
import { inferenceEvent, runningGateway } from '../helpers/gateway-config.js';
import { waitFor } from '../helpers/ports.js';
import {
  conditionState,
  modbusClient,
  mqttClient,
  nodeAt,
  opcuaSession,
  readValue,
  watchEvents,
  type UaEvent,
} from '../helpers/clients.js';

t.setTimeout(120_000);

const RULES = [
  {
    id: 'persist',
    pipeline: [{ persistence: { field: 'anomaly', atLeast: 0.7, n: 2, m: 3, clearAfter: 2 } }],
    outputs: { alarm: { severity: 800 } },
  },
  {
    id: 'hot',
    pipeline: [{ threshold: { field: 'anomaly', above: 0.95, clearBelow: 0.5 } }],
    outputs: { alarm: { severity: 900, message: '{device}: anomaly {anomaly:2}' } },
  },
];

const latest = (events: UaEvent[], rule: string, device = 'press-01'): UaEvent | undefined =>
  events.filter((e) => e.ConditionName === rule && e.SourceName === device).at(-1);

/** Alarm bits of press-01 and press-02 (discrete inputs 0 and 16), then their unacknowledged bits (1 and 17). */
async function alarmBits(modbus: Awaited<ReturnType<typeof modbusClient>>): Promise<boolean[]> {
  const d = (await modbus.readDiscreteInputs(0, 18)).data;
  return [d[0]!, d[16]!, d[1]!, d[17]!];
}

t.test('alarms are OPC UA conditions: events, acknowledge and confirm from a client, reflected in REST, MQTT and Modbus', async (t) => {
  let reloads = 0;
  const { gateway, config, ports, raw } = await runningGateway(
    t,
    { rules: RULES },
    {},
    {
      readConfig: () => {
        if (reloads++ === 0) return configSchema.parse({ ...raw, rules: [RULES[0], { ...RULES[1], id: 'hotter' }] });
        throw new ConfigError('gateway.yaml', [{ path: 'rules.0.id', message: 'Required', line: 3, column: 5 }]);
      },
    },
  );
  const opc = await opcuaSession(ports.opcua, config.gateway.dataDir);
  t.teardown(() => opc.close());
  const watch = await watchEvents(opc.session);
  const mqtt = await mqttClient(ports.mqtt);
  t.teardown(() => mqtt.endAsync());
  const alarmMessages: { state: string; rule: string; acked: boolean; by?: string }[] = [];
  await mqtt.subscribeAsync('tinyml/+/alarm', { qos: 1 });
  mqtt.on('message', (_topic, payload) => alarmMessages.push(JSON.parse(payload.toString()) as (typeof alarmMessages)[number]));
  const modbus = await modbusClient(ports.modbus);
  t.teardown(() => new Promise<void>((r) => modbus.close(() => r())));
  const api = (path: string, body?: unknown) =>
    fetch(`http://127.0.0.1:${ports.http}${path}`, body === undefined ? {} : { method: 'POST', body: JSON.stringify(body) });

  for (const [seq, anomaly] of [
    [1, 0.9],
    [2, 0.99],
  ] as const) {
    await mqtt.publishAsync('tinyml/press-01/inference', JSON.stringify(inferenceEvent('press-01', anomaly, seq)), { qos: 1 });
  }
  const raised = await waitFor(() => latest(watch.events, 'persist'), 'persist condition event');
  await waitFor(() => latest(watch.events, 'hot'), 'hot condition event');
  t.match(raised, {
    SourceName: 'press-01',
    Severity: 800,
    Retain: true,
    'ActiveState.Id': true,
    'AckedState.Id': false,
    'ConfirmedState.Id': false,
  });
  t.match(raised.Message, /anomaly ≥ 0.7/);
  const hot = latest(watch.events, 'hot')!;
  t.equal((hot.EventType as NodeId).toString(), coerceNodeId('i=9341').toString(), 'a threshold rule is an ExclusiveLimitAlarmType');
  t.equal(
    await readValue(opc.session, await nodeAt(opc.session, opc.ns, ['Devices', 'press-01', 'hot', '0:HighLimit'])),
    0.95,
    'its HighLimit',
  );
  t.equal(
    await readValue(opc.session, await conditionState(opc, 'press-01', 'hot', 'LimitState/CurrentState')).then(
      (v) => (v as { text: string }).text,
    ),
    'High',
  );
  t.same(await alarmBits(modbus), [true, false, true, false], 'Modbus: press-01 has active and unacknowledged alarms');

  // Acknowledge from the OPC UA client: the book, REST, MQTT see it.
  const conditionId = raised.ConditionId as NodeId;
  t.equal((await opc.session.acknowledgeCondition(conditionId, raised.EventId as Buffer, 'seen on the HMI')).name, 'Good');
  await waitFor(() => gateway.alarms.get('press-01', 'persist')?.acked, 'acknowledged in the book');
  const listed = (await (await api('/alarms?device=press-01')).json()) as { rule: string; acked: boolean; by?: string; comment?: string }[];
  t.match(
    listed.find((a) => a.rule === 'persist'),
    { acked: true, by: 'opcua', comment: 'seen on the HMI' },
    'REST shows the acknowledgement',
  );
  await waitFor(() => alarmMessages.find((m) => m.state === 'acknowledged' && m.rule === 'persist'), 'MQTT alarm topic: acknowledged');
  const acked = await waitFor(
    () => (latest(watch.events, 'persist')?.['AckedState.Id'] === true ? latest(watch.events, 'persist') : undefined),
    'acked event',
  );
  t.equal(
    (await opc.session.acknowledgeCondition(conditionId, acked.EventId as Buffer, 'again')).name,
    'BadConditionBranchAlreadyAcked',
    'a second acknowledge is refused',
  );

  // Acknowledge over REST: the OPC UA condition follows; then nothing is left unacknowledged on Modbus.
  const restAck = await api('/alarms/acknowledge', { device: 'press-01', rule: 'hot', comment: 'from the MES' });
  t.equal(restAck.status, 200);
  const hotAcked = await waitFor(
    () => (latest(watch.events, 'hot')?.['AckedState.Id'] === true ? latest(watch.events, 'hot') : undefined),
    'hot acked over OPC UA',
  );
  t.match(hotAcked.Comment, 'from the MES');
  t.equal((await api('/alarms/acknowledge', { device: 'press-01', rule: 'hot' })).status, 409, 'REST: already acknowledged is 409');
  t.equal((await api('/alarms/confirm', { device: 'press-09', rule: 'hot' })).status, 404, 'REST: unknown alarm is 404');
  t.equal((await modbus.readDiscreteInputs(1, 1)).data[0], false, 'Modbus: no unacknowledged alarm on press-01');

  // Confirm from the client; the alarm is still active, so it stays retained.
  t.equal((await opc.session.confirmCondition(conditionId, acked.EventId as Buffer, 'checked')).name, 'Good');
  await waitFor(() => gateway.alarms.get('press-01', 'persist')?.confirmed, 'confirmed in the book');
  t.equal(await readValue(opc.session, await conditionState(opc, 'press-01', 'persist', 'ConfirmedState/Id')), true);
  await waitFor(
    () => latest(watch.events, 'persist')?.Retain === true && latest(watch.events, 'persist')?.['ConfirmedState.Id'],
    'still retained',
  );

  // A client connecting later gets every retained condition from ConditionRefresh.
  const late = await opcuaSession(ports.opcua, config.gateway.dataDir);
  t.teardown(() => late.close());
  const lateWatch = await watchEvents(late.session);
  await lateWatch.refresh();
  await waitFor(() => latest(lateWatch.events, 'persist') && latest(lateWatch.events, 'hot'), 'refreshed conditions');
  t.match(latest(lateWatch.events, 'persist'), { 'ActiveState.Id': true, 'AckedState.Id': true, 'ConfirmedState.Id': true, Retain: true });

  // Methods.
  const call = (objectId: string, methodId: string, inputArguments: { dataType: DataType; value: unknown }[] = []) =>
    opc.session.call({ objectId: `ns=${opc.ns};s=${objectId}`, methodId: `ns=${opc.ns};s=${objectId}/${methodId}`, inputArguments });
  await mqtt.publishAsync('tinyml/press-02/inference', JSON.stringify(inferenceEvent('press-02', 0.99, 1)), { qos: 1 });
  await waitFor(() => gateway.alarms.get('press-02', 'hot'), 'press-02 alarm');
  const press02 = await waitFor(() => latest(watch.events, 'hot', 'press-02'), 'press-02 condition event');
  t.equal(
    (await opc.session.confirmCondition(press02.ConditionId as NodeId, press02.EventId as Buffer, 'too early')).name,
    'BadInvalidState',
    'Confirm before Acknowledge is refused',
  );
  const ackAll = await call('Gateway', 'AcknowledgeAll', [{ dataType: DataType.String, value: 'press-02' }]);
  t.equal(ackAll.statusCode.name, 'Good');
  t.equal(ackAll.outputArguments?.[0]?.value, 1, 'AcknowledgeAll acknowledged one alarm');
  t.equal(gateway.alarms.get('press-02', 'hot')?.acked, true);
  const reset = await call('Devices/press-01', 'ResetAlarms');
  t.equal(reset.outputArguments?.[0]?.value, 2, 'ResetAlarms ended both alarms of press-01');
  t.same(gateway.alarms.list('press-01'), [], 'nothing retained for press-01');
  await waitFor(() => latest(watch.events, 'hot')?.Retain === false, 'the condition is no longer retained');
  t.equal(gateway.state.get('press-01')?.alarms.size, 0);

  const reload = await call('Gateway', 'ReloadRules');
  t.equal(reload.statusCode.name, 'Good');
  t.same(
    reload.outputArguments?.map((a) => a.value as string[]),
    [['persist'], ['hotter'], ['hot']],
    'ReloadRules reports kept, restarted and removed rules',
  );
  t.equal(gateway.alarms.get('press-02', 'hot')?.active, false, 'an alarm of a removed rule is cleared');
  const bad = await call('Gateway', 'ReloadRules');
  t.equal(
    bad.statusCode.name,
    StatusCodes.BadConfigurationError.name,
    'a wrong config file is BadConfigurationError, and the server goes on',
  );
  t.equal((await call('Gateway', 'AcknowledgeAll', [{ dataType: DataType.String, value: 'nobody' }])).outputArguments?.[0]?.value, 0);
});

t.test('retained alarms survive a restart of the gateway', async (t) => {
  const { gateway, config, ports } = await runningGateway(t, { rules: RULES });
  const mqtt = await mqttClient(ports.mqtt);
  for (const [seq, anomaly] of [
    [1, 0.9],
    [2, 0.9],
  ] as const) {
    await mqtt.publishAsync('tinyml/press-01/inference', JSON.stringify(inferenceEvent('press-01', anomaly, seq)), { qos: 1 });
  }
  await mqtt.endAsync();
  await waitFor(() => gateway.alarms.get('press-01', 'persist'), 'raised');
  gateway.alarms.acknowledge('press-01', 'persist', 'test', 'before the restart');
  await gateway.stop();

  const again = new Gateway(config, { log: testLogger(), env: {} });
  await again.start();
  t.teardown(() => again.stop());
  t.match(again.alarms.get('press-01', 'persist'), { active: true, acked: true, confirmed: false, comment: 'before the restart' });
  t.equal(again.state.get('press-01')?.alarms.size, 1, 'the restored alarm is active in state');
  const opc = await opcuaSession(ports.opcua, config.gateway.dataDir);
  t.teardown(() => opc.close());
  const watch = await watchEvents(opc.session);
  await watch.refresh();
  const e = await waitFor(() => latest(watch.events, 'persist'), 'restored condition');
  t.match(e, { 'ActiveState.Id': true, 'AckedState.Id': true, 'ConfirmedState.Id': false, Retain: true, Severity: 800 });
  const modbus = await modbusClient(ports.modbus);
  t.teardown(() => new Promise<void>((r) => modbus.close(() => r())));
  t.same(await alarmBits(modbus), [true, false, false, false]);
});
