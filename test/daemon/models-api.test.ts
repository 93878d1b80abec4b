import t from 'tap';
import { inferenceEvent, LABELS, runningGateway } from '../helpers/gateway-config.js';
import { mqttClient } from '../helpers/clients.js';
import { waitFor } from '../helpers/ports.js';

t.setTimeout(60_000);

t.test('model inventory: GET /models, and an alarm while a group runs mixed versions too long', async (t) => {
  const { gateway, ports } = await runningGateway(t, {
    opcua: { enabled: false },
    modbus: { enabled: false },
    inventory: { mixedVersionsAfter: 300, checkEvery: 50, severity: 250 },
    devices: [
      { id: 'press-01', labels: LABELS, group: 'line-1' },
      { id: 'press-02', labels: LABELS, group: 'line-1' },
    ],
  });
  const mqtt = await mqttClient(ports.mqtt);
  t.teardown(() => mqtt.endAsync());
  const send = (device: string, seq: number, version: string) =>
    mqtt.publishAsync(
      `tinyml/${device}/inference`,
      JSON.stringify(inferenceEvent(device, 0.1, seq, { model: { name: 'motor-anomaly', version } })),
      {
        qos: 1,
      },
    );
  await send('press-01', 1, '2.3.1');
  await send('press-02', 1, '2.3.1');
  await send('press-01', 2, '2.4.0'); // the roll-out reaches press-01 first
  const base = `http://127.0.0.1:${ports.http}`;
  const fleet = (await (await fetch(`${base}/models`)).json()) as Record<string, unknown>;
  t.match(fleet, {
    models: [
      {
        name: 'motor-anomaly',
        versions: [
          { version: '2.3.1', devices: 1 },
          { version: '2.4.0', devices: 1 },
        ],
      },
    ],
    groups: [{ group: 'line-1', model: 'motor-anomaly', versions: { '2.3.1': 1, '2.4.0': 1 } }],
  });
  t.match(await (await fetch(`${base}/models?device=press-01`)).json(), {
    device: 'press-01',
    versions: [
      { version: '2.3.1', events: 1 },
      { version: '2.4.0', events: 1 },
    ],
  });

  const alarm = await waitFor(
    () => gateway.alarms.list('press-02').find((a) => a.rule === 'model-versions-mixed'),
    'the mixed-version alarm',
  );
  t.match(alarm, { active: true, severity: 250, message: 'press-02 runs 2.3.1; group line-1 runs 2.4.0 too' });
  t.equal(gateway.alarms.list('press-01').length, 0, 'not on the device that is up to date');
  await send('press-02', 2, '2.4.0');
  await waitFor(
    () => gateway.alarms.list('press-02').find((a) => a.rule === 'model-versions-mixed' && !a.active),
    'cleared once it caught up',
  );
});
