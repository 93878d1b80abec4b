import t from 'tap';
import { modbusPollSchema } from '../../src/config/poll-schema.js';
import { encode } from '../../src/core/register-codec.js';
import { decodeRegisters, profileBlock } from '../../src/normalise/decode-registers.js';
import { decodeEventJson } from '../../src/normalise/decode-mqtt.js';
import { reopenDelay, retryDelay } from '../../src/ingest/modbus/backoff.js';

const profileOf = (p: Record<string, unknown>) => {
  const config = modbusPollSchema.parse({ profiles: { p: { model: { name: 'm' }, labels: ['ok', 'worn'], seq: { address: 10 }, ...p } } });
  return config.profiles.p!;
};

t.test('a profile is read as one block from its lowest to its highest register', async (t) => {
  t.same(profileBlock(profileOf({ anomaly: { address: 20, type: 'float64' } })), { start: 10, count: 14 });
  t.same(profileBlock(profileOf({ scores: { address: 4, type: 'uint32' }, modelVersion: { address: 11 } })), { start: 4, count: 10 });
});

t.test('registers decode into an InferenceEvent that validates; bad values are left to validation', async (t) => {
  const p = profileOf({
    wordOrder: 'CDAB',
    seq: { address: 0, type: 'uint32' },
    labelIndex: { address: 2 },
    anomaly: { address: 3, type: 'int16', scale: 0.001 },
    scores: { address: 4, type: 'float32' },
    modelVersion: { address: 8 },
  });
  const registers = [
    ...encode(70000, { type: 'uint32', order: 'CDAB' }),
    1,
    625,
    ...encode(0.25, { type: 'float32', order: 'CDAB' }),
    ...encode(0.75, { type: 'float32', order: 'CDAB' }),
    2,
    0,
    7,
  ];
  const { seq, event } = decodeRegisters(p, 'mcu-1', registers);
  t.equal(seq, 70000);
  t.same(event, {
    v: 1,
    device: 'mcu-1',
    seq: 70000,
    model: { name: 'm', version: '2.0.7' },
    label: 'worn',
    anomaly: 0.625,
    scores: { ok: 0.25, worn: 0.75 },
  });
  t.ok(decodeEventJson(event, 1).ok);

  const outOfRange = decodeRegisters(p, 'mcu-1', [0, 1, 9, 625, ...encode(2, { type: 'float32', order: 'CDAB' }), 0, 0, 1, 0, 0]);
  t.notOk('label' in outOfRange.event, 'a label index past the labels is left out');
  t.match(decodeEventJson(outOfRange.event, 1), { ok: false, reason: 'schema', detail: /scores/ }, 'a score of 2 fails validation');
  t.same(profileOf({ anomaly: { address: 1 } }).model.version, '0', 'a fixed version when no registers hold it');
});

t.test('profiles and buses are checked: one transport per bus, known profiles, unit ids once', async (t) => {
  const issues = (raw: unknown) => modbusPollSchema.safeParse(raw).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];
  const profiles = { p: { model: { name: 'm' }, labels: ['a'], seq: { address: 0 }, anomaly: { address: 1 } } };
  const bus = (extra: Record<string, unknown>) => ({ name: 'b', devices: [{ id: 'd1', unitId: 1, profile: 'p' }], ...extra });
  t.match(issues({ profiles, buses: [bus({})] }), [/^buses\.0\.rtu: a bus has either rtu or tcp/]);
  t.match(issues({ profiles, buses: [bus({ tcp: { host: 'h' }, devices: [{ id: 'd1', unitId: 1, profile: 'q' }] })] }), [
    /profile: no profile 'q'/,
  ]);
  t.match(
    issues({
      profiles,
      buses: [
        bus({
          tcp: { host: 'h' },
          devices: [
            { id: 'd1', unitId: 1, profile: 'p' },
            { id: 'd2', unitId: 1, profile: 'p' },
          ],
        }),
      ],
    }),
    [/^buses\.0\.devices\.1\.unitId: unit id 1 is used twice/],
  );
  t.match(issues({ profiles: { p: { model: { name: 'm' }, labels: ['a'], seq: { address: 0 } } } }), [
    /^profiles\.p\.seq: a profile needs at least one of/,
  ]);
  t.match(issues({ profiles: { p: { ...profiles.p, anomaly: { address: 1, type: 'float32', scale: 2 } } } }), [
    /anomaly\.scale: scale and offset apply to integer types only/,
  ]);
});

t.test('backoff: an offline device is retried at doubling intervals up to the maximum', async (t) => {
  t.same(
    [0, 1, 2, 3, 10].map((k) => retryDelay(k, 100, 1000)),
    [200, 400, 800, 1000, 1000],
  );
  t.same(
    [0, 1, 2, 8].map((k) => reopenDelay(k, 5000)),
    [250, 500, 1000, 5000],
  );
});
