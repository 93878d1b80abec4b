import t from 'tap';
import { join } from 'node:path';
import { readdirSync, writeFileSync } from 'node:fs';
import { DeviceRegistry, RegistryCommandError } from '../../src/state/device-registry.js';
import { silentLogger } from '../../src/core/logger.js';
import type { InferenceEvent } from '../../src/normalise/inference-event.js';
import { tempDir } from '../helpers/temp-dir.js';

const event = (device: string): InferenceEvent => ({ device, ts: 1, model: { name: 'm', version: '1' }, anomaly: 0.1 });

t.test('each policy, for devices not in the config', async (t) => {
  let now = 1000;
  const clock = { now: () => now };
  const auto = new DeviceRegistry('auto', clock, silentLogger());
  auto.configure([{ id: 'cfg' }], 'auto');
  t.equal(auto.admit(event('cfg')), 'bridge');
  t.equal(auto.admit(event('new')), 'bridge');
  t.match(auto.get('new'), { status: 'auto', firstSeen: 1000, model: { name: 'm' } });

  const allow = new DeviceRegistry('allowlist', clock, silentLogger());
  allow.configure([{ id: 'cfg' }], 'allowlist');
  t.equal(allow.admit(event('cfg')), 'bridge');
  t.equal(allow.admit(event('stranger')), 'unknown_device');
  t.equal(allow.get('stranger'), undefined, 'refused devices are not registered');

  const q = new DeviceRegistry('quarantine', clock, silentLogger());
  q.configure([], 'quarantine');
  t.equal(q.admit(event('q1')), 'hold');
  now = 2000;
  t.equal(q.admit(event('q1')), 'hold');
  t.match(q.get('q1'), { status: 'quarantined', held: 2, firstSeen: 1000, lastSeen: 2000 });
  t.match(q.approve('q1', 'http:me'), { status: 'approved', by: 'http:me', since: 2000 });
  t.notOk('held' in q.get('q1')!);
  t.equal(q.admit(event('q1')), 'bridge');
  q.revoke('q1', 'http:me');
  t.equal(q.admit(event('q1')), 'revoked');
  t.match(q.remove('q1', 'http:me'), { id: 'q1' });
  t.equal(q.admit(event('q1')), 'hold', 'forgotten: quarantined again');
  t.throws(() => q.remove('nope', 'x'), new RegistryCommandError('unknown', 'no device nope'));
});

t.test('configured devices: always admitted unless revoked; cannot be removed; reload keeps decisions', async (t) => {
  const r = new DeviceRegistry('allowlist', { now: () => 5 }, silentLogger());
  r.configure([{ id: 'a' }, { id: 'b' }], 'allowlist');
  r.revoke('b', 'op');
  t.equal(r.admit(event('b')), 'revoked');
  t.throws(() => r.remove('a', 'op'), RegistryCommandError);
  r.configure([{ id: 'a' }, { id: 'b' }], 'allowlist');
  t.equal(r.admit(event('b')), 'revoked', 'a reload does not undo a revocation');
  t.equal(r.approve('b', 'op').status, 'configured', 'approving a configured device gives it back its status');
  r.configure([{ id: 'b' }], 'quarantine');
  t.equal(r.get('a'), undefined, 'dropped from the config: forgotten');
  t.equal(r.admit(event('a')), 'hold', 'and the new policy applies');
  t.same(
    r.list().map((e) => [e.id, e.status]),
    [
      ['a', 'quarantined'],
      ['b', 'configured'],
    ],
  );
});

t.test('decisions survive a restart; a damaged file is set aside', async (t) => {
  const dir = tempDir(t, 'registry-');
  const file = join(dir, 'devices.json');
  const first = new DeviceRegistry('quarantine', { now: () => 1 }, silentLogger(), file);
  first.configure([{ id: 'cfg' }], 'quarantine');
  first.admit(event('held'));
  first.approve('ok', 'op');
  first.revoke('cfg', 'op');
  const second = new DeviceRegistry('quarantine', { now: () => 2 }, silentLogger(), file);
  second.configure([{ id: 'cfg' }], 'quarantine');
  second.load();
  t.same(
    second.list().map((e) => [e.id, e.status]),
    [
      ['cfg', 'revoked'],
      ['held', 'quarantined'],
      ['ok', 'approved'],
    ],
  );
  writeFileSync(file, '{"version": 9}');
  const third = new DeviceRegistry('quarantine', { now: () => 3 }, silentLogger(), file);
  third.load();
  t.same(third.list(), []);
  t.match(readdirSync(dir), ['devices.json.damaged-3']);
});
