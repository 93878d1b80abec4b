import { z } from 'zod';
import { configSchema } from '../config/schema.js';
import { ruleSchema } from '../cep/rules/language.js';
import { inferenceEventV1 } from '../normalise/inference-event.js';
import { DEFAULT_PROFILE } from '../servers/modbus-tcp/default-profile.js';
import { FIELD_NAMES, resolveField } from '../servers/modbus-tcp/device-fields.js';
import { fieldSize, fieldType } from '../config/modbus-schema.js';
import { registerCount, typeName } from '../core/register-codec.js';
import { TEST_PATTERN, testPatternRegisters } from '../servers/modbus-tcp/test-pattern.js';
import { DEVICE_VARIABLES, SCORE_VARIABLE, type DeviceVariable } from '../servers/opcua/device-type.js';
import { GATEWAY_VARIABLES, SINK_VARIABLES } from '../servers/opcua/gateway-nodes.js';
import { RULE_VARIABLES } from '../servers/opcua/rule-nodes.js';
import type { StatusVariable } from '../servers/opcua/status-nodes.js';
import { METHODS, type MethodInfo } from '../servers/opcua/methods.js';
import { DataType, type EUInformation } from '../servers/opcua/ua.js';

interface JsonSchema {
  type?: string;
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  description?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  additionalProperties?: JsonSchema | boolean;
}

/** Markdown reference tables generated from the code, so docs/ cannot drift from it. */
export const REFERENCES: Record<string, () => string> = {
  'config-keys': () => keyTable(configSchema, true),
  'rule-keys': () => keyTable(ruleSchema, true),
  'event-fields': () => keyTable(inferenceEventV1, false),
  'modbus-block': modbusBlock,
  'modbus-fields': modbusFields,
  'modbus-test-pattern': testPattern,
  'opcua-device-variables': deviceVariables,
  'opcua-methods': methodTable,
  'opcua-rule-variables': () => statusVariables(RULE_VARIABLES, 'Rules/<rule>'),
  'opcua-gateway-variables': () =>
    [statusVariables(GATEWAY_VARIABLES, 'Gateway'), '', statusVariables(SINK_VARIABLES, 'Gateway/Sinks/<sink>', 'Sinks/<sink>/')].join(
      '\n',
    ),
};

function keyTable(schema: z.ZodType, withDefaults: boolean): string {
  const rows = withDefaults
    ? ['| key | type | default | description |', '|---|---|---|---|']
    : ['| field | type | required | description |', '|---|---|---|---|'];
  // The input schema says what may be written; the output schema carries the defaults of keys whose
  // value is transformed (durations), which the input schema leaves out.
  const json = (io: 'input' | 'output') => z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  walk(json('input'), json('output'), '', rows, withDefaults);
  return rows.join('\n');
}

function walk(schema: JsonSchema, output: JsonSchema | undefined, path: string, rows: string[], withDefaults: boolean): void {
  for (const [key, child] of Object.entries(schema.properties ?? {})) {
    const name = path ? `${path}.${key}` : key;
    const out = output?.properties?.[key];
    const required = schema.required?.includes(key) ?? false;
    const third = withDefaults ? fmt(child.default ?? out?.default) : yesNo(required);
    const entry = typeof child.additionalProperties === 'object' ? child.additionalProperties : undefined;
    if (child.type === 'object' && child.properties) {
      walk(child, out, name, rows, withDefaults);
    } else if (child.type === 'object' && entry?.properties) {
      rows.push(row(name, 'map', third, child.description));
      walk(
        entry,
        typeof out?.additionalProperties === 'object' ? out.additionalProperties : undefined,
        `${name}.<name>`,
        rows,
        withDefaults,
      );
    } else if (child.type === 'array' && child.items?.properties) {
      rows.push(row(name, 'list', third, child.description));
      walk(child.items, out?.items, `${name}[]`, rows, withDefaults);
    } else {
      rows.push(row(name, typeOf(child), third, child.description ?? out?.description));
    }
  }
}

function row(key: string, type: string, third: string, description = ''): string {
  return `| \`${key}\` | ${type} | ${third} | ${description.replace(/\|/g, '\\|')} |`;
}

const yesNo = (b: boolean): string => (b ? 'yes' : 'no');
const fmt = (v: unknown): string => (v === undefined ? '—' : `\`${JSON.stringify(v)}\``);

function typeOf(s: JsonSchema): string {
  if (s.anyOf) return s.anyOf.map(typeOf).join(' or ');
  if (s.const !== undefined) return `\`${JSON.stringify(s.const)}\``;
  if (s.enum) return s.enum.map((v) => `\`${String(v)}\``).join(', ');
  if (s.type === 'array') return `list of ${s.items ? typeOf(s.items) : 'any'}`;
  if (s.type === 'object' && s.additionalProperties && typeof s.additionalProperties === 'object') {
    return `map of ${typeOf(s.additionalProperties)}`;
  }
  const low = s.minimum ?? (s.exclusiveMinimum !== undefined ? `>${s.exclusiveMinimum}` : undefined);
  const high = s.maximum !== undefined && s.maximum < Number.MAX_SAFE_INTEGER ? s.maximum : undefined;
  const range = low !== undefined || high !== undefined ? ` ${low ?? ''}..${high ?? ''}` : '';
  return `${s.type ?? 'any'}${range}`;
}

