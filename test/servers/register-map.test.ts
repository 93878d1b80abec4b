import t from 'tap';
import { RegisterMap, BLOCK_SIZE, DEVICE_FIELDS } from '../../src/servers/modbus-tcp/register-map.js';
import { decode } from '../../src/servers/modbus-tcp/register-codec.js';
import { TEST_PATTERN, TEST_PATTERN_SIZE } from '../../src/servers/modbus-tcp/test-pattern.js';
import type { DeviceState } from '../../src/state/device-state.js';
import { MinuteRate } from '../../src/state/minute-rate.js';

t.test('addresses depend on config order only; the CSV lists every field', async (t) => {
  const map = new RegisterMap(
    [
      { id: 'a', labels: [] },
      { id: 'b', labels: [] },
    ],
    { wordOrder: 'CDAB' },
  );
  const csv = map.toCsv().trim().split('\n');
  t.equal(csv[0], 'device,field,table,address,reference,type,word_order,description');
  t.equal(csv.length, 1 + 2 * (DEVICE_FIELDS.length + 2));
  t.ok(csv.includes('a,alarm_unacked,discrete_input,2,10003,bit,,any alarm not acknowledged (active or not)'));
  t.ok(csv.includes('b,anomaly,input_register,16,30017,float32,CDAB,anomaly score (NaN until known)'));
  t.ok(csv.some((l) => l.startsWith('a,label_index,input_register,4,30005,uint16,,')));
  t.ok(csv.some((l) => l.startsWith('b,alarm,discrete_input,1,10002,bit,,')));
  const covered = DEVICE_FIELDS.reduce((n, f) => n + (f.type === 'uint16' ? 1 : 2), 0);
  t.equal(covered, BLOCK_SIZE, 'the block has no holes');
  t.ok(map.inputRegistersInRange(0, 32));
  t.notOk(map.inputRegistersInRange(31, 2));
  t.notOk(map.inputRegistersInRange(0, 0));
  t.ok(map.discreteInputsInRange(1, 1));
  t.ok(map.discreteInputsInRange(3, 1), 'unacknowledged bits follow the alarm bits');
  t.notOk(map.discreteInputsInRange(4, 1));
});

t.test('a block encodes state, with sentinels for unknown values', async (t) => {
  const map = new RegisterMap([{ id: 'a', labels: ['normal', 'wear'] }], { wordOrder: 'ABCD' });
  const device: DeviceState = {
    id: 'a',
    configured: true,
    labels: ['normal', 'wear'],
    label: 'wear',
    confidence: 0.75,
    anomaly: 1.5,
    model: { name: 'm', version: '2.10.3-rc1' },
    seq: 2 ** 32 + 7,
    lastSeenAt: 10_000,
    events: 3,
    rate: new MinuteRate(0),
    alarms: new Map([
      [
        'r',
        { device: 'a', rule: 'r', active: true, acked: false, confirmed: false, severity: 1, value: 1, raisedAt: 0, ts: 0, message: '' },
      ],
    ]),
    unacked: new Set(['r']),
  };
  const regs = map.readInputRegisters(0, 16, () => ({ device, online: true, nowMs: 72_500 }));
  t.equal(decode([regs[0]!, regs[1]!], { type: 'float32', order: 'ABCD' }), 1.5);
  t.equal(decode([regs[2]!, regs[3]!], { type: 'float32', order: 'ABCD' }), 0.75);
  t.same(regs.slice(4, 8), [1, 2, 10, 3]);
  t.equal(decode([regs[8]!, regs[9]!], { type: 'uint32', order: 'ABCD' }), 62);
  t.equal(decode([regs[10]!, regs[11]!], { type: 'uint32', order: 'ABCD' }), 7);
  t.same(regs.slice(12, 14), [1, 1]);
  t.equal(regs[15], 3);

  const unknown = map.readInputRegisters(0, 16, () => ({ device: undefined, online: false, nowMs: 0 }));
  t.ok(Number.isNaN(decode([unknown[0]!, unknown[1]!], { type: 'float32', order: 'ABCD' })));
  t.equal(unknown[4], 0xffff);
  t.same(unknown.slice(8, 10), [0xffff, 0xffff]);
  t.same(
    map.readInputRegisters(3, 2, () => ({ device, online: true, nowMs: 0 })),
    regs.slice(3, 5),
    'partial reads align',
  );
});

t.test('the test pattern: known values at its address, in both register tables, in the map order', async (t) => {
  for (const wordOrder of ['ABCD', 'CDAB', 'BADC', 'DCBA'] as const) {
    const map = new RegisterMap([{ id: 'a', labels: [] }], { wordOrder, testPattern: { enabled: true, address: 100 } });
    t.ok(map.holdingRegistersInRange(100, TEST_PATTERN_SIZE));
    t.notOk(map.holdingRegistersInRange(99, 2));
    t.notOk(map.holdingRegistersInRange(100, TEST_PATTERN_SIZE + 1));
    t.ok(map.inputRegistersInRange(100, TEST_PATTERN_SIZE));
    t.notOk(map.inputRegistersInRange(15, 86), 'a read across the gap is refused');
    const registers = map.readInputRegisters(100, TEST_PATTERN_SIZE, () => ({ device: undefined, online: false, nowMs: 0 }));
    t.same(map.readHoldingRegisters(100, TEST_PATTERN_SIZE), registers);
    for (const f of TEST_PATTERN) {
      const value = decode(registers.slice(f.offset), { type: f.type, order: wordOrder });
      t.equal(value, typeof f.value === 'number' && f.type === 'float32' ? Math.fround(f.value) : f.value, `${f.field} ${wordOrder}`);
    }
  }
  t.notOk(new RegisterMap([], { wordOrder: 'ABCD' }).holdingRegistersInRange(9000, 1), 'no pattern unless enabled');
});
