import t from 'tap';
import { inferenceEvent, runningGateway } from '../helpers/gateway-config.js';
import { mqttClient } from '../helpers/clients.js';
import { waitFor } from '../helpers/ports.js';

t.setTimeout(60_000);

const RULES = `rules:
  - id: persist
    pipeline:
      - persistence: { field: anomaly, atLeast: 0.7, n: 2, m: 3, clearAfter: 2 }
    outputs:
      alarm: { severity: 900, message: 'new text for {device}' }
  - id: hot
    pipeline:
      - threshold: { field: anomaly, above: 0.95, clearBelow: 0.5 }
    outputs:
      derived: {}
`;

t.test('POST /rules swaps rules in a running gateway, keeping the state of a rule whose shape is unchanged', async (t) => {
  const { gateway, ports } = await runningGateway(t, { opcua: { enabled: false }, modbus: { enabled: false } });
  const base = `http://127.0.0.1:${ports.http}`;
  const mqtt = await mqttClient(ports.mqtt);
  t.teardown(() => mqtt.endAsync());
  const publish = (anomaly: number, seq: number) =>
    mqtt.publishAsync('tinyml/press-01/inference', JSON.stringify(inferenceEvent('press-01', anomaly, seq)), { qos: 1 });

  await publish(0.9, 1);
  const swap = await fetch(`${base}/rules`, { method: 'POST', body: RULES });
  t.equal(swap.status, 200);
  t.same(await swap.json(), { kept: ['persist'], restarted: ['hot'], removed: [] });
  await publish(0.9, 2);
  // The hit before the swap still counts: 2 of 3 raise now, with the new message.
  await waitFor(() => gateway.state.get('press-01')?.alarms.get('persist') ?? undefined, 'the persist alarm');
  t.equal(gateway.state.get('press-01')?.alarms.get('persist')?.message, 'new text for press-01');

  const status = (await (await fetch(`${base}/rules`)).json()) as { id: string; eventsIn: number; state: string }[];
  t.match(status, [
    { id: 'persist', eventsIn: 2, state: 'running' },
    { id: 'hot', eventsIn: 1, state: 'running' },
  ]);
});

t.test('a bad rule body is refused with its line; the running rules stay', async (t) => {
  const { gateway, ports } = await runningGateway(t, { opcua: { enabled: false }, modbus: { enabled: false } });
  const bad = RULES.replace('atLeast: 0.7', 'atLeast: 0.7, window: 5 mins').replace('field: anomaly, above', 'field: anomally, above');
  const res = await fetch(`http://127.0.0.1:${ports.http}/rules`, { method: 'POST', body: bad });
  t.equal(res.status, 400);
  const { errors } = (await res.json()) as { errors: string[] };
  t.match(errors, [
    /^body:4:\d+: rules\.0\.pipeline\.0\.persistence\.window: unknown key/,
    /^body:9:\d+: rules\.1\.pipeline\.0\.threshold\.field: no field 'anomally'/,
  ]);
  t.same(
    gateway.engine.status().map((r) => r.id),
    ['persist'],
  );
});

t.test('http.rulesApi: off refuses POST /rules', async (t) => {
  const { ports } = await runningGateway(t, { opcua: { enabled: false }, modbus: { enabled: false }, http: { rulesApi: 'off' } });
  const res = await fetch(`http://127.0.0.1:${ports.http}/rules`, { method: 'POST', body: RULES });
  t.equal(res.status, 403);
});
