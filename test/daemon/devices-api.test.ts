import t from 'tap';
import { inferenceEvent, LABELS, runningGateway } from '../helpers/gateway-config.js';
import { mqttClient } from '../helpers/clients.js';
import { waitFor } from '../helpers/ports.js';

t.setTimeout(60_000);

t.test('GET /devices and /devices/<id> show status, latest result, model and alarms', async (t) => {
  const { ports } = await runningGateway(t, {
    opcua: { enabled: false },
    modbus: { enabled: false },
    devices: [
      { id: 'press-01', labels: LABELS, expectedPerMinute: 60 },
      { id: 'press-02', labels: LABELS },
    ],
  });
  const base = `http://127.0.0.1:${ports.http}`;
  const mqtt = await mqttClient(ports.mqtt);
  t.teardown(() => mqtt.endAsync());

  const before = (await (await fetch(`${base}/devices`)).json()) as { id: string; online: boolean; events: number }[];
  t.same(
    before.map((d) => [d.id, d.online, d.events]),
    [
      ['press-01', false, 0],
      ['press-02', false, 0],
    ],
    'configured devices are listed before they send',
  );

  for (const seq of [1, 2])
    await mqtt.publishAsync('tinyml/press-01/inference', JSON.stringify(inferenceEvent('press-01', 0.9, seq)), { qos: 1 });
  const one = await waitFor(async () => {
    const body = (await (await fetch(`${base}/devices/press-01`)).json()) as Record<string, unknown>;
    return (body.activeAlarms as string[]).length > 0 ? body : undefined;
  }, 'press-01 to show its alarm');
  t.match(one, {
    id: 'press-01',
    configured: true,
    online: true,
    label: 'bearing_wear',
    anomaly: 0.9,
    model: { name: 'motor-anomaly', version: '2.3.1', since: String },
    timing: { dspMs: 11.5, inferenceMs: 3.2 },
    seq: 2,
    lastEventAt: new Date(1_700_000_000_020).toISOString(),
    events: 2,
    activeAlarms: ['persist'],
    unackedAlarms: ['persist'],
    registry: 'configured',
    expectedPerMinute: 60,
    rateOk: false, // 2 events, not the 30 a minute that half of 60 needs
  });

  const missing = await fetch(`${base}/devices/nope`);
  t.equal(missing.status, 404);
  t.same(await missing.json(), { error: 'no device nope' });
});
