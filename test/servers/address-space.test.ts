import t from 'tap';
import { AddressSpace, type ReadSource } from '../../src/servers/modbus-tcp/address-space.js';
import { formatMap, reference } from '../../src/servers/modbus-tcp/map-table.js';
import { decode } from '../../src/core/register-codec.js';
import { TEST_PATTERN, TEST_PATTERN_SIZE } from '../../src/servers/modbus-tcp/test-pattern.js';
import { modbusServerSchema, type ModbusServerConfig } from '../../src/config/modbus-schema.js';
import type { DeviceState } from '../../src/state/device-state.js';
import { MinuteRate } from '../../src/state/minute-rate.js';

const modbus = (extra: Record<string, unknown> = {}): ModbusServerConfig => modbusServerSchema.parse(extra);
const dev = (id: string, labels: string[] = [], m: Record<string, unknown> = {}) => ({ id, labels, modbus: { profile: 'default', ...m } });

function device(id: string): DeviceState {
  return {
    id,
    configured: true,
    labels: ['normal', 'wear'],
    label: 'wear',
    confidence: 0.75,
    anomaly: 1.5,
    scores: { normal: 0.25, wear: 0.75 },
    model: { name: 'fan', version: '2.10.3-rc1' },
    seq: 2 ** 32 + 7,
    lastSeenAt: 10_000,
    events: 3,
    rate: new MinuteRate(0),
    alarms: new Map([
      [
        'r',
        { device: id, rule: 'r', active: true, acked: false, confirmed: false, severity: 1, value: 1, raisedAt: 0, ts: 0, message: '' },
      ],
    ]),
    unacked: new Set(['r']),
  };
}

const source = (state: DeviceState | undefined, coils: number[] = []): ReadSource => ({
  context: (id, labels) => ({ device: id === state?.id ? state : undefined, labels, online: id === state?.id, nowMs: 72_500 }),
  coilOn: (a) => coils.includes(a),
});

t.test('the default map: device i at 16·i in every table; addresses depend on config order only', async (t) => {
  const space = new AddressSpace(modbus({ wordOrder: 'CDAB' }), [dev('a'), dev('b')]);
  t.same(space.problems, []);
  const csv = formatMap(space.placed, 'csv').trim().split('\n');
  t.equal(csv[0], 'unit,device,field,table,address,reference,type,word_order,access,description');
  t.ok(csv.includes('1,b,anomaly,input_register,16,30017,float32,CDAB,read,anomaly score (NaN until known)'));
  t.ok(
    csv.includes('1,a,label_index,input_register,4,30005,uint16,,read,position of the label in the device labels list (65535: unknown)'),
  );
  t.ok(csv.includes('1,b,alarm_unacked,discrete_input,17,10018,bit,,read,any alarm not acknowledged (active or not)'));
  t.ok(csv.some((l) => l.startsWith('1,a,ack,coil,0,00001,bit,,read-write,')));
  t.ok(csv.some((l) => l.startsWith('1,b,reset,coil,17,00018,bit,,read-write,')));
  const none = source(undefined);
  t.equal(space.readRegisters(1, 'input_register', 0, 32, none)?.length, 32, 'both blocks in one read');
  t.equal(space.readRegisters(1, 'input_register', 31, 2, none), undefined, 'past the last block: exception 02');
  t.same(space.readBits(1, 'discrete_input', 0, 32, none), new Array(32).fill(false), 'alarm bits of both devices, gaps read 0');
  t.equal(space.readRegisters(1, 'holding_register', 0, 1, none), undefined, 'no holding registers in the default map');
  t.equal(space.readRegisters(2, 'input_register', 0, 1, none), undefined, 'another unit has nothing');
  t.notOk(space.hasUnit(2));
  t.equal(reference('holding_register', 9999), '410000');
  t.equal(reference('coil', 0), '00001');
});

t.test('a device block encodes state, with sentinels for unknown values', async (t) => {
  const space = new AddressSpace(modbus(), [dev('a', ['normal', 'wear'])]);
  const regs = space.readRegisters(1, 'input_register', 0, 16, source(device('a')))!;
  const f32 = (i: number) => decode(regs.slice(i, i + 2), { type: 'float32', order: 'ABCD' });
  t.equal(f32(0), 1.5);
  t.equal(f32(2), 0.75);
  t.same(regs.slice(4, 8), [1, 2, 10, 3]);
  t.equal(decode(regs.slice(8, 10), { type: 'uint32', order: 'ABCD' }), 62);
  t.equal(decode(regs.slice(10, 12), { type: 'uint32', order: 'ABCD' }), 7);
  t.same(regs.slice(12, 14), [1, 1]);
  t.equal(regs[15], 3);
  t.same(space.readBits(1, 'discrete_input', 0, 2, source(device('a'))), [true, true]);
  t.same(space.readRegisters(1, 'input_register', 3, 2, source(device('a'))), regs.slice(3, 5), 'partial reads align');

  const unknown = space.readRegisters(1, 'input_register', 0, 16, source(undefined))!;
  t.ok(Number.isNaN(decode(unknown.slice(0, 2), { type: 'float32', order: 'ABCD' })));
  t.equal(unknown[4], 0xffff);
  t.same(unknown.slice(8, 10), [0xffff, 0xffff]);
});

