import t from 'tap';
import { inferenceEvent, runningGateway } from '../helpers/gateway-config.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { mqttClient } from '../helpers/clients.js';
import { startInfluxd } from '../helpers/influxd.js';

t.setTimeout(120_000);

t.test('InfluxDB unreachable: health 503 names the sink, points wait, and arrive once it is back', async (t) => {
  const influxPort = await freePort();
  const { gateway, ports } = await runningGateway(t, {
    opcua: { enabled: false },
    influx: { enabled: true, url: `http://127.0.0.1:${influxPort}`, database: 'outage', flushIntervalMs: 100 },
  });
  t.ok(gateway.influx, 'starting without InfluxDB is allowed');

  const mqtt = await mqttClient(ports.mqtt);
  t.teardown(() => mqtt.endAsync());
  for (let seq = 1; seq <= 20; seq++) {
    await mqtt.publishAsync('tinyml/press-01/inference', JSON.stringify(inferenceEvent('press-01', 0.1, seq)), { qos: 1 });
  }
  const report = await waitFor(async () => {
    const res = await fetch(`http://127.0.0.1:${ports.http}/health`);
    const body = (await res.json()) as { failing: string[]; parts: Record<string, { problem?: string; bufferedPoints?: number }> };
    return res.status === 503 && body.parts.influx?.bufferedPoints === 20 ? body : undefined;
  }, '503 from /health with the points buffered');
  t.same(report.failing, ['influx']);
  t.match(report.parts.influx, { ok: false, problem: /write failing/, state: 'buffering', buffer: 'disk', bufferedPoints: 20 });
  t.equal(gateway.influx?.pending(), 20, 'points held while InfluxDB is down');
  const metrics = await (await fetch(`http://127.0.0.1:${ports.http}/metrics`)).text();
  t.match(metrics, /tinyml_gateway_sink_buffered_points\{sink="influx"\} 20/);
  t.match(metrics, /tinyml_gateway_sink_state\{sink="influx",state="buffering"\} 1/);
  t.match(metrics, /tinyml_gateway_sink_buffered_bytes\{sink="influx"\} [1-9]/);
  t.match(metrics, /tinyml_gateway_sink_oldest_point_age_seconds\{sink="influx"\} [1-9]/, 'the events are from 2023: old');
  t.match(metrics, /tinyml_gateway_sink_retries_total\{sink="influx"\} [1-9]/);

  const influx = await startInfluxd({ httpPort: influxPort });
  t.teardown(() => influx.stop());
  await waitFor(() => gateway.influx?.pending() === 0, 'backlog drained', 60_000, 200);
  const rows = await influx.query('outage', 'SELECT seq FROM inference');
  t.same(
    rows.map((r) => r.seq),
    Array.from({ length: 20 }, (_, i) => i + 1),
    'every point, in order, once',
  );
  t.equal((await fetch(`http://127.0.0.1:${ports.http}/health`)).status, 200);
  const after = await (await fetch(`http://127.0.0.1:${ports.http}/metrics`)).text();
  t.match(after, /tinyml_gateway_sink_state\{sink="influx",state="connected"\} 1/);
  t.match(after, /tinyml_gateway_sink_write_seconds_count\{sink="influx"\} [1-9]/);
});

t.test('unknown routes are 404; health lists every part', async (t) => {
  const { ports } = await runningGateway(t, { opcua: { enabled: false }, modbus: { enabled: false } });
  const res = await fetch(`http://127.0.0.1:${ports.http}/nope`);
  t.equal(res.status, 404);
  const health = (await (await fetch(`http://127.0.0.1:${ports.http}/health`)).json()) as { parts: object };
  t.same(Object.keys(health.parts), ['state', 'checkpoint', 'cep', 'inventory', 'history', 'mqtt-out', 'intake', 'mqtt', 'http', 'rules']);
});
