import t from 'tap';
import { secretHash } from '../helpers/test-log.js';
import { inferenceEvent, runningGateway } from '../helpers/gateway-config.js';
import type { Gateway } from '../../src/daemon/gateway.js';

t.setTimeout(60_000);

const MODEL = { name: 'motor-anomaly', version: '2.3.1' };

async function post(
  port: number,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`http://127.0.0.1:${port}/ingest`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

async function refused(gateway: Gateway): Promise<Record<string, number>> {
  const m = await gateway.metrics.registry.getSingleMetric('tinyml_gateway_http_ingest_refused_total')?.get();
  return Object.fromEntries((m?.values ?? []).map((v) => [String(v.labels.reason), v.value]));
}

t.test('POST /ingest: events, batches, Edge Impulse JSON, tokens, rogue nodes, limits', async (t) => {
  const { gateway, ports } = await runningGateway(t, {
    opcua: { enabled: false },
    modbus: { enabled: false },
    http: { ingest: { maxBodyBytes: 4096, perDevice: { perSecond: 0.01, burst: 4 } } },
    devices: [
      { id: 'press-01', labels: ['normal', 'bearing_wear'] },
      { id: 'esp-01', credentials: { httpTokenHash: await secretHash('tok-esp-01') } },
      { id: 'esp-02', credentials: { httpTokenHash: await secretHash('tok-esp-02') } },
    ],
  });
  const state = gateway.state;
  const http = ports.http;

  t.same(await post(http, inferenceEvent('press-01', 0.2, 1)).then((r) => [r.status, r.body]), [200, { accepted: 1 }], 'one event');
  t.equal(state.get('press-01')?.seq, 1);
  const batch = [2, 3].map((seq) => inferenceEvent('press-01', 0.3, seq));
  t.same((await post(http, batch)).body, { accepted: 2 }, 'a batch');
  t.equal(state.get('press-01')?.seq, 3);

  // Edge Impulse's JSON; device and model from headers, the token names the device too.
  const ei = await post(
    http,
    { classification: { idle: 0.1, wave: 0.9 }, anomaly: -0.4, timing: { dsp: 4, classification: 2, anomaly: 0 } },
    { authorization: 'Bearer tok-esp-01', 'x-model-name': 'gestures', 'x-model-version': '5' },
  );
  t.same([ei.status, ei.body], [200, { accepted: 1 }]);
  t.match(state.get('esp-01'), {
    label: 'wave',
    scores: { idle: 0.1, wave: 0.9 },
    anomaly: 0,
    model: { name: 'gestures', version: '5' },
    dspMs: 4,
  });
  const wrapped = await post(
    http,
    { device: 'esp-02', model: MODEL, result: { classification: { a: 0.7, b: 0.3 }, anomaly: 0.25 } },
    { authorization: 'bearer tok-esp-02' },
  );
  t.equal(wrapped.status, 200, 'the runner’s {result: …} shape');
  t.match(state.get('esp-02'), { label: 'a', anomaly: 0.25 });

  // What is refused, and why.
  const bad = await post(http, [inferenceEvent('press-01', 0.5, 4), { ...inferenceEvent('press-01', 0.5, 5), anomaly: -1 }]);
  t.same([bad.status, bad.body], [400, { error: 'events[1].anomaly: Too small: expected number to be >=0' }], 'the first schema problem');
  t.equal(state.get('press-01')?.seq, 3, 'a batch is taken whole or not at all');
  t.match(await post(http, '{"device":'), { status: 400, body: { error: /^body is not JSON/ } });
  t.match(await post(http, []), { status: 400, body: { error: 'a batch holds 1 to 1000 events' } });
  const big = await post(http, { ...inferenceEvent('press-01', 0.1, 6), pad: 'x'.repeat(5000) });
  t.same([big.status, big.body], [413, { error: 'body too large' }]);

  const wrongToken = await post(http, inferenceEvent('esp-01', 0.1, 1), { authorization: 'Bearer nope' });
  t.same([wrongToken.status, wrongToken.headers.get('www-authenticate')], [401, 'Bearer error="invalid_token"']);
  const rogue = await post(http, inferenceEvent('esp-02', 0.1, 9), { authorization: 'Bearer tok-esp-01' });
  t.same([rogue.status, rogue.body], [403, { error: 'the token of esp-01 may not post events of esp-02' }], 'a device posting as another');
  const noToken = await post(http, inferenceEvent('esp-01', 0.1, 9));
  t.same([noToken.status, noToken.body], [403, { error: 'esp-01 posts with its token' }], 'a protected device without its token');
  t.equal(state.get('esp-02')?.seq, undefined, 'nothing of the rogue event arrived');

  // press-01 has used 3 of its burst of 4.
  t.equal((await post(http, inferenceEvent('press-01', 0.1, 7))).status, 200);
  const limited = await post(http, inferenceEvent('press-01', 0.1, 8));
  t.equal(limited.status, 429, 'over the rate');
  t.ok(Number(limited.headers.get('retry-after')) >= 50, 'Retry-After: when one more event fits (one per 100 s)');
  t.same(await refused(gateway), { schema: 2, bad_json: 1, oversize: 1, unauthorized: 1, forbidden: 2, rate_limited: 1 });
});

t.test('POST /ingest with requireToken: no token, no entry', async (t) => {
  const { ports } = await runningGateway(t, {
    opcua: { enabled: false },
    modbus: { enabled: false },
    http: { ingest: { requireToken: true } },
  });
  const res = await post(ports.http, inferenceEvent('press-01', 0.1, 1));
  t.same([res.status, res.body, res.headers.get('www-authenticate')], [401, { error: 'a device token is required' }, 'Bearer']);
});

t.test('POST /ingest switched off is not a route', async (t) => {
  const { ports } = await runningGateway(t, {
    opcua: { enabled: false },
    modbus: { enabled: false },
    http: { ingest: { enabled: false } },
  });
  t.equal((await post(ports.http, inferenceEvent('press-01', 0.1, 1))).status, 404);
});
