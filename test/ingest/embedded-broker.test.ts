import t from 'tap';
import { connect } from 'node:net';
import { EmbeddedBroker } from '../../src/ingest/mqtt/embedded-broker.js';
import { silentLogger } from '../../src/core/logger.js';
import { systemClock } from '../../src/core/clock.js';
import type { RawFrame } from '../../src/normalise/decode-mqtt.js';
import { freePort } from '../helpers/ports.js';
import { mqttClient } from '../helpers/clients.js';

t.setTimeout(30_000);

async function broker(t: { teardown(fn: () => unknown): void }) {
  const port = await freePort();
  const b = new EmbeddedBroker({ host: '127.0.0.1', port, id: 'test' }, systemClock, silentLogger());
  await b.start();
  t.teardown(() => b.stop());
  return { b, port };
}

t.test('a QoS 1 publish is acknowledged only after the frame was taken', async (t) => {
  const { b, port } = await broker(t);
  const frames: RawFrame[] = [];
  const sub = b.frames$.subscribe((f) => frames.push(f));
  t.teardown(() => sub.unsubscribe());
  const client = await mqttClient(port);
  t.teardown(() => client.endAsync(true));
  await client.publishAsync('tinyml/d1/inference', '{"x":1}', { qos: 1 });
  t.equal(frames.length, 1, 'the frame was in hand when the PUBACK arrived');
  t.equal(frames[0]?.payload.toString(), '{"x":1}');
  await client.publishAsync('tinyml/d1/other', 'ignored', { qos: 1 });
  t.equal(frames.length, 1, 'other topics pass through the broker untouched');
  let second: unknown;
  b.frames$.subscribe({ error: (err: unknown) => (second = err) });
  t.match(String(second), /one pipeline/, 'a second consumer is refused');
});

t.test('while nothing takes events, a publish is refused: no PUBACK, so the MCU keeps it', async (t) => {
  const { port } = await broker(t);
  const client = await mqttClient(port);
  t.teardown(() => client.endAsync(true));
  const outcome = await Promise.race([
    client.publishAsync('tinyml/d1/inference', '{}', { qos: 1 }).then(() => 'acked'),
    new Promise((r) => client.once('close', () => r('disconnected'))),
    new Promise((r) => setTimeout(() => r('no answer'), 2000)),
  ]);
  t.not(outcome, 'acked');
});

t.test('stop does not wait for a connection that never sent CONNECT', async (t) => {
  const port = await freePort();
  const b = new EmbeddedBroker({ host: '127.0.0.1', port, id: 'test' }, systemClock, silentLogger());
  await b.start();
  const idle = connect(port, '127.0.0.1');
  await new Promise((r) => idle.once('connect', r));
  const started = Date.now();
  await b.stop();
  t.ok(Date.now() - started < 1000, `stopped in ${Date.now() - started} ms`);
  t.equal(idle.destroyed || idle.readableEnded || (await new Promise((r) => idle.once('close', () => r(true)))), true);
});