t.test('the test pattern: known values in both register tables of the gateway unit, in the map order', async (t) => {
  for (const wordOrder of ['ABCD', 'CDAB', 'BADC', 'DCBA'] as const) {
    const space = new AddressSpace(modbus({ wordOrder, testPattern: { address: 100 } }), [dev('a')]);
    const holding = space.readRegisters(1, 'holding_register', 100, TEST_PATTERN_SIZE, source(undefined))!;
    t.same(space.readRegisters(1, 'input_register', 100, TEST_PATTERN_SIZE, source(undefined)), holding);
    for (const f of TEST_PATTERN) {
      const value = decode(holding.slice(f.offset), { type: f.type, order: wordOrder });
      t.equal(value, typeof f.value === 'number' && f.type === 'float32' ? Math.fround(f.value) : f.value, `${f.field} ${wordOrder}`);
    }
    t.equal(space.readRegisters(1, 'holding_register', 99, 2, source(undefined)), undefined);
    t.equal(space.readRegisters(1, 'input_register', 15, 86, source(undefined)), undefined, 'a read across the gap is refused');
  }
  const off = new AddressSpace(modbus({ testPattern: { enabled: false } }), []);
  t.equal(off.readRegisters(1, 'holding_register', 9000, 1, source(undefined)), undefined, 'no pattern unless enabled');
});

t.test('a profile puts any field in any table, with its own order, scale and writable commands', async (t) => {
  const config = modbus({
    profiles: {
      plc: {
        wordOrder: 'DCBA',
        fields: [
          { field: 'anomaly', table: 'holding_register', address: 0, type: 'int16', scale: 0.001 },
          { field: 'score.wear', table: 'holding_register', address: 1, type: 'float32' },
          { field: 'label', table: 'holding_register', address: 3, type: 'string(8)' },
          { field: 'seq', table: 'input_register', address: 0, type: 'uint32' },
          { field: 'alarm.r', table: 'coil', address: 0 },
          { field: 'ack.r', table: 'coil', address: 1, writable: true },
          { field: 'reset', table: 'holding_register', address: 7, writable: true },
          { field: 'online', table: 'discrete_input', address: 0 },
        ],
      },
    },
  });
  const space = new AddressSpace(config, [dev('a', ['normal', 'wear'], { profile: 'plc' })]);
  t.same(space.problems, []);
  const s = source(device('a'));
  const regs = space.readRegisters(1, 'holding_register', 0, 8, s)!;
  t.equal(decode(regs.slice(0, 1), { type: 'int16', order: 'DCBA', scale: 0.001 }), 1.5, 'int16 ×0.001');
  t.equal(decode(regs.slice(1, 3), { type: 'float32', order: 'DCBA' }), 0.75);
  t.equal(decode(regs.slice(3, 7), { type: { string: 8 }, order: 'DCBA' }), 'wear');
  t.equal(regs[7], 0, 'reset reads 0');
  t.equal(decode(space.readRegisters(1, 'input_register', 0, 2, s)!, { type: 'uint32', order: 'DCBA' }), 7);
  t.same(space.readBits(1, 'coil', 0, 2, s), [true, true]);
  t.same(space.readBits(1, 'discrete_input', 0, 1, s), [true]);
  t.ok(formatMap(space.placed, 'csv').includes('1,a,anomaly,holding_register,0,40001,int16 ×0.001,,read,'));

  t.same(space.write(1, 'coil', 1, [1]), { ok: true, commands: [{ device: 'a', command: { command: 'ack', rule: 'r' }, value: 1 }] });
  // DCBA swaps a register's bytes: the raw 0x0001 is 256 in this map, and any non-zero value acts.
  t.same(space.write(1, 'holding_register', 7, [1]), { ok: true, commands: [{ device: 'a', command: { command: 'reset' }, value: 256 }] });
  t.same(space.write(1, 'coil', 0, [1]), { ok: false, reason: 'read-only' });
  t.same(space.write(1, 'coil', 0, [0, 1]), { ok: false, reason: 'read-only' }, 'a write spanning a read-only bit applies nothing');
  t.same(space.write(1, 'holding_register', 0, [5]), { ok: false, reason: 'read-only' });
  t.same(
    space.write(1, 'holding_register', 8, [5]),
    { ok: false, reason: 'read-only' },
    'a gap inside the block reads 0 and is not writable',
  );
  t.same(space.write(1, 'holding_register', 20, [5]), { ok: false, reason: 'unmapped' });
});

