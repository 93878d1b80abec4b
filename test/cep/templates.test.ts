import t from 'tap';
import { readFileSync } from 'node:fs';
import { map, filter, type Observable } from 'rxjs';
import type { TestScheduler } from 'rxjs/testing';
import { RuleEngine } from '../../src/cep/rules/engine.js';
import { parseRules } from '../../src/config/load.js';
import type { InferenceEvent } from '../../src/normalise/inference-event.js';
import { marbleScheduler } from '../helpers/operator-contract.js';

/** A template from gateway-config/rules, as shipped. */
const template = (name: string) => parseRules(readFileSync(`gateway-config/rules/${name}.yaml`, 'utf8'), name);

type Partial = Omit<InferenceEvent, 'ts' | 'model'> & { model?: InferenceEvent['model'] };
const model = { name: 'motor-ad', version: '1.2.0' };

/** The template's alarm transitions as "<device><r|c>", on events stamped with the frame they arrive at. */
function alarms(s: TestScheduler, name: string, events: Observable<Partial>): Observable<string> {
  const engine = new RuleEngine(template(name), {}, s);
  return engine.connect(events.pipe(map((e) => ({ model, ...e, ts: s.now() })))).pipe(
    filter((o) => o.type === 'alarm'),
    map((o) => (o.type === 'alarm' ? `${o.alarm.device}${o.alarm.state === 'raised' ? 'r' : 'c'}` : '')),
  );
}

/** "h 999ms h 999ms l": one event per `gapMs`. */
const series = (chars: string, gapMs: number): string => [...chars].join(` ${gapMs - 1}ms `);

t.test('anomaly persistence: 3 of 5 raise, 5 below clear', async (t) => {
  const s = marbleScheduler(t);
  s.run(({ cold, expectObservable }) => {
    const values = { h: { device: 'm1', anomaly: 0.9 }, l: { device: 'm1', anomaly: 0.1 } };
    expectObservable(alarms(s, 'anomaly-persistence', cold('hlhlhlllll|', values))).toBe('----r----c|', { r: 'm1r', c: 'm1c' });
  });
});

t.test('rising trend with remaining useful life: raised while the line reaches 0.9 within 10 min, cleared when it falls', async (t) => {
  const s = marbleScheduler(t);
  const seen: string[] = [];
  s.run(({ cold }) => {
    // Letters a..z are anomaly 0, 0.02, … 0.5.
    const values: Record<string, Partial> = {};
    [...'abcdefghijklmnopqrstuvwxyz'].forEach((c, i) => (values[c] = { device: 'm1', anomaly: i * 0.02 }));
    // Healthy noise for a minute, then a rise of 0.02 per second, then back to healthy.
    const input = 'cb'.repeat(30) + 'abcdefghijklmnopqrstuvwxyz' + 'c'.repeat(90);
    alarms(s, 'anomaly-trend-rul', cold(series(input, 1000) + '|', values)).subscribe((a) => seen.push(`${a}@${s.now() / 1000}`));
  });
  t.same(seen.length, 2, `one raise, one clear: ${seen.join(' ')}`);
  t.match(seen[0], /^m1r@(6\d|7\d|8[0-5])$/, 'raised during the rise (60 s to 85 s)');
  t.match(seen[1], /^m1c@/, 'cleared once the trend is gone');
});

t.test('device silent: raised 30 s after the last event, cleared by the next one; a busy device is not', async (t) => {
  const s = marbleScheduler(t);
  s.run(({ cold, expectObservable }) => {
    const values = { a: { device: 'm1', anomaly: 0.1 }, b: { device: 'm2', anomaly: 0.1 } };
    const input = cold('a 9999ms b 9999ms b 9999ms b 9999ms b 9999ms a 9999ms b|', values);
    expectObservable(alarms(s, 'device-silent', input)).toBe('30000ms r 19999ms c 10000ms |', { r: 'm1r', c: 'm1c' });
  });
});

t.test('inference rate below SLO: a minute at 0.25/s raises when its window closes; back at 1/s it clears', async (t) => {
  const s = marbleScheduler(t);
  const seen: string[] = [];
  s.run(({ cold }) => {
    const e = { e: { device: 'm1', anomaly: 0.1 } };
    // Windows are [0, 60 s), [60 s, 120 s), …; the input ends on a window boundary, so no partial window closes at the end.
    const minute = (n: number, gapMs: number): string => series('e'.repeat(n), gapMs) + ` ${gapMs - 1}ms `;
    const input = minute(60, 1000) + minute(15, 4000) + minute(60, 1000) + minute(60, 1000) + '|';
    alarms(s, 'inference-rate-slo', cold(input, e)).subscribe((a) => seen.push(`${a}@${s.now() / 1000}`));
  });
  t.same(seen, ['m1r@120', 'm1c@180']);
});

t.test('confidence drift: a sustained fall of top-class confidence raises; the alarm expires after an hour', async (t) => {
  const s = marbleScheduler(t);
  const seen: string[] = [];
  s.run(({ cold }) => {
    const values = {
      h: { device: 'm1', scores: { normal: 0.95, wear: 0.05 } },
      H: { device: 'm1', scores: { normal: 0.93, wear: 0.07 } },
      d: { device: 'm1', scores: { normal: 0.6, wear: 0.4 } },
    };
    alarms(s, 'confidence-drift', cold(series('hH'.repeat(20) + 'd'.repeat(10), 1000) + ' 3700s |', values)).subscribe((a) =>
      seen.push(`${a}@${s.now() / 1000}`),
    );
  });
  t.equal(seen.length, 2, seen.join(' '));
  t.match(seen[0], /^m1r@4[0-4]$/, 'raised within a few points of the fall (at 40 s)');
  const raisedAt = Number(seen[0]!.split('@')[1]);
  t.equal(seen[1], `m1c@${raisedAt + 3600}`, 'cleared an hour later');
});

t.test('model-version mismatch: the odd device out is raised until it is updated', async (t) => {
  const s = marbleScheduler(t);
  s.run(({ cold, expectObservable }) => {
    const v = (device: string, version: string) => ({ device, anomaly: 0.1, model: { name: 'motor-ad', version } });
    const values = { a: v('m1', '1.2.0'), b: v('m2', '1.2.0'), c: v('m3', '1.1.0'), C: v('m3', '1.2.0'), o: v('x1', '0.9.0') };
    const other = { ...values, o: { device: 'x1', anomaly: 0.1, model: { name: 'other-model', version: '0.9.0' } } };
    expectObservable(alarms(s, 'model-version-mismatch', cold('abcoaC|', other))).toBe('--r--c|', { r: 'm3r', c: 'm3c' });
  });
});

t.test('anomaly not followed by recovery within 10 min: raised at the deadline, cleared by the recovery', async (t) => {
  const s = marbleScheduler(t);
  s.run(({ cold, expectObservable }) => {
    const values = { h: { device: 'm1', anomaly: 0.85 }, m: { device: 'm1', anomaly: 0.5 }, l: { device: 'm1', anomaly: 0.1 } };
    // A transient (recovered after 5 min) is fine; the second anomaly (minute 10) is not recovered until minute 30.
    const input = cold('h 299999ms l 299999ms h 299999ms m 899999ms l 9999ms |', values);
    expectObservable(alarms(s, 'anomaly-no-recovery', input)).toBe('1200001ms r 599998ms c 9999ms |', { r: 'm1r', c: 'm1c' });
  });
});