function modbusBlock(): string {
  const rows = DEFAULT_PROFILE.fields.map((f) => {
    const type = fieldType(f);
    return `| ${f.table} | ${f.address} | \`${f.field}\` | ${type === 'bit' ? 'bit' : typeName(type)} | ${fieldSize(f)} | ${f.writable ? 'read-write' : 'read'} | ${resolveField(f.field)?.description ?? ''} |`;
  });
  return ['| table | offset | field | type | size | access | meaning |', '|---|---|---|---|---|---|---|', ...rows].join('\n');
}

function modbusFields(): string {
  const rows = FIELD_NAMES.map((name) => {
    const def = resolveField(name.replace('<name>', 'NAME'))!;
    return `| \`${name}\` | ${def.kind} | ${def.defaultType} | ${def.description.replaceAll('NAME', '*name*')} |`;
  });
  return ['| field | kind | default type | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

function testPattern(): string {
  const hex = (order: 'ABCD' | 'CDAB' | 'BADC' | 'DCBA', offset: number, count: number): string =>
    testPatternRegisters(order)
      .slice(offset, offset + count)
      .map((r) => r.toString(16).toUpperCase().padStart(4, '0'))
      .join(' ');
  const rows = TEST_PATTERN.map((f) => {
    const n = registerCount(f.type);
    return `| ${f.offset} | \`${f.field}\` | ${typeName(f.type)} | ${JSON.stringify(f.value)} | ${hex('ABCD', f.offset, n)} | ${hex('CDAB', f.offset, n)} | ${hex('BADC', f.offset, n)} | ${hex('DCBA', f.offset, n)} |`;
  });
  return ['| offset | field | type | reads | ABCD | CDAB | BADC | DCBA |', '|---|---|---|---|---|---|---|---|', ...rows].join('\n');
}

const unitOf = (unit: EUInformation | undefined): string => (unit ? `${unit.displayName.text ?? ''}` : '');

function deviceVariables(): string {
  const range = (v: Pick<DeviceVariable, 'range'>): string =>
    v.range === 'unit' ? 'AnalogItem, EURange 0..1' : v.range === 'anomaly' ? 'AnalogItem, EURange `anomalyRange`' : '';
  const rows = [...DEVICE_VARIABLES, SCORE_VARIABLE].map(
    (v) =>
      `| \`${v.path}\` | ${DataType[v.dataType]} | ${[range(v), unitOf('unit' in v ? v.unit : undefined)].filter(Boolean).join(', ')} | \`s=Devices/<device>/${v.path}\` | ${v.description} |`,
  );
  return ['| browse path | DataType | type, unit | NodeId | meaning |', '|---|---|---|---|---|', ...rows].join('\n');
}

function methodTable(): string {
  const args = (list: MethodInfo['inputs']): string =>
    (list ?? []).map((a) => `\`${a.name}\` (${DataType[a.dataType]}${a.valueRank === 1 ? '[]' : ''}): ${a.description}`).join('; ') ||
    'none';
  const rows = Object.values(METHODS).map(
    (m: MethodInfo) =>
      `| \`${m.on}/${m.name}(${(m.inputs ?? []).map((a) => a.name).join(', ')})\` | ${m.description} | ${args(m.inputs)} | ${args(m.outputs)} | ${m.errors} |`,
  );
  return ['| method | what it does | arguments | result | errors |', '|---|---|---|---|---|', ...rows].join('\n');
}

function statusVariables<T>(specs: readonly StatusVariable<T>[], object: string, prefix = ''): string {
  const rows = specs.map(
    (v) => `| \`${prefix}${v.name}\` | ${DataType[v.dataType]} | ${unitOf(v.unit)} | \`s=${object}/${v.name}\` | ${v.description} |`,
  );
  return ['| browse path | DataType | unit | NodeId | meaning |', '|---|---|---|---|---|', ...rows].join('\n');
}

const MARKER = /<!-- generated:([a-z-]+) -->\n[\s\S]*?<!-- \/generated -->/g;

/** Rewrites every `<!-- generated:NAME -->…<!-- /generated -->` section of a document. */
export function refreshDocument(text: string): string {
  return text.replace(MARKER, (_all, name: string) => {
    const make = REFERENCES[name];
    if (!make) throw new Error(`unknown generated section '${name}'`);
    return `<!-- generated:${name} -->\n${make()}\n<!-- /generated -->`;
  });
}
