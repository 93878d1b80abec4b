import t from 'tap';
import { deviceTopicLevel, globListProblem, globMatcher, topicMatches } from '../../src/node-red/match.js';
import { alarmFilter, eventFilter } from '../../src/node-red/filters.js';
import { AlarmList } from '../../src/node-red/alarm-list.js';
import { gatewayTopic, parseGatewayMessage } from '../../src/node-red/gateway-messages.js';
import type { AlarmEvent } from '../../src/core/alarm.js';

t.test('glob lists', async (t) => {
  const m = globMatcher(' press-*, fan-0? ,mixer ');
  t.same(['press-1', 'press-', 'fan-07', 'fan-100', 'mixer', 'mixer-2', 'pre'].map(m), [true, true, true, false, true, false, false]);
  t.ok(globMatcher('')('anything'), 'empty matches all');
  t.ok(globMatcher(undefined)('anything'));
  t.ok(globMatcher('a, *')('b'), '* anywhere matches all');
  t.notOk(globMatcher('a.b')('axb'), 'a dot is a dot, not a regex wildcard');
  t.equal(globListProblem('press-*, motor@2.*'), undefined);
  t.equal(globListProblem(''), undefined);
  t.match(globListProblem('ok, bad/topic'), /'bad\/topic' is not a name or glob/);
  t.equal(deviceTopicLevel('press-01'), 'press-01', 'one device: subscribe to its topic only');
  t.equal(deviceTopicLevel('press-0*'), '+');
  t.equal(deviceTopicLevel('a, b'), '+');
  t.equal(deviceTopicLevel(''), '+');
});

t.test('MQTT topic filters', async (t) => {
  t.ok(topicMatches('tinyml/+/event', 'tinyml/a/event'));
  t.notOk(topicMatches('tinyml/+/event', 'tinyml/a/alarm'));
  t.notOk(topicMatches('tinyml/+/event', 'tinyml/a/event/x'));
  t.notOk(topicMatches('tinyml/+/event/x', 'tinyml/a/event'));
  t.ok(topicMatches('tinyml/#', 'tinyml/a/event'));
});

t.test('event filter: device, model or model@version, label, minimum anomaly', async (t) => {
  const e = (device: string, anomaly?: number, label?: string, version = '2.3.1') => ({
    device,
    anomaly,
    label,
    model: { name: 'motor-ad', version },
  });
  const f = eventFilter({ devices: 'press-*', models: 'motor-ad@2.*', labels: 'wear, imbalance', minAnomaly: 0.5 });
  t.ok(f(e('press-1', 0.6, 'wear')));
  t.notOk(f(e('fan-1', 0.6, 'wear')), 'device');
  t.notOk(f(e('press-1', 0.6, 'wear', '3.0.0')), 'model version');
  t.notOk(f(e('press-1', 0.6, 'normal')), 'label');
  t.notOk(f(e('press-1', 0.6)), 'no label with a label filter');
  t.notOk(f(e('press-1', 0.4, 'wear')), 'below the minimum');
  t.notOk(f(e('press-1', undefined, 'wear')), 'no anomaly with a minimum');
  t.ok(eventFilter({ models: 'motor-ad' })(e('x')), 'a bare name matches any version');
  t.ok(eventFilter({})({ device: 'x' }), 'no filter, even without a model');
});

const alarm = (over: Partial<AlarmEvent>): AlarmEvent => ({
  device: 'press-1',
  rule: 'wear',
  state: 'raised',
  active: true,
  acked: false,
  confirmed: false,
  severity: 800,
  message: 'm',
  value: 1,
  raisedAt: 100,
  ts: 100,
  ...over,
});

t.test('alarm filter: device, rule, severity, transitions', async (t) => {
  const f = alarmFilter({ devices: 'press-*', rules: 'we*', minSeverity: 500, states: ['raised', 'cleared'] });
  t.ok(f(alarm({})));
  t.notOk(f(alarm({ device: 'fan' })));
  t.notOk(f(alarm({ rule: 'silent' })));
  t.notOk(f(alarm({ severity: 499 })));
  t.notOk(f(alarm({ state: 'acknowledged' })));
  t.ok(alarmFilter({ states: [] })(alarm({ state: 'confirmed' })), 'no states: all');
  t.notOk(f({ device: 'press-1', rule: 'wear', severity: 900 }), 'a condition without a transition fails a state filter');
});

t.test('alarm list: loaded, kept current, ordered, filtered', async (t) => {
  const list = new AlarmList({ devices: 'press-*', minSeverity: 300 });
  const { state: _s, ...condition } = alarm({ device: 'press-2', rule: 'silent', severity: 500, raisedAt: 50 });
  list.reset([
    condition,
    { ...condition, device: 'fan-1' },
    { ...condition, device: 'press-9', active: false, acked: true, confirmed: true },
  ]);
  t.same(
    list.list().map((a) => a.device),
    ['press-2'],
    'reset keeps what is retained and passes the filter',
  );
  t.ok(list.apply(alarm({ raisedAt: 200 })));
  t.ok(list.apply(alarm({ device: 'press-3', severity: 900, active: false, state: 'cleared' })));
  t.notOk(list.apply(alarm({ device: 'fan-2' })), 'filtered out');
  t.notOk(list.apply(alarm({ device: 'press-4', severity: 100 })), 'below the minimum severity');
  t.same(
    list.list().map((a) => [a.device, a.rule]),
    [
      ['press-1', 'wear'],
      ['press-2', 'silent'],
      ['press-3', 'wear'],
    ],
    'active first, then severity, then newest',
  );
  t.notOk('state' in (list.list()[0] ?? {}), 'conditions, not transitions');
  list.apply(alarm({ active: false, acked: true, confirmed: true, state: 'confirmed' }));
  t.same(
    list.list().map((a) => a.device),
    ['press-2', 'press-3'],
    'gone once cleared, acknowledged and confirmed',
  );
});

t.test('gateway messages', async (t) => {
  t.equal(gatewayTopic('+', 'inference'), 'tinyml/+/event');
  t.equal(gatewayTopic('a', 'alarm'), 'tinyml/a/alarm');
  t.equal(gatewayTopic('a', 'derived'), 'tinyml/a/derived');
  t.same(parseGatewayMessage('tinyml/a/derived', Buffer.from('{"x":1}')), { ok: true, device: 'a', kind: 'derived', payload: { x: 1 } });
  t.match(parseGatewayMessage('other/a/event', Buffer.from('{}')), { ok: false, error: /unexpected topic/ });
  t.match(parseGatewayMessage('tinyml/a/event', Buffer.from('{')), { ok: false, error: /non-JSON/ });
  t.match(parseGatewayMessage('tinyml/a/event', Buffer.from('[1]')), { ok: false, error: /non-object/ });
  t.match(parseGatewayMessage('tinyml/a/event', Buffer.from('null')), { ok: false, error: /non-object/ });
});
