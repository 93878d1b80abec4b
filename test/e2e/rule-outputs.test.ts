import t from 'tap';
import { startInfluxd } from '../helpers/influxd.js';
import { runningGateway, inferenceEvent } from '../helpers/gateway-config.js';
import { waitFor } from '../helpers/ports.js';
import { modbusClient, modbusExceptionOf, mqttClient } from '../helpers/clients.js';

t.setTimeout(120_000);

t.test(
  'rule outputs reach the plant: alarm actions on a Modbus coil and an MQTT topic, derived events on MQTT and in InfluxDB',
  async (t) => {
    const influx = await startInfluxd();
    t.teardown(() => influx.stop());
    const { ports } = await runningGateway(t, {
      opcua: { enabled: false },
      influx: { enabled: true, url: influx.url, database: 'outputs', flushIntervalMs: 100, batchSize: 100 },
      rules: [
        {
          id: 'persist',
          pipeline: [{ persistence: { atLeast: 0.7, n: 2, m: 3, clearAfter: 2 } }],
          outputs: {
            alarm: { severity: 800 },
            actions: [{ modbusCoil: 5 }, { on: 'any', mqtt: { topic: 'plant/{device}/stop', payload: '{rule} {state} {value:2}' } }],
          },
        },
        {
          id: 'pairs',
          pipeline: [{ window: { type: 'count', count: 2, aggregates: ['avg', 'max'] } }],
          outputs: { derived: { name: 'avg-of-2' } },
        },
      ],
    });
    const modbus = await modbusClient(ports.modbus);
    t.teardown(() => new Promise<void>((r) => modbus.close(() => r())));
    const watcher = await mqttClient(ports.mqtt);
    t.teardown(() => watcher.endAsync());
    const seen: string[] = [];
    watcher.on('message', (topic, payload) => seen.push(`${topic} ${payload.toString()}`));
    await watcher.subscribeAsync(['plant/#', 'tinyml/+/derived'], { qos: 1 });
    const mqtt = await mqttClient(ports.mqtt);
    t.teardown(() => mqtt.endAsync());
    const publish = (anomaly: number, seq: number) =>
      mqtt.publishAsync('tinyml/press-01/inference', JSON.stringify(inferenceEvent('press-01', anomaly, seq)), { qos: 1 });

    t.same((await modbus.readCoils(5, 1)).data[0], false, 'the action coil starts off');
    t.equal(await modbusExceptionOf(modbus.readCoils(40, 1)), 2, 'a coil outside the device blocks that no rule drives is exception 02');
    await publish(0.9, 1);
    await publish(0.95, 2);
    await waitFor(async () => ((await modbus.readCoils(5, 1)).data[0] ? true : undefined), 'coil 5 on while the alarm is raised');
    await publish(0.1, 3);
    await publish(0.2, 4);
    await waitFor(async () => ((await modbus.readCoils(5, 1)).data[0] ? undefined : true), 'coil 5 off once cleared');

    await waitFor(() => seen.length >= 4 || undefined, 'actions and derived events on MQTT');
    t.same(
      seen.filter((s) => s.startsWith('plant/')),
      ['plant/press-01/stop persist raised 0.95', 'plant/press-01/stop persist cleared 0.20'],
    );
    const derived = seen
      .filter((s) => s.startsWith('tinyml/'))
      .map((s) => JSON.parse(s.split(' ').slice(1).join(' ')) as { name: string; fields: object });
    t.match(derived, [
      { name: 'avg-of-2', fields: { avg: 0.925, max: 0.95, 'window.count': 2 } },
      { name: 'avg-of-2', fields: { avg: 0.15000000000000002, max: 0.2 } },
    ]);

    const rows = await waitFor(async () => {
      // The sink creates the database with its first write; until then the query fails.
      const r = await influx.query('outputs', `SELECT "avg", "max", "state" FROM derived WHERE rule = 'pairs'`).catch(() => []);
      return r.length === 2 ? r : undefined;
    }, 'two derived points in InfluxDB');
    t.same(
      rows.map((r) => [r.avg, r.max, r.state]),
      [
        [0.925, 0.95, 'event'],
        [0.15000000000000002, 0.2, 'event'],
      ],
    );
  },
);
