import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { InfluxConfig } from '../../config/influx-schema.js';
import type { InfluxSinkOptions } from './influx-sink.js';

/** The sink's options from the `influx:` settings: buffer dir under the data dir, the CA read from its file. */
export function influxSinkOptions(c: InfluxConfig, dataDir: string): InfluxSinkOptions {
  let ca: string | undefined;
  if (c.tls.caFile) {
    try {
      ca = readFileSync(c.tls.caFile, 'utf8');
    } catch (err) {
      throw new Error(`influx.tls.caFile: cannot read ${c.tls.caFile}: ${(err as Error).message}`);
    }
  }
  const b = c.buffer;
  return {
    url: c.url,
    database: c.database,
    ...(c.username === undefined ? {} : { username: c.username }),
    ...(c.password === undefined ? {} : { password: c.password }),
    ...(ca === undefined ? {} : { ca }),
    rejectUnauthorized: c.tls.rejectUnauthorized,
    timeoutMs: c.requestTimeoutMs,
    createDatabase: c.createDatabase,
    ...(c.retentionPolicy ? { retentionPolicy: c.retentionPolicy } : {}),
    batchSize: c.batchSize,
    flushIntervalMs: c.flushIntervalMs,
    maxPointsPerSecond: c.maxPointsPerSecond,
    retry: c.retry,
    buffer: b.enabled
      ? {
          enabled: true,
          dir: isAbsolute(b.dir) ? b.dir : join(dataDir, b.dir),
          maxBytes: b.maxBytes,
          segmentBytes: b.segmentBytes,
          whenFull: b.whenFull,
          fsync: b.fsync,
        }
      : { enabled: false, maxPoints: c.maxBufferedPoints },
  };
}
