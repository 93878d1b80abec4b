import {
  fieldSize,
  gatewayUnitId,
  MODBUS_TABLES,
  type ModbusServerConfig,
  type ModbusTable,
  type ProfileConfig,
  type WordOrder,
} from '../../config/modbus-schema.js';
import { TEST_PATTERN_SIZE } from './test-pattern.js';
import { DEFAULT_PROFILE } from './default-profile.js';

/** What the layout reads of a device's config. */
export interface LaidOutDevice {
  id: string;
  labels: string[];
  modbus?: { profile: string; unitId?: number; base?: number };
}

/** Where one device sits: its unit, its base address and its map. */
export interface DeviceLayout {
  device: LaidOutDevice;
  index: number;
  unit: number;
  base: number;
  profile: ProfileConfig;
  order: WordOrder;
  /** Per table the device uses: addresses [base, base + length) are its own; unmapped ones read 0. */
  spans: Partial<Record<ModbusTable, number>>;
}

export type LayoutProblem = { path: (string | number)[]; message: string };

export type ModbusLayoutConfig = Pick<ModbusServerConfig, 'unitIds' | 'unitId' | 'blockSize' | 'wordOrder' | 'profiles' | 'testPattern'>;

export function profileOf(m: Pick<ModbusServerConfig, 'profiles'>, name: string): ProfileConfig | undefined {
  return m.profiles[name] ?? (name === 'default' ? DEFAULT_PROFILE : undefined);
}

/** Per table, one past the highest address the profile uses. */
export function profileExtent(p: ProfileConfig): Partial<Record<ModbusTable, number>> {
  const out: Partial<Record<ModbusTable, number>> = {};
  for (const f of p.fields) out[f.table] = Math.max(out[f.table] ?? 0, f.address + fieldSize(f));
  return out;
}

/**
 * Every device's unit, base and map, and what is wrong with them (unknown profile, a map past
 * the block size, overlaps, unit ids taken twice). Devices with a problem are left out.
 */
export function layoutDevices(
  m: ModbusLayoutConfig,
  devices: readonly LaidOutDevice[],
): { layouts: DeviceLayout[]; problems: LayoutProblem[] } {
  const layouts: DeviceLayout[] = [];
  const problems: LayoutProblem[] = [];
  const perDevice = m.unitIds === 'device';
  const gatewayUnit = gatewayUnitId(m);
  const units = new Map<number, string>();
  const taken = new Occupancy();
  devices.forEach((device, index) => {
    const at = (key: string): (string | number)[] => ['devices', index, 'modbus', key];
    const name = device.modbus?.profile ?? 'default';
    const profile = profileOf(m, name);
    if (!profile) return problems.push({ path: at('profile'), message: `no profile '${name}' under modbus.profiles` });
    const extent = profileExtent(profile);
    const unit = perDevice ? (device.modbus?.unitId ?? index + 1) : gatewayUnit;
    if (perDevice) {
      const owner = unit === gatewayUnit ? 'the gateway (modbus.unitId)' : units.get(unit);
      if (owner) return problems.push({ path: at('unitId'), message: `unit id ${unit} is already taken by ${owner}` });
      units.set(unit, `device ${device.id}`);
    }
    const base = device.modbus?.base ?? (perDevice ? 0 : index * m.blockSize);
    const spans: Partial<Record<ModbusTable, number>> = {};
    for (const table of MODBUS_TABLES) {
      const end = extent[table];
      if (end === undefined) continue;
      if (!perDevice && end > m.blockSize)
        return problems.push({
          path: at('profile'),
          message: `profile '${name}' reaches ${table} ${end - 1}, past modbus.blockSize ${m.blockSize}; raise blockSize`,
        });
      spans[table] = perDevice ? end : m.blockSize;
      if (base + spans[table] > 65536)
        return problems.push({ path: at('base'), message: `${table} ${base + spans[table] - 1} is past 65535` });
    }
    const clash = taken.firstClash(unit, base, spans);
    if (clash)
      return problems.push({ path: at('base'), message: `addresses from ${base} overlap device ${clash.device.id} (base ${clash.base})` });
    const layout = { device, index, unit, base, profile, order: profile.wordOrder ?? m.wordOrder, spans };
    layouts.push(layout);
    taken.add(layout);
  });
  const pattern = m.testPattern;
  if (pattern.enabled) {
    const clash = taken.firstClash(gatewayUnit, pattern.address, {
      input_register: TEST_PATTERN_SIZE,
      holding_register: TEST_PATTERN_SIZE,
    });
    if (clash)
      problems.push({
        path: ['modbus', 'testPattern', 'address'],
        message: `the test pattern at ${pattern.address} overlaps device ${clash.device.id} (registers from ${clash.base}); move it past the devices`,
      });
  }
  return { layouts, problems };
}

/**
 * The address ranges laid out so far, per unit and table, sorted and disjoint: a clash is found
 * by binary search, so laying out thousands of devices stays fast (a reload runs it on the
 * event loop).
 */
class Occupancy {
  private readonly ranges = new Map<string, { start: number; end: number; layout: DeviceLayout }[]>();

  /** The earliest laid-out device whose ranges overlap `spans` from `base` on `unit`. */
  firstClash(unit: number, base: number, spans: Partial<Record<ModbusTable, number>>): DeviceLayout | undefined {
    let first: DeviceLayout | undefined;
    for (const table of MODBUS_TABLES) {
      const length = spans[table];
      const list = length === undefined ? undefined : this.ranges.get(`${unit}/${table}`);
      if (!list) continue;
      const end = base + length!;
      for (let i = firstEndingAfter(list, base); i < list.length && list[i]!.start < end; i++) {
        if (!first || list[i]!.layout.index < first.index) first = list[i]!.layout;
      }
    }
    return first;
  }

  add(layout: DeviceLayout): void {
    for (const table of MODBUS_TABLES) {
      const length = layout.spans[table];
      if (length === undefined) continue;
      const key = `${layout.unit}/${table}`;
      const list = this.ranges.get(key) ?? [];
      this.ranges.set(key, list);
      list.splice(firstEndingAfter(list, layout.base), 0, { start: layout.base, end: layout.base + length, layout });
    }
  }
}

/** Index of the first range (sorted, disjoint) that ends after `at`. */
function firstEndingAfter(list: { end: number }[], at: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid]!.end > at) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
