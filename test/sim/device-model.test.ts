import t from 'tap';
import { seededRandom, simulateEvent, wearAt, type SimDeviceProfile } from '../../src/sim/device-model.js';
import { fleetProfiles, simDeviceId } from '../../src/sim/fleet.js';
import { decodeEventJson } from '../../src/normalise/decode-mqtt.js';

const profile: SimDeviceProfile = { id: 'sim-01', degrading: true, degradeStartMs: 1000, rampMs: 10_000, holdMs: 5000, healthyMs: 5000 };

t.test('wear ramps, holds, resets after maintenance and cycles', async (t) => {
  t.equal(wearAt(profile, 0), 0);
  t.equal(wearAt(profile, 6000), 0.5);
  t.equal(wearAt(profile, 13_000), 1);
  t.equal(wearAt(profile, 18_000), 0);
  t.equal(wearAt(profile, 21_000 + 5000), 0.5);
  t.equal(wearAt({ ...profile, degrading: false }, 6000), 0);
});

t.test('simulated events are valid v1 events; healthy ones stay low, worn ones high', async (t) => {
  const rand = seededRandom(7);
  const healthy = Array.from({ length: 200 }, (_, i) => simulateEvent({ ...profile, degrading: false }, i * 500, i, i, rand));
  const worn = Array.from({ length: 200 }, (_, i) => simulateEvent(profile, 13_000, i, i, rand));
  for (const e of [...healthy, ...worn]) t.ok(decodeEventJson(e, 0).ok) || t.fail(JSON.stringify(e));
  const mean = (xs: { anomaly?: number }[]) => xs.reduce((s, e) => s + (e.anomaly ?? 0), 0) / xs.length;
  t.ok(mean(healthy) < 0.2, `healthy mean ${mean(healthy)}`);
  t.ok(mean(worn) > 0.85, `worn mean ${mean(worn)}`);
  t.equal(worn[0]?.label, 'bearing_wear');
  t.equal(healthy[0]?.label, 'normal');
});

t.test('the same seed gives the same stream', async (t) => {
  const a = seededRandom(3);
  const b = seededRandom(3);
  t.same(simulateEvent(profile, 5000, 1, 1, a), simulateEvent(profile, 5000, 1, 1, b));
});

t.test('a quarter of the fleet degrades, staggered', async (t) => {
  const fleet = fleetProfiles({ devices: 8, degradingShare: 0.25, rampMs: 40_000, idPrefix: 'sim-' });
  t.same(
    fleet.filter((p) => p.degrading).map((p) => [p.id, p.degradeStartMs]),
    [
      ['sim-04', 0],
      ['sim-08', 10_000],
    ],
  );
  t.equal(fleetProfiles({ devices: 3, degradingShare: 0, rampMs: 1, idPrefix: 'x' }).filter((p) => p.degrading).length, 0);
  t.equal(simDeviceId('sim-', 4, 120), 'sim-005');
});