t.test('a command of two registers acts on its whole value in its order; half of it is refused', async (t) => {
  const config = modbus({
    profiles: {
      p: { wordOrder: 'CDAB', fields: [{ field: 'ack', table: 'holding_register', address: 0, type: 'uint32', writable: true }] },
    },
  });
  const space = new AddressSpace(config, [dev('a', [], { profile: 'p' })]);
  t.same(
    space.write(1, 'holding_register', 0, [1, 0]),
    { ok: true, commands: [{ device: 'a', command: { command: 'ack' }, value: 1 }] },
    'low word first',
  );
  t.same(space.write(1, 'holding_register', 0, [0, 1]), {
    ok: true,
    commands: [{ device: 'a', command: { command: 'ack' }, value: 65536 }],
  });
  t.same(space.write(1, 'holding_register', 0, [1]), { ok: false, reason: 'read-only' }, 'the first register alone');
  t.same(space.write(1, 'holding_register', 1, [1]), { ok: false, reason: 'read-only' }, 'the second register alone');
  t.ok(space.hasUnit(255), "255 is Modbus TCP's own-server id: the gateway unit");
  t.equal(space.readRegisters(255, 'holding_register', 9000, 16, source(undefined))?.length, 16);
});

t.test('unit ids per device: each device from address 0 on its own unit; the gateway keeps 255', async (t) => {
  const space = new AddressSpace(modbus({ unitIds: 'device' }), [dev('a'), dev('b', [], { unitId: 7 })], [{ rule: 'r', address: 3 }]);
  t.same(space.problems, []);
  t.ok(space.hasUnit(1) && space.hasUnit(7) && space.hasUnit(255));
  t.notOk(space.hasUnit(2));
  t.equal(space.readRegisters(7, 'input_register', 0, 16, source(undefined))?.length, 16);
  t.equal(space.readRegisters(7, 'input_register', 16, 1, source(undefined)), undefined);
  t.same(space.readBits(255, 'coil', 3, 1, source(undefined, [3])), [true], 'rule coils on the gateway unit');
  t.equal(space.readRegisters(255, 'holding_register', 9000, 16, source(undefined))?.length, 16, 'test pattern on the gateway unit');
});

t.test('layout problems name the key: unknown profile, past the block, overlaps, units taken twice, rule coils on a device', async (t) => {
  const problems = (m: Record<string, unknown>, devices: ReturnType<typeof dev>[], coils: { rule: string; address: number }[] = []) =>
    new AddressSpace(modbus(m), devices, coils).problems.map((p) => `${p.path.join('.')}: ${p.message}`);
  t.match(problems({}, [dev('a', [], { profile: 'nope' })]), [/^devices\.0\.modbus\.profile: no profile 'nope'/]);
  const wide = { profiles: { wide: { fields: [{ field: 'seq', table: 'input_register', address: 15 }] } } };
  t.match(problems(wide, [dev('a', [], { profile: 'wide' })]), [
    /^devices\.0\.modbus\.profile: .*reaches input_register 16, past modbus\.blockSize 16/,
  ]);
  t.same(problems({ ...wide, blockSize: 32 }, [dev('a', [], { profile: 'wide' })]), []);
  t.match(problems({}, [dev('a'), dev('b', [], { base: 8 })]), [/^devices\.1\.modbus\.base: addresses from 8 overlap device a/]);
  t.match(problems({ unitIds: 'device' }, [dev('a'), dev('b', [], { unitId: 1 })]), [
    /^devices\.1\.modbus\.unitId: unit id 1 is already taken by device a/,
  ]);
  t.match(problems({ unitIds: 'device', unitId: 2 }, [dev('a'), dev('b')]), [/^devices\.1\.modbus\.unitId: .*the gateway/]);
  t.match(problems({ testPattern: { address: 16 } }, [dev('a'), dev('b')]), [/^modbus\.testPattern\.address: .*overlaps device b/]);
  t.match(problems({}, [dev('a')], [{ rule: 'r', address: 1 }]), [/^rules: rule r: coil 1 belongs to a device map/]);
  t.same(problems({}, [dev('a')], [{ rule: 'r', address: 5 }]), [], 'a coil the block leaves unused is free for rules');
});
