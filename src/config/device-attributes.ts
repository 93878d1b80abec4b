import type { DeviceAttributes } from '../cep/rules/row.js';
import type { DeviceConfig } from './schema.js';

/** The attributes rules read as fields (group, line, cell, site, tags.<name>), per configured device that has any. */
export function deviceAttributes(devices: readonly DeviceConfig[]): Map<string, DeviceAttributes> {
  const out = new Map<string, DeviceAttributes>();
  for (const d of devices) {
    const attrs: Record<string, string> = {};
    for (const k of ['group', 'line', 'cell', 'site'] as const) if (d[k] !== undefined) attrs[k] = d[k];
    for (const [name, value] of Object.entries(d.tags ?? {})) attrs[`tags.${name}`] = value;
    if (Object.keys(attrs).length > 0) out.set(d.id, Object.freeze(attrs));
  }
  return out;
}
