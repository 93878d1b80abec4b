import t from 'tap';
import { compareVersions, ModelInventory } from '../../src/state/model-inventory.js';

const M = (version: string) => ({ name: 'motor-ad', version });

t.test('versions per device and per fleet', async (t) => {
  const inv = new ModelInventory(60_000, 300);
  inv.observe('a', M('1.2'), 10);
  inv.observe('a', M('1.2'), 20);
  inv.observe('a', M('1.10'), 30);
  inv.observe('b', M('1.2'), 15);
  inv.observe('c', { name: 'kws', version: '3' }, 40);
  t.same(
    inv.history('a').map((r) => [r.version, r.firstSeen, r.lastSeen, r.events]),
    [
      ['1.2', 10, 20, 2],
      ['1.10', 30, 30, 1],
    ],
  );
  t.same(inv.history('nobody'), []);
  t.same(inv.fleet(), [
    { name: 'kws', versions: [{ version: '3', devices: 1, firstSeen: 40, lastSeen: 40 }] },
    {
      name: 'motor-ad',
      versions: [
        { version: '1.2', devices: 1, firstSeen: 10, lastSeen: 20 },
        { version: '1.10', devices: 1, firstSeen: 30, lastSeen: 30 },
      ],
    },
  ]);
});

t.test("a device that goes back to a version it ran counts on in that version's record", async (t) => {
  const inv = new ModelInventory(60_000, 300);
  inv.observe('a', M('1.0'), 10);
  inv.observe('a', M('1.0'), 20);
  inv.observe('a', M('1.1'), 30);
  inv.observe('a', M('1.0'), 40);
  inv.observe('a', M('1.0'), 50);
  t.same(
    inv.history('a').map((r) => [r.version, r.firstSeen, r.lastSeen, r.events]),
    [
      ['1.0', 10, 50, 4],
      ['1.1', 30, 30, 1],
    ],
  );
  t.match(inv.groups(), [{ group: 'motor-ad', versions: { '1.0': 1 } }], 'current is 1.0 again');
});

t.test('a group on mixed versions longer than allowed: alarms on the lagging devices, cleared once they catch up', async (t) => {
  const inv = new ModelInventory(60_000, 300);
  inv.configure((d) => (d.startsWith('l1-') ? 'line-1' : undefined), 60_000, 300);
  inv.observe('l1-a', M('2.0'), 0);
  inv.observe('l1-b', M('2.0'), 0);
  inv.observe('other', M('1.0'), 0); // another group (its model's), alone
  t.same(inv.check(0), []);
  inv.observe('l1-a', M('2.1'), 1000); // the roll-out starts
  t.same(inv.check(1000), []);
  t.match(inv.groups(), [
    { group: 'line-1', versions: { '2.0': 1, '2.1': 1 }, mixedSince: 1000 },
    { group: 'motor-ad', versions: { '1.0': 1 } },
  ]);
  t.same(inv.check(60_999), [], 'not yet: a roll-out takes time');
  t.match(inv.check(61_000), [
    { device: 'l1-b', rule: 'model-versions-mixed', state: 'raised', severity: 300, message: 'l1-b runs 2.0; group line-1 runs 2.1 too' },
  ]);
  t.same(inv.check(62_000), [], 'raised once');
  inv.observe('l1-b', M('2.1'), 63_000);
  t.match(inv.check(63_000), [{ device: 'l1-b', state: 'cleared' }]);
  t.notOk(inv.groups()[0]!.mixedSince);
  const off = new ModelInventory(0, 300);
  off.observe('x', M('1'), 0);
  off.observe('y', M('2'), 0);
  t.same(off.check(1e9), [], 'mixedAfterMs 0: no alarm');
});

t.test('versions compare numerically by part', async (t) => {
  t.ok(compareVersions('1.10', '1.9') > 0);
  t.ok(compareVersions('2.0.0', '2.0') > 0);
  t.equal(compareVersions('1.2', '1.2'), 0);
  t.ok(compareVersions('1.2-beta', '1.2-alpha') > 0);
});
