/** A point before it becomes a line: InfluxDB 1.x line protocol, fields as floats, strings or booleans. */
export interface Point {
  measurement: string;
  /** In key order. */
  tags: Record<string, string>;
  fields: Record<string, number | string | boolean | undefined>;
}

const NEEDS_ESCAPE = /[\\,= \n]/;
/** Most keys and values need no escaping: testing first is most of a line's cost saved. */
export const escapeKey = (s: string): string => (NEEDS_ESCAPE.test(s) ? s.replace(/[\\,= ]/g, (c) => `\\${c}`).replace(/\n/g, ' ') : s);
const escapeMeasurement = (s: string): string => s.replace(/[\\, ]/g, (c) => `\\${c}`);
const NEEDS_QUOTING = /[\\"\n]/;
export const quote = (s: string): string => `"${NEEDS_QUOTING.test(s) ? s.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, '\\n') : s}"`;

function fieldValue(v: number | string | boolean): string | undefined {
  if (typeof v === 'string') return quote(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  // Line protocol has no NaN or Infinity: such a value is left out of the point.
  return Number.isFinite(v) ? String(v) : undefined;
}

/** The line without its timestamp; undefined when no field has a value InfluxDB can store. */
export function lineBody(p: Point): string | undefined {
  let line = NEEDS_ESCAPE.test(p.measurement) ? escapeMeasurement(p.measurement) : p.measurement;
  // Tags come in key order (InfluxDB's advice for the fastest writes), so they are not sorted here.
  for (const key in p.tags) {
    const value = p.tags[key];
    if (value) line += `,${escapeKey(key)}=${escapeKey(value)}`;
  }
  let sep = ' ';
  for (const key in p.fields) {
    const raw = p.fields[key];
    const value = raw === undefined ? undefined : fieldValue(raw);
    if (value === undefined) continue;
    line += `${sep}${escapeKey(key)}=${value}`;
    sep = ',';
  }
  return sep === ',' ? line : undefined;
}

/**
 * A nanosecond timestamp: the event's millisecond and a sub-millisecond offset (0–999,999 ns). The
 * offset keeps two events of one series in the same millisecond apart, and is derived from the
 * event itself so the same event sent again gets the same timestamp and overwrites itself.
 */
export function timestampNs(ms: number, offset: number): string {
  return `${Math.max(0, Math.trunc(ms))}${String(offset % 1_000_000).padStart(6, '0')}`;
}

/** A stable offset for a point with no sequence number: a hash of its line (FNV-1a, 32 bit). */
export function contentOffset(body: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < body.length; i++) h = Math.imul(h ^ body.charCodeAt(i), 0x01000193);
  return (h >>> 0) % 1_000_000;
}

/** Epoch milliseconds of a line's timestamp (its last field). */
export function lineMs(line: string): number {
  const ns = line.slice(line.lastIndexOf(' ') + 1);
  return Number(ns.slice(0, -6));
}
