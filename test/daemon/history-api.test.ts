import t from 'tap';
import { inferenceEvent, runningGateway } from '../helpers/gateway-config.js';
import { mqttClient } from '../helpers/clients.js';
import { startInfluxd } from '../helpers/influxd.js';
import { waitFor } from '../helpers/ports.js';

t.setTimeout(120_000);

const T0 = 1_700_000_000_000;

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

for (const store of ['memory ring', 'InfluxDB'] as const) {
  t.test(`GET /history reads the ${store}`, async (t) => {
    let extra: Record<string, unknown> = { opcua: { enabled: false } };
    let influx: Awaited<ReturnType<typeof startInfluxd>> | undefined;
    if (store === 'InfluxDB') {
      influx = await startInfluxd();
      t.teardown(() => influx!.stop());
      extra = { ...extra, influx: { enabled: true, url: influx.url, database: 'hist', flushIntervalMs: 50, statsIntervalMs: 1000 } };
    }
    const { gateway, ports } = await runningGateway(t, extra);
    const mqtt = await mqttClient(ports.mqtt);
    t.teardown(() => mqtt.endAsync());
    for (let seq = 0; seq < 10; seq++) {
      await mqtt.publishAsync('tinyml/press-01/inference', JSON.stringify(inferenceEvent('press-01', seq / 10, seq)), { qos: 1 });
    }
    if (gateway.influx) await waitFor(() => gateway.influx?.pending() === 0 || undefined, 'points written');
    const base = `http://127.0.0.1:${ports.http}/history`;

    // inferenceEvent spaces events 10 ms apart: seq 2..5 are 20..50 ms after T0, bounds inclusive.
    const from = new Date(T0 + 20).toISOString();
    const range = await getJson(`${base}?device=press-01&from=${from}&to=${T0 + 50}`);
    t.equal(range.status, 200);
    t.same(
      (range.body.values as { value: number; ts: number }[]).map((v) => [v.ts - T0, v.value]),
      [
        [20, 0.2],
        [30, 0.3],
        [40, 0.4],
        [50, 0.5],
      ],
    );
    const labels = await getJson(`${base}?device=press-01&field=label&limit=2&order=desc`);
    t.same(
      (labels.body.values as { value: string }[]).map((v) => v.value),
      ['bearing_wear', 'bearing_wear'],
      'newest first, limited',
    );
    const alarms = await getJson(`${base}?field=alarms`);
    t.equal(alarms.status, 200);
    t.ok(
      (alarms.body.alarms as { rule: string }[]).some((a) => a.rule === 'persist'),
      'the raised alarm is in the history',
    );

    t.match(await getJson(`${base}?from=x`), { status: 400, body: { error: /device is required/ } });
    t.match(await getJson(`${base}?device=press-01&from=yesterday`), { status: 400, body: { error: /from must be/ } });
    t.match(await getJson(`${base}?device=press-01&field=rpm`), { status: 400, body: { error: /field must be one of/ } });
    t.match(await getJson(`${base}?device=press-01&limit=0`), { status: 400, body: { error: /limit/ } });

    if (influx) {
      const server = influx;
      const stats = await waitFor(
        async () => (await server.query('hist', 'SELECT * FROM gateway').catch(() => []))[0],
        'the gateway measurement',
      );
      t.match(stats, { gateway: 'gw-test', events_accepted: 10, events_rejected: 0 }, 'the gateway writes its own figures');
      await server.halt();
      t.match(await getJson(`${base}?device=press-01`), { status: 503, body: { error: /history unavailable/ } });
      await server.restart();
    }
  });
}
