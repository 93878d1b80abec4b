import type { DeviceState } from '../../state/device-state.js';

/** What a field reads from: one device's state at one moment. */
export interface FieldContext {
  device: DeviceState | undefined;
  labels: readonly string[];
  online: boolean;
  nowMs: number;
}

/**
 * number: any numeric register type (integers with scale and offset); flag: 0 or 1, a bit or an
 * integer register; text: string(n); command: writable, a bit or an integer register.
 */
export type FieldKind = 'number' | 'flag' | 'text' | 'command';

/** What a write to a command field asks for; `rule` for the per-rule forms. */
export type Command = { command: 'ack' | 'reset'; rule?: string };

export interface FieldDef {
  kind: FieldKind;
  /** The register type the default map uses; bits for flags and commands in bit tables. */
  defaultType: 'float32' | 'uint16' | 'uint32' | 'string(16)';
  description: string;
  read(c: FieldContext): number | string;
  command?: Command;
}

const UNKNOWN16 = 0xffff;
const UNKNOWN32 = 0xffffffff;

const FIXED: Record<string, FieldDef> = {
  anomaly: {
    kind: 'number',
    defaultType: 'float32',
    description: 'anomaly score (NaN until known)',
    read: (c) => c.device?.anomaly ?? NaN,
  },
  confidence: {
    kind: 'number',
    defaultType: 'float32',
    description: 'score of the top label, 0..1 (NaN until known)',
    read: (c) => c.device?.confidence ?? NaN,
  },
  label_index: {
    kind: 'number',
    defaultType: 'uint16',
    description: 'position of the label in the device labels list (65535: unknown)',
    read: (c) => labelIndex(c.device?.label, c.labels),
  },
  model_version_major: {
    kind: 'number',
    defaultType: 'uint16',
    description: 'model version, first number',
    read: (c) => versionPart(c, 0),
  },
  model_version_minor: {
    kind: 'number',
    defaultType: 'uint16',
    description: 'model version, second number',
    read: (c) => versionPart(c, 1),
  },
  model_version_patch: {
    kind: 'number',
    defaultType: 'uint16',
    description: 'model version, third number',
    read: (c) => versionPart(c, 2),
  },
  seconds_since_last_seen: {
    kind: 'number',
    defaultType: 'uint32',
    description: 'seconds since the last event (4294967295: never)',
    read: sinceLastSeen,
  },
  seq: {
    kind: 'number',
    defaultType: 'uint32',
    description: 'last sequence counter, low 32 bits',
    read: (c) => (c.device?.seq ?? 0) % 2 ** 32,
  },
  alarm_count: {
    kind: 'number',
    defaultType: 'uint16',
    description: 'alarms active on the device',
    read: (c) => c.device?.alarms.size ?? 0,
  },
  online: { kind: 'flag', defaultType: 'uint16', description: '1 while the device sends events', read: (c) => (c.online ? 1 : 0) },
  events_total: {
    kind: 'number',
    defaultType: 'uint32',
    description: 'events accepted since start',
    read: (c) => (c.device?.events ?? 0) % 2 ** 32,
  },
  alarm: { kind: 'flag', defaultType: 'uint16', description: 'any alarm active', read: (c) => ((c.device?.alarms.size ?? 0) > 0 ? 1 : 0) },
  alarm_unacked: {
    kind: 'flag',
    defaultType: 'uint16',
    description: 'any alarm not acknowledged (active or not)',
    read: (c) => ((c.device?.unacked.size ?? 0) > 0 ? 1 : 0),
  },
  label: {
    kind: 'text',
    defaultType: 'string(16)',
    description: 'predicted label (empty until known)',
    read: (c) => c.device?.label ?? '',
  },
  model_name: { kind: 'text', defaultType: 'string(16)', description: 'model name', read: (c) => c.device?.model?.name ?? '' },
  model_version: {
    kind: 'text',
    defaultType: 'string(16)',
    description: 'model version as sent',
    read: (c) => c.device?.model?.version ?? '',
  },
  ack: {
    kind: 'command',
    defaultType: 'uint16',
    description: 'write 1: acknowledge every alarm of the device; reads 1 while one is unacknowledged',
    read: (c) => ((c.device?.unacked.size ?? 0) > 0 ? 1 : 0),
    command: { command: 'ack' },
  },
  reset: {
    kind: 'command',
    defaultType: 'uint16',
    description: 'write 1: end every alarm of the device (cleared, acknowledged, confirmed); reads 0',
    read: () => 0,
    command: { command: 'reset' },
  },
};

/** Field names with a parameter: `score.<label>`, `alarm.<rule>`, `ack.<rule>`. */
const PARAMETERISED: Record<string, (p: string) => FieldDef> = {
  score: (label) => ({
    kind: 'number',
    defaultType: 'float32',
    description: `score of label ${label} (NaN until known)`,
    read: (c) => c.device?.scores?.[label] ?? NaN,
  }),
  alarm: (rule) => ({
    kind: 'flag',
    defaultType: 'uint16',
    description: `alarm of rule ${rule} active`,
    read: (c) => (c.device?.alarms.has(rule) ? 1 : 0),
  }),
  ack: (rule) => ({
    kind: 'command',
    defaultType: 'uint16',
    description: `write 1: acknowledge the alarm of rule ${rule}; reads 1 while it is unacknowledged`,
    read: (c) => (c.device?.unacked.has(rule) ? 1 : 0),
    command: { command: 'ack', rule },
  }),
};

export const FIELD_NAMES: readonly string[] = [...Object.keys(FIXED), ...Object.keys(PARAMETERISED).map((p) => `${p}.<name>`)];

/** The field a map names, or undefined when there is none of that name. */
export function resolveField(name: string): FieldDef | undefined {
  const fixed = FIXED[name];
  if (fixed) return fixed;
  const dot = name.indexOf('.');
  const make = dot > 0 ? PARAMETERISED[name.slice(0, dot)] : undefined;
  const param = name.slice(dot + 1);
  return make && param.length > 0 ? make(param) : undefined;
}

function labelIndex(label: string | undefined, labels: readonly string[]): number {
  const i = label === undefined ? -1 : labels.indexOf(label);
  return i < 0 ? UNKNOWN16 : i;
}

function versionPart(c: FieldContext, part: number): number {
  const m = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(c.device?.model?.version ?? '');
  return m ? Math.min(Number(m[part + 1] ?? 0), 0xffff) : 0;
}

function sinceLastSeen(c: FieldContext): number {
  const at = c.device?.lastSeenAt;
  return at === undefined ? UNKNOWN32 : Math.max(0, Math.floor((c.nowMs - at) / 1000));
}
