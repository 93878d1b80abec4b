import t from 'tap';
import { topClass, type InferenceEvent } from '../../src/normalise/inference-event.js';
import { contentOffset, lineBody, lineMs, timestampNs, type Point } from '../../src/sinks/influx/line-protocol.js';
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

/** The inference line through the generic Point path: what the direct writer must match. */
function viaPoint(e: InferenceEvent): string | undefined {
  const top = topClass(e);
  const fields: Point['fields'] = {
    label: top.label,
    confidence: top.confidence,
    anomaly: e.anomaly,
    seq: e.seq,
    dsp_ms: e.timing?.dsp_ms,
    inference_ms: e.timing?.inference_ms,
  };
  for (const [label, score] of Object.entries(e.scores ?? {})) fields[`score_${label}`] = score;
  for (const [name, value] of Object.entries(e.values ?? {})) fields[`value_${name}`] = value;
  const body = lineBody({
    measurement: 'inference',
    tags: { device: e.device, model: e.model.name, model_version: e.model.version },
    fields,
  });
  return body === undefined ? undefined : `${body} ${timestampNs(e.ts, e.seq ?? contentOffset(body))}`;
}

t.test('the direct inference line is the generic one, escaping, odd values and cached keys included', async (t) => {
  const model = { name: 'motor', version: '2.3.1' };
  const events: InferenceEvent[] = [
    { device: 'd1', ts: 1, model, anomaly: 0.5 },
    {
      device: 'd1',
      ts: 2,
      seq: 3,
      model: { name: 'motor', version: '2.4.0' },
      label: 'wear',
      scores: { wear: 0.7, '1': 0.2, normal: 0.1 },
    },
    {
      device: 'a b,c=d',
      ts: 3,
      model: { name: 'm x', version: 'v=1' },
      label: 'say "hi"\\\nbye',
      anomaly: NaN,
      values: { 'temp c': 21.5, inf: Infinity },
    },
    { device: 'd2', ts: 4, model, timing: { inference_ms: 2 }, values: { rpm: 1500 } },
    { device: 'd2', ts: 5, model, values: { nan: NaN } },
    { device: 'd1', ts: 6, seq: 0, model, scores: { 'wear,x': 0.6, normal: 0.4 }, timing: { dsp_ms: 1.25 } },
    { device: 'd1', ts: 7, model, label: 'normal', scores: { wear: 0.6, normal: 0.4 } },
  ];
  // Twice: the second round meets every tag set and key in the caches.
  for (const round of [1, 2]) for (const e of events) t.equal(inferenceLine(e), viaPoint(e), `round ${round}: ${JSON.stringify(e)}`);
  t.equal(inferenceLine({ device: 'd2', ts: 5, model, values: { nan: NaN } }), undefined, 'no storable field: no line');
});
