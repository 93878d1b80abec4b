import t from 'tap';
import { RegisterMap, BLOCK_SIZE, DEVICE_FIELDS } from '../../src/servers/modbus-tcp/register-map.js';
import { float32Registers, fromRegisters, uint32Registers } from '../../src/servers/modbus-tcp/word-order.js';
import { WORD_ORDERS } from '../../src/config/schema.js';
import type { DeviceState } from '../../src/state/device-state.js';
import { MinuteRate } from '../../src/state/minute-rate.js';

t.test('word orders place bytes A B C D as documented', async (t) => {
  const bytes = Buffer.from([0x42, 0xf6, 0xe9, 0x79]); // 123.456 as float32 big-endian
  t.equal(bytes.readFloatBE(), Math.fround(123.456));
  t.same(float32Registers(123.456, 'ABCD'), [0x42f6, 0xe979]);
  t.same(float32Registers(123.456, 'CDAB'), [0xe979, 0x42f6]);
  t.same(float32Registers(123.456, 'BADC'), [0xf642, 0x79e9]);
  t.same(float32Registers(123.456, 'DCBA'), [0x79e9, 0xf642]);
  for (const order of WORD_ORDERS) {
    t.equal(fromRegisters(float32Registers(-0.5, order), order).readFloatBE(), -0.5, `${order} round-trips`);
    t.equal(fromRegisters(uint32Registers(0x01020304, order), order).readUInt32BE(), 0x01020304);
  }
  t.same(uint32Registers(-5, 'ABCD'), [0, 0], 'uint32 clamps below 0');
});

t.test('addresses depend on config order only; the CSV lists every field', async (t) => {
  const map = new RegisterMap(
    [
      { id: 'a', labels: [] },
      { id: 'b', labels: [] },
    ],
    'CDAB',
  );
  const csv = map.toCsv().trim().split('\n');
  t.equal(csv[0], 'device,field,table,address,type,word_order');
  t.equal(csv.length, 1 + 2 * (DEVICE_FIELDS.length + 2));
  t.ok(csv.includes('a,alarm_unacked,discrete_input,2,bit,'));
  t.ok(csv.includes('b,anomaly,input_register,16,float32,CDAB'));
  t.ok(csv.includes('a,label_index,input_register,4,uint16,'));
  t.ok(csv.includes('b,alarm,discrete_input,1,bit,'));
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
  const map = new RegisterMap([{ id: 'a', labels: ['normal', 'wear'] }], 'ABCD');
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
  t.equal(fromRegisters([regs[0]!, regs[1]!], 'ABCD').readFloatBE(), 1.5);
  t.equal(fromRegisters([regs[2]!, regs[3]!], 'ABCD').readFloatBE(), 0.75);
  t.same(regs.slice(4, 8), [1, 2, 10, 3]);
  t.equal(fromRegisters([regs[8]!, regs[9]!], 'ABCD').readUInt32BE(), 62);
  t.equal(fromRegisters([regs[10]!, regs[11]!], 'ABCD').readUInt32BE(), 7);
  t.same(regs.slice(12, 14), [1, 1]);
  t.equal(regs[15], 3);

  const unknown = map.readInputRegisters(0, 16, () => ({ device: undefined, online: false, nowMs: 0 }));
  t.ok(Number.isNaN(fromRegisters([unknown[0]!, unknown[1]!], 'ABCD').readFloatBE()));
  t.equal(unknown[4], 0xffff);
  t.same(unknown.slice(8, 10), [0xffff, 0xffff]);
  t.same(
    map.readInputRegisters(3, 2, () => ({ device, online: true, nowMs: 0 })),
    regs.slice(3, 5),
    'partial reads align',
  );
});
