import t from 'tap';
import { WORD_ORDERS } from '../../src/config/schema.js';
import { decode, encode, registerCount, type NumberType } from '../../src/core/register-codec.js';

t.test('byte and word orders place the bytes A B C D … as documented', async (t) => {
  // 123.456 as float32 is 0x42F6E979.
  t.same(encode(123.456, { type: 'float32', order: 'ABCD' }), [0x42f6, 0xe979]);
  t.same(encode(123.456, { type: 'float32', order: 'CDAB' }), [0xe979, 0x42f6]);
  t.same(encode(123.456, { type: 'float32', order: 'BADC' }), [0xf642, 0x79e9]);
  t.same(encode(123.456, { type: 'float32', order: 'DCBA' }), [0x79e9, 0xf642]);
  // 123.456789 as float64 is 0x405EDD3C07EE0B0B: CDAB reverses all four registers.
  t.same(encode(123.456789, { type: 'float64', order: 'ABCD' }), [0x405e, 0xdd3c, 0x07ee, 0x0b0b]);
  t.same(encode(123.456789, { type: 'float64', order: 'CDAB' }), [0x0b0b, 0x07ee, 0xdd3c, 0x405e]);
  t.same(encode(123.456789, { type: 'float64', order: 'BADC' }), [0x5e40, 0x3cdd, 0xee07, 0x0b0b]);
  t.same(encode(123.456789, { type: 'float64', order: 'DCBA' }), [0x0b0b, 0xee07, 0x3cdd, 0x5e40]);
  t.same(encode(-2, { type: 'int32', order: 'ABCD' }), [0xffff, 0xfffe]);
  t.same(encode(-2, { type: 'int32', order: 'CDAB' }), [0xfffe, 0xffff]);
  t.same(encode(-2, { type: 'int16', order: 'ABCD' }), [0xfffe], '16-bit values ignore the word order');
  t.same(encode(-2, { type: 'int16', order: 'CDAB' }), [0xfffe]);
  t.same(encode(-2, { type: 'int16', order: 'BADC' }), [0xfeff], 'but not the byte order');
});

t.test('every type round-trips in every order', async (t) => {
  const samples: [NumberType, number][] = [
    ['int16', -12345],
    ['uint16', 54321],
    ['int32', -123456789],
    ['uint32', 3456789012],
    ['float32', Math.fround(-0.15625)],
    ['float64', 123.456789],
  ];
  for (const order of WORD_ORDERS) {
    for (const [type, value] of samples) {
      const registers = encode(value, { type, order });
      t.equal(registers.length, registerCount(type));
      t.equal(decode(registers, { type, order }), value, `${type} ${order}`);
    }
    t.equal(decode(encode('TinyML-7', { type: { string: 8 }, order }), { type: { string: 8 }, order }), 'TinyML-7', `string ${order}`);
  }
});

t.test('scale and offset: value = raw × scale + offset, rounded and clamped to the type', async (t) => {
  const permille = { type: 'uint16', order: 'ABCD', scale: 0.001 } as const;
  t.same(encode(0.734, permille), [734]);
  t.equal(decode([734], permille), 0.734);
  const celsius = { type: 'int16', order: 'ABCD', scale: 0.1, offset: -40 } as const;
  t.same(encode(25.3, celsius), [653]);
  t.equal(Math.round((decode([653], celsius) as number) * 10) / 10, 25.3);
  t.same(encode(70_000, { type: 'uint16', order: 'ABCD' }), [0xffff], 'above the range: the largest');
  t.same(encode(-40_000, { type: 'int16', order: 'ABCD' }), [0x8000], 'below: the smallest');
  t.same(encode(-1, { type: 'uint32', order: 'ABCD' }), [0, 0]);
});

t.test('unknown values: NaN, the largest unsigned, the smallest signed, empty text', async (t) => {
  t.ok(Number.isNaN(decode(encode(undefined, { type: 'float32', order: 'ABCD' }), { type: 'float32', order: 'ABCD' })));
  t.same(encode(undefined, { type: 'uint16', order: 'ABCD' }), [0xffff]);
  t.same(encode(Number.NaN, { type: 'uint32', order: 'CDAB' }), [0xffff, 0xffff]);
  t.same(encode(undefined, { type: 'int16', order: 'ABCD' }), [0x8000]);
  t.same(encode(undefined, { type: { string: 4 }, order: 'ABCD' }), [0, 0]);
});

t.test('text: two characters a register, cut or zero-padded; only the byte swap applies', async (t) => {
  t.same(encode('TinyML', { type: { string: 5 }, order: 'ABCD' }), [0x5469, 0x6e79, 0x4d00], "cut to 5: 'TinyM'");
  t.same(encode('TinyML', { type: { string: 5 }, order: 'CDAB' }), [0x5469, 0x6e79, 0x4d00]);
  t.same(encode('TinyML', { type: { string: 5 }, order: 'BADC' }), [0x6954, 0x796e, 0x004d]);
  t.equal(decode([0x5469, 0x6e79, 0x4d00], { type: { string: 5 }, order: 'ABCD' }), 'TinyM');
  t.equal(registerCount({ string: 5 }), 3);
});
