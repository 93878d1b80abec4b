import { escape, type InfluxDB } from 'influx';
import type { AlarmEvent, AlarmEventState } from '../../core/alarm.js';
import { MAX_HISTORY_ROWS, type HistoryField, type HistoryQuery, type HistorySource, type HistoryValue } from '../../state/history.js';
import { influxClient } from './influx-admin.js';
import type { InfluxEndpoint } from './line-writer.js';

interface Row {
  time: { getNanoTime(): string } & Date;
  [field: string]: unknown;
}

/** History read back from what the InfluxDB sink wrote (measurements `inference` and `alarm`). */
export class InfluxHistory implements HistorySource {
  private readonly client: InfluxDB;
  /** A measurement as the FROM clause names it: in the sink's retention policy when it has one. */
  private readonly from: (measurement: string) => string;

  constructor(endpoint: Omit<InfluxEndpoint, 'retentionPolicy'> & { retentionPolicy?: { name: string } }) {
    this.client = influxClient(endpoint);
    this.from = endpoint.retentionPolicy ? (m) => `${escape.quoted(endpoint.retentionPolicy!.name)}.${m}` : (m) => m;
  }

  async values(device: string, field: HistoryField, q: HistoryQuery): Promise<HistoryValue[]> {
    const rows = await this.query(`SELECT ${escape.quoted(field)} FROM ${this.from('inference')}`, device, q);
    return rows.flatMap((r) => {
      const value = r[field];
      return typeof value === 'number' || typeof value === 'string' ? [{ ts: r.time.getTime(), value }] : [];
    });
  }

  async alarms(device: string | undefined, q: HistoryQuery): Promise<AlarmEvent[]> {
    const rows = await this.query(`SELECT * FROM ${this.from('alarm')}`, device, q);
    return rows.map((r) => ({
      device: String(r.device),
      rule: String(r.rule),
      state: String(r.state) as AlarmEventState,
      active: r.active === true,
      acked: r.acked === true,
      confirmed: r.confirmed === true,
      severity: Number(r.severity),
      message: String(r.message ?? ''),
      value: Number(r.value),
      raisedAt: typeof r.raised_at === 'number' ? r.raised_at : r.time.getTime(),
      ts: r.time.getTime(),
      ...(typeof r.by === 'string' ? { by: r.by } : {}),
      ...(typeof r.comment === 'string' ? { comment: r.comment } : {}),
    }));
  }

  private async query(select: string, device: string | undefined, q: HistoryQuery): Promise<Row[]> {
    const where = [
      ...(device === undefined ? [] : [`"device" = ${escape.stringLit(device)}`]),
      ...(q.from === undefined ? [] : [`time >= ${Math.trunc(q.from)}ms`]),
      // A point's timestamp carries a sub-millisecond offset (docs/influx.md#timestamps).
      ...(q.to === undefined ? [] : [`time < ${Math.trunc(q.to) + 1}ms`]),
    ];
    const limit = q.limit > 0 ? Math.min(q.limit, MAX_HISTORY_ROWS) : MAX_HISTORY_ROWS;
    const text = [
      select,
      where.length > 0 ? `WHERE ${where.join(' AND ')}` : '',
      `ORDER BY time ${q.newestFirst ? 'DESC' : 'ASC'}`,
      `LIMIT ${limit}`,
      q.offset ? `OFFSET ${q.offset}` : '',
    ].join(' ');
    return (await this.client.query(text)) as unknown as Row[];
  }
}
