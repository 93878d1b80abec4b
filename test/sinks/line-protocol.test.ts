import t from 'tap';
import { contentOffset, lineBody, lineMs, timestampNs } from '../../src/sinks/influx/line-protocol.js';
import { alarmLine, inferenceLine } from '../../src/sinks/influx/points.js';

t.test('keys, tag values and strings are escaped; NaN and missing fields are left out', async (t) => {
  const body = lineBody({
    measurement: 'inference',
    tags: { device: 'line 1,a=b', model: 'm' },
    fields: { label: 'say "hi"\\\nbye', 'odd key': 1.5, nan: NaN, none: undefined, ok: true },
  });
  t.equal(body, 'inference,device=line\\ 1\\,a\\=b,model=m label="say \\"hi\\"\\\\\\nbye",odd\\ key=1.5,ok=true');
  t.equal(lineBody({ measurement: 'm', tags: {}, fields: { x: Infinity } }), undefined, 'a point with no storable field');
  t.equal(lineBody({ measurement: 'm', tags: { empty: '' }, fields: { x: 1 } }), 'm x=1', 'an empty tag is left out');
});

t.test('timestamps: the millisecond and a sub-millisecond offset from the event', async (t) => {
  t.equal(timestampNs(1_700_000_000_123.9, 42), '1700000000123000042');
  t.equal(timestampNs(5, 1_000_007), '5000007', 'the offset stays below a millisecond');
  t.equal(lineMs('m x=1 1700000000123000042'), 1_700_000_000_123);
  t.equal(contentOffset('m x=1'), contentOffset('m x=1'), 'stable');
  t.not(contentOffset('m x=1'), contentOffset('m x=2'));
  t.ok(contentOffset('m x=1') < 1_000_000);
});

t.test('an inference event becomes one line with its seq as the offset', async (t) => {
  const line = inferenceLine({
    device: 'press-01',
    ts: 1_700_000_000_000,
    seq: 7,
    model: { name: 'motor', version: '2.3.1' },
    scores: { normal: 0.9, wear: 0.1 },
    anomaly: 0.25,
    timing: { dsp_ms: 11.5, inference_ms: 3.2 },
  });
  t.equal(
    line,
    'inference,device=press-01,model=motor,model_version=2.3.1 label="normal",confidence=0.9,anomaly=0.25,seq=7,dsp_ms=11.5,inference_ms=3.2,score_normal=0.9,score_wear=0.1 1700000000000000007',
  );
  const alarm = {
    device: 'press-01',
    rule: 'r',
    state: 'raised' as const,
    active: true,
    acked: false,
    confirmed: false,
    severity: 800,
    message: 'm',
    value: 0.9,
    raisedAt: 1,
    ts: 1_700_000_000_000,
  };
  t.equal(alarmLine(alarm), alarmLine({ ...alarm }), 'the same transition gives the same line (and timestamp)');
  t.not(alarmLine(alarm), alarmLine({ ...alarm, state: 'acknowledged' }), 'a different transition in the same ms gets another offset');
});
