import type { HistoryField, HistoryQuery, HistorySource } from '../state/history.js';

const FIELDS: readonly string[] = ['anomaly', 'confidence', 'label', 'alarms'] satisfies (HistoryField | 'alarms')[];
const DEFAULT_LIMIT = 10_000;

export interface HistoryAnswer {
  status: number;
  body: unknown;
}

/** A bound as epoch ms or an ISO 8601 time; undefined when absent, NaN when unreadable. */
function instant(text: string | null): number | undefined {
  if (text === null || text === '') return undefined;
  return /^\d+$/.test(text) ? Number(text) : Date.parse(text);
}

/**
 * GET /history?device=…&from=…&to=…[&field=anomaly|confidence|label|alarms][&limit=…][&order=desc]:
 * the stored values of one device (InfluxDB when configured, else the in-memory ring), oldest first.
 */
export async function historyRequest(params: URLSearchParams, source: HistorySource): Promise<HistoryAnswer> {
  const device = params.get('device') ?? undefined;
  const field = params.get('field') ?? 'anomaly';
  const from = instant(params.get('from'));
  const to = instant(params.get('to'));
  const limitText = params.get('limit');
  const limit = limitText === null ? DEFAULT_LIMIT : Number(limitText);
  const order = params.get('order') ?? 'asc';
  const problem = !FIELDS.includes(field)
    ? `field must be one of ${FIELDS.join(', ')}`
    : device === undefined && field !== 'alarms'
      ? 'device is required (e.g. /history?device=press-01&from=2026-01-01T00:00:00Z)'
      : Number.isNaN(from)
        ? 'from must be epoch milliseconds or an ISO 8601 time'
        : Number.isNaN(to)
          ? 'to must be epoch milliseconds or an ISO 8601 time'
          : !Number.isSafeInteger(limit) || limit < 1
            ? 'limit must be a positive integer'
            : order !== 'asc' && order !== 'desc'
              ? 'order must be asc or desc'
              : undefined;
  if (problem) return { status: 400, body: { error: problem } };
  const q: HistoryQuery = {
    limit,
    newestFirst: order === 'desc',
    ...(from === undefined ? {} : { from }),
    ...(to === undefined ? {} : { to }),
  };
  try {
    if (field === 'alarms') return { status: 200, body: { device: device ?? null, field, alarms: await source.alarms(device, q) } };
    const values = await source.values(device!, field as HistoryField, q);
    return {
      status: 200,
      body: { device, field, values: values.map((v) => ({ ts: v.ts, time: new Date(v.ts).toISOString(), value: v.value })) },
    };
  } catch (err) {
    return { status: 503, body: { error: `history unavailable: ${err instanceof Error ? err.message : String(err)}` } };
  }
}
