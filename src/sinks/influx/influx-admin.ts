import { InfluxDB } from 'influx';
import type { Logger } from '../../core/logger.js';
import { credentials, type InfluxEndpoint } from './line-writer.js';

export interface RetentionPolicySettings {
  name: string;
  /** InfluxQL duration: 30d, 52w, INF. */
  duration: string;
  replication: number;
  default: boolean;
}

/** The `influx` client for queries and administration, with the sink's credentials and TLS settings. */
export function influxClient(e: Omit<InfluxEndpoint, 'retentionPolicy'>): InfluxDB {
  const url = new URL(e.url);
  const https = url.protocol === 'https:';
  const auth = credentials(e);
  return new InfluxDB({
    host: url.hostname,
    port: Number(url.port || (https ? 443 : 8086)),
    protocol: https ? 'https' : 'http',
    database: e.database,
    pool: { requestTimeout: e.timeoutMs, maxRetries: 0 },
    ...(https ? { options: { ca: e.ca, rejectUnauthorized: e.rejectUnauthorized } } : {}),
    ...(auth ?? {}),
  });
}

const status = (err: unknown): number | undefined => (err as { res?: { statusCode?: number } }).res?.statusCode;

/**
 * Creates the database and the retention policy when missing (and moves the policy's duration to
 * the configured one). A user without the admin right gets 403: then both are assumed to exist
 * and a write will tell. Other errors (InfluxDB away) propagate, to be retried.
 */
export async function prepareDatabase(
  client: InfluxDB,
  database: string,
  policy: RetentionPolicySettings | undefined,
  log: Logger,
): Promise<void> {
  try {
    const names = await client.getDatabaseNames();
    if (!names.includes(database)) {
      await client.createDatabase(database);
      log.info({ database }, 'InfluxDB database created');
    }
    if (!policy) return;
    const existing = (await client.showRetentionPolicies(database)).find((p) => p.name === policy.name);
    const options = { database, duration: policy.duration, replication: policy.replication, isDefault: policy.default };
    if (!existing) {
      await client.createRetentionPolicy(policy.name, options);
      log.info({ database, policy: policy.name, duration: policy.duration }, 'InfluxDB retention policy created');
    } else if (normalDuration(existing.duration) !== normalDuration(policy.duration)) {
      await client.alterRetentionPolicy(policy.name, options);
      log.info({ database, policy: policy.name, duration: policy.duration }, 'InfluxDB retention policy duration changed');
    }
  } catch (err) {
    if (status(err) !== 403) throw err;
    log.warn({ database, err: String(err) }, 'not allowed to create the database or retention policy; assuming they exist');
  }
}

/** InfluxDB shows 30d as 720h0m0s and INF as 0s: both sides in seconds. */
function normalDuration(d: string): number {
  if (/^inf$/i.test(d)) return 0;
  const units: Record<string, number> = { w: 604800, d: 86400, h: 3600, m: 60, s: 1, ms: 0.001, u: 1e-6, µ: 1e-6, ns: 1e-9 };
  let total = 0;
  for (const [, n, unit] of d.matchAll(/(\d+)(ms|ns|u|µ|w|d|h|m|s)/g)) total += Number(n) * (units[unit!] ?? 0);
  return total;
}
