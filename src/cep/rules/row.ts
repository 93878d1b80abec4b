import { topClass, type InferenceEvent } from '../../normalise/inference-event.js';

export type FieldValue = number | string | undefined;

/**
 * What flows through a rule pipeline. At the input a row is one event; stages such as windows,
 * trends and joins emit new rows whose computed values live in `fields`.
 */
export interface Row {
  device: string;
  /** Event time, or the scheduler's time for a rule on processing time. */
  ts: number;
  /** The event behind the row; absent after a window, whose rows summarise many events. */
  event?: InferenceEvent;
  fields?: Record<string, FieldValue>;
  /** The device's attributes from the config (group, line, cell, site, tags.*), shared by its rows. */
  attrs?: DeviceAttributes;
}

/** A device's attributes as fields: `group`, `line`, `cell`, `site` and `tags.<name>`. */
export type DeviceAttributes = Readonly<Record<string, string>>;

/** Fields that come from the device's entry in the config rather than from its events. */
export const ATTRIBUTE_FIELDS = ['group', 'line', 'cell', 'site'] as const;
export const isAttribute = (path: string): boolean => (ATTRIBUTE_FIELDS as readonly string[]).includes(path) || /^tags\.[^.]+$/.test(path);

export type FieldType = 'number' | 'string';

/** Fields of an inference event a rule may name, with their types; `scores.*` and `values.*` take any name. */
export const EVENT_FIELDS: Record<string, FieldType> = {
  device: 'string',
  ts: 'number',
  seq: 'number',
  'model.name': 'string',
  'model.version': 'string',
  label: 'string',
  anomaly: 'number',
  confidence: 'number',
  'timing.dsp_ms': 'number',
  'timing.inference_ms': 'number',
  'scores.*': 'number',
  'values.*': 'number',
  group: 'string',
  line: 'string',
  cell: 'string',
  site: 'string',
  'tags.*': 'string',
};

/** Type of an event field, or undefined when the event schema has no such field. */
export function eventFieldType(path: string): FieldType | undefined {
  const direct = EVENT_FIELDS[path];
  if (direct) return direct;
  const dot = path.indexOf('.');
  return dot > 0 && path.length > dot + 1 ? EVENT_FIELDS[`${path.slice(0, dot)}.*`] : undefined;
}

/** A compiled reader for one event field. */
export function eventReader(path: string): (e: InferenceEvent) => FieldValue {
  switch (path) {
    case 'device':
      return (e) => e.device;
    case 'ts':
      return (e) => e.ts;
    case 'seq':
      return (e) => e.seq;
    case 'model.name':
      return (e) => e.model.name;
    case 'model.version':
      return (e) => e.model.version;
    case 'label':
      return (e) => e.label ?? topClass(e).label;
    case 'anomaly':
      return (e) => e.anomaly;
    case 'confidence':
      return (e) => topClass(e).confidence;
    case 'timing.dsp_ms':
      return (e) => e.timing?.dsp_ms;
    case 'timing.inference_ms':
      return (e) => e.timing?.inference_ms;
  }
  const name = path.slice(path.indexOf('.') + 1);
  return path.startsWith('scores.') ? (e) => e.scores?.[name] : (e) => e.values?.[name];
}

/**
 * Reads a field from a row: computed fields first, then the event behind the row. `device` and
 * `ts` are the row's own, so they also work after a window.
 */
export function rowReader(path: string): (r: Row) => FieldValue {
  if (path === 'device') return (r) => r.device;
  if (path === 'ts') return (r) => r.ts;
  if (isAttribute(path)) return (r) => r.fields?.[path] ?? r.attrs?.[path];
  const fromEvent = eventFieldType(path) ? eventReader(path) : undefined;
  if (!fromEvent) return (r) => r.fields?.[path];
  return (r) => {
    const computed = r.fields?.[path];
    if (computed !== undefined) return computed;
    return r.event ? fromEvent(r.event) : undefined;
  };
}

export function numberReader(path: string): (r: Row) => number | undefined {
  const read = rowReader(path);
  return (r) => {
    const v = read(r);
    return typeof v === 'number' ? v : undefined;
  };
}

export function stringReader(path: string): (r: Row) => string | undefined {
  const read = rowReader(path);
  return (r) => {
    const v = read(r);
    return v === undefined ? undefined : String(v);
  };
}
