import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Subject } from 'rxjs';
import { InfluxSink, type InfluxSinkOptions } from '../../src/sinks/influx/influx-sink.js';
import { InfluxHistory } from '../../src/sinks/influx/influx-history.js';
import { secret, testLogger } from '../helpers/test-log.js';
import type { InferenceEvent } from '../../src/normalise/inference-event.js';
import { startInfluxd } from '../helpers/influxd.js';
import { waitFor } from '../helpers/ports.js';
import { tempDir } from '../helpers/temp-dir.js';

t.setTimeout(120_000);

// Recent: InfluxDB refuses points older than the retention policy keeps.
const T0 = Date.now() - 3_600_000;
const admin = { username: 'admin', password: secret('pa ss:w@rd') };

/** A self-signed certificate for 127.0.0.1: its own CA. */
function certificate(dir: string): { certificate: string; privateKey: string } {
  const [certificate, privateKey] = [join(dir, 'cert.pem'), join(dir, 'key.pem')];
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', privateKey, '-out', certificate, '-days', '2'].concat([
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ]),
    { stdio: 'ignore' },
  );
  return { certificate, privateKey };
}

function sink(t: Test, options: Partial<InfluxSinkOptions> & { url: string }) {
  const events = new Subject<InferenceEvent>();
  const counts = { written: 0, dropped: 0, retries: 0 };
  const full: InfluxSinkOptions = {
    database: 'secure',
    rejectUnauthorized: true,
    timeoutMs: 2000,
    createDatabase: true,
    batchSize: 100,
    flushIntervalMs: 50,
    maxPointsPerSecond: 100_000,
    retry: { initialMs: 50, maxMs: 200 },
    buffer: {
      enabled: true,
      dir: tempDir(t, 'auth-'),
      maxBytes: 16 * 1024 * 1024,
      segmentBytes: 1024 * 1024,
      whenFull: 'drop-oldest',
      fsync: 'batch',
    },
    ...options,
  };
  const s = new InfluxSink(
    full,
    { events$: events, alarms$: new Subject() },
    {
      written: (n) => (counts.written += n),
      dropped: (n) => (counts.dropped += n),
      retried: () => counts.retries++,
      writeSeconds: () => undefined,
    },
    testLogger(),
  );
  t.teardown(() => s.stop(0));
  const send = (n: number): void => {
    for (let seq = 0; seq < n; seq++)
      events.next({ device: 'd1', ts: T0 + seq, seq, model: { name: 'm', version: '1' }, anomaly: seq / n });
  };
  return { sink: s, counts, send, options: full };
}

t.test('HTTPS with a private CA, username and password, a retention policy; history reads it back', async (t) => {
  const dir = tempDir(t, 'influx-tls-');
  const tls = certificate(dir);
  const influx = await startInfluxd({ admin, https: tls });
  t.teardown(() => influx.stop());
  t.match(influx.url, /^https:/);

  const wrong = sink(t, { url: influx.url, ca: readFileSync(tls.certificate, 'utf8'), username: 'admin', password: 'nope' });
  await wrong.sink.start();
  wrong.send(10);
  await waitFor(() => wrong.sink.problem(), 'the wrong password to be noticed');
  t.match(wrong.sink.problem(), /401|authorization failed/i);
  t.equal(wrong.sink.status().state, 'buffering');
  t.equal(wrong.counts.dropped, 0, 'wrong credentials keep the points, they do not drop them');

  const unverified = sink(t, { url: influx.url, ...admin });
  await unverified.sink.start();
  unverified.send(1);
  await waitFor(() => unverified.sink.problem(), 'the unknown CA to be refused');
  t.match(unverified.sink.problem(), /certificate/i, 'a certificate that does not verify is refused');

  const retentionPolicy = { name: 'tinyml_30d', duration: '30d', replication: 1, default: false };
  const good = sink(t, { url: influx.url, ca: readFileSync(tls.certificate, 'utf8'), ...admin, retentionPolicy });
  await good.sink.start();
  good.send(50);
  await waitFor(() => good.counts.written === 50 || undefined, 'the points written over HTTPS with auth').catch((err: Error) => {
    throw new Error(`${err.message}: ${good.sink.problem()}`);
  });
  const policies = await influx.query('secure', 'SHOW RETENTION POLICIES ON secure');
  t.match(
    policies.find((p) => p.name === 'tinyml_30d'),
    { duration: '720h0m0s' },
    'the retention policy was created',
  );
  const [count] = await influx.query('secure', 'SELECT count(seq) AS n FROM tinyml_30d.inference');
  t.equal(count?.n, 50, 'written into that policy');

  const history = new InfluxHistory(good.options);
  const values = await history.values('d1', 'anomaly', { from: T0 + 10, to: T0 + 19, limit: 0, newestFirst: false });
  t.same(
    values.map((v) => v.ts),
    Array.from({ length: 10 }, (_, i) => T0 + 10 + i),
    'history reads the policy over HTTPS with auth, inclusive bounds',
  );
});
