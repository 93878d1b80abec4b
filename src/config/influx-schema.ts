import { z } from 'zod';

const MIB = 1024 * 1024;
const INFLUX_DURATION = /^(INF|inf|(\d+(w|d|h|m|s))+)$/;

const bufferSchema = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .describe('Write-ahead buffer on disk: points survive crashes and outages; off keeps them in memory only (maxBufferedPoints)'),
    dir: z.string().min(1).default('influx-buffer').describe('Buffer directory, relative to gateway.dataDir'),
    maxBytes: z
      .number()
      .int()
      .min(4 * MIB)
      .default(1024 * MIB)
      .describe('Disk the buffer may use; then whenFull applies'),
    segmentBytes: z
      .number()
      .int()
      .min(64 * 1024)
      .max(1024 * MIB)
      .default(16 * MIB)
      .describe('Size of one segment file; sent segments are deleted whole'),
    whenFull: z
      .enum(['drop-oldest', 'refuse-newest'])
      .default('drop-oldest')
      .describe(
        'drop-oldest: delete the oldest segment; refuse-newest: keep the backlog, refuse new points (MQTT publishes get no PUBACK)',
      ),
    fsync: z
      .union([z.literal('batch'), z.number().int().min(1).max(10_000)])
      .default('batch')
      .describe(
        'fsync after every write of appended points (`batch`), or at most once per this many ms; MQTT acknowledges after the fsync',
      ),
  })
  .refine((b) => b.maxBytes >= 4 * b.segmentBytes, { message: 'maxBytes must be at least 4 × segmentBytes', path: ['maxBytes'] });

export const influxSchema = z
  .strictObject({
    enabled: z.boolean().default(false).describe('Write events, alarm transitions, derived events and gateway figures to InfluxDB 1.x'),
    url: z
      .url({ protocol: /^https?$/ })
      .default('http://127.0.0.1:8086')
      .describe('InfluxDB HTTP API (http or https)'),
    database: z.string().min(1).default('tinyml').describe('Database, created at start when missing and allowed'),
    username: z.string().min(1).optional().describe('InfluxDB user (auth-enabled servers); user:password@ in the url works too'),
    password: z.string().optional().describe('Password of that user'),
    tls: z
      .strictObject({
        caFile: z.string().min(1).optional().describe("PEM file of the CA that signed InfluxDB's certificate, relative to the config file"),
        rejectUnauthorized: z.boolean().default(true).describe('Refuse a certificate that does not verify (false only for tests)'),
      })
      .prefault({}),
    createDatabase: z.boolean().default(true).describe('Create the database and retention policy at start (needs an admin user)'),
    retentionPolicy: z
      .strictObject({
        name: z.string().min(1).describe('Retention policy the gateway writes into'),
        duration: z
          .string()
          .regex(INFLUX_DURATION, 'duration must be an InfluxQL duration such as 90d, 52w or INF')
          .describe('How long points are kept'),
        replication: z.number().int().min(1).default(1).describe('Replication factor (1 on a single server)'),
        default: z.boolean().default(false).describe("Make it the database's default policy"),
      })
      .optional()
      .describe("Created when missing; absent: the database's default policy"),
    batchSize: z.number().int().positive().max(50_000).default(5000).describe('Most points per write'),
    flushIntervalMs: z.number().int().positive().default(1000).describe('Longest a point waits for its batch to fill'),
    maxPointsPerSecond: z
      .number()
      .int()
      .positive()
      .default(100_000)
      .describe('Most points per second sent, so a recovering InfluxDB is not flooded by a backlog'),
    requestTimeoutMs: z.number().int().positive().default(5000).describe('A write with no answer by then fails and is retried'),
    retry: z
      .strictObject({
        initialMs: z.number().int().positive().default(500).describe('First wait after a failed write; doubles per failure, with jitter'),
        maxMs: z.number().int().positive().default(30_000).describe('Longest wait between retries'),
      })
      .prefault({}),
    statsIntervalMs: z
      .number()
      .int()
      .min(1000)
      .default(10_000)
      .describe('How often the gateway writes its own figures (measurement gateway)'),
    buffer: bufferSchema.prefault({}),
    maxBufferedPoints: z
      .number()
      .int()
      .positive()
      .default(1_000_000)
      .describe(
        'With buffer.enabled false: points held in memory while InfluxDB is unreachable; beyond it the oldest are dropped and counted',
      ),
  })
  .prefault({});

export type InfluxConfig = z.infer<typeof influxSchema>;
