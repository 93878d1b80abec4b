import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Gateway } from '../../src/daemon/gateway.js';
import { checkedRule } from '../../src/cep/rules/check-fields.js';
import type { RuleSpec } from '../../src/cep/rules/language.js';
import { replay, replayRules, REPLAY_RULE_FAILED } from '../../src/cli/replay.js';
import type { InferenceEvent } from '../../src/normalise/inference-event.js';
import { inferenceEvent, testConfig } from '../helpers/gateway-config.js';
import { mqttClient, opcuaSession, readValue } from '../helpers/clients.js';
import { waitFor } from '../helpers/ports.js';
import { runCli } from '../helpers/spawn-gateway.js';
import { capturingLogger } from '../helpers/test-log.js';
import { tempDir } from '../helpers/temp-dir.js';

t.setTimeout(120_000);

/**
 * The two rules the fault campaign found: valid-looking, but their operators throw when the rule
 * starts. `check` now refuses them, so they are built here from a valid neighbour and broken
 * afterwards, as a future operator bug would slip past the schema.
 */
function badRules(): RuleSpec[] {
  const window = checkedRule.parse({
    id: 'bad-window',
    pipeline: [{ window: { type: 'tumbling', size: '1s' } }, { threshold: { field: 'avg', above: 0.5, clearBelow: 0.3 } }],
    outputs: { alarm: {} },
  });
  window.pipeline[0]!.window!.size = 0;
  const pattern = checkedRule.parse({
    id: 'bad-pattern',
    pipeline: [
      {
        pattern: {
          seq: [
            { name: 'warm', where: { field: 'anomaly', gt: 0.5 } },
            { name: 'hot', where: { field: 'anomaly', gt: 0.9 } },
          ],
          within: '10s',
        },
      },
    ],
    outputs: { derived: {} },
  });
  pattern.pipeline[0]!.pattern!.seq![0]!.optional = true;
  return [window, pattern];
}

const HEALTHY = { id: 'healthy', pipeline: [{ threshold: { field: 'anomaly', above: 0.8, clearBelow: 0.2 } }], outputs: { alarm: {} } };

t.test('live: only the two broken rules stop; the healthy one raises; rules API, OPC UA, metrics, log and health say so', async (t) => {
  const { config, ports } = await testConfig(t, { modbus: { enabled: false }, rules: [HEALTHY] });
  config.rules = [...badRules(), ...config.rules];
  const { log, lines } = capturingLogger();
  const gateway = new Gateway(config, { log, env: {} });
  await gateway.start();
  t.teardown(() => gateway.stop());

  const mqtt = await mqttClient(ports.mqtt);
  t.teardown(() => mqtt.endAsync());
  for (let seq = 1; seq <= 5; seq++) {
    await mqtt.publishAsync('tinyml/press-01/inference', JSON.stringify(inferenceEvent('press-01', 0.95, seq)), { qos: 1 });
  }
  await waitFor(() => gateway.alarms.list().find((a) => a.rule === 'healthy' && a.device === 'press-01' && a.active), 'the healthy alarm');

  const http = `http://127.0.0.1:${ports.http}`;
  const rules = (await (await fetch(`${http}/rules`)).json()) as { id: string; state: string; error?: string; eventsIn: number }[];
  const byId = Object.fromEntries(rules.map((r) => [r.id, r]));
  t.match(byId['bad-window'], { state: 'stopped-by-error', error: 'tumbling window: sizeMs must be > 0' });
  t.match(byId['bad-pattern'], { state: 'stopped-by-error', error: 'the first step of a sequence cannot be optional' });
  t.match(byId.healthy, { state: 'running', eventsIn: 5 });

  const health = await fetch(`${http}/health`);
  const report = (await health.json()) as { status: string; failing: string[]; parts: Record<string, Record<string, unknown>> };
  t.equal(health.status, 503, 'not healthy while a rule is stopped');
  t.equal(report.status, 'degraded', 'degraded, not failing: the other rules run');
  t.same(report.failing, ['rules']);
  t.match(report.parts.rules, { ok: false, degraded: true, running: 1, problem: /2 of 3 rules stopped by an error: bad-window/ });
  t.ok(report.parts.cep?.ok, 'the pipeline itself is alive');

  const metrics = await (await fetch(`${http}/metrics`)).text();
  t.match(metrics, /tinyml_gateway_rule_running\{rule="bad-window"\} 0/);
  t.match(metrics, /tinyml_gateway_rule_running\{rule="bad-pattern"\} 0/);
  t.match(metrics, /tinyml_gateway_rule_running\{rule="healthy"\} 1/);
  t.match(metrics, /tinyml_gateway_rule_errors_total\{rule="bad-window"\} 1/);

  const stopped = lines.filter((l) => typeof l.msg === 'string' && l.msg.includes('stopped by error'));
  t.equal(stopped.length, 2, 'one log line per stopped rule');
  t.match(stopped[0], {
    level: 50,
    rule: 'bad-window',
    msg: /rule bad-window stopped by error: tumbling window/,
    err: /RangeError[\s\S]*\n\s+at /,
  });

  const opc = await opcuaSession(ports.opcua, tempDir(t, 'iso-pki-'));
  t.teardown(() => opc.close());
  const status = await waitFor(async () => {
    const v = await readValue(opc.session, `ns=${opc.ns};s=Rules/bad-window/Status`);
    return v === 'stopped-by-error' ? v : undefined;
  }, 'OPC UA Rules/bad-window/Status');
  t.equal(status, 'stopped-by-error');
  t.equal(await readValue(opc.session, `ns=${opc.ns};s=Rules/bad-pattern/Error`), 'the first step of a sequence cannot be optional');
  t.equal(await readValue(opc.session, `ns=${opc.ns};s=Rules/healthy/Status`), 'running');
});

t.test('replay: the broken rules stop, the healthy one still raises, and the command exits non-zero', async (t) => {
  const events: InferenceEvent[] = [0.1, 0.95, 0.95, 0.1].map((anomaly, i) => ({
    device: 'press-01',
    ts: 1_700_000_000_000 + i * 1000,
    seq: i,
    model: { name: 'm', version: '1' },
    anomaly,
  }));
  const outputs: string[] = [];
  const healthy = checkedRule.parse(HEALTHY);
  const stopped = replay([...badRules(), healthy], events, (o) =>
    outputs.push(o.type === 'alarm' ? `${o.alarm.rule}:${o.alarm.state}` : o.type),
  );
  t.same(outputs, ['healthy:raised', 'healthy:cleared']);
  t.same(
    stopped.map((r) => r.id),
    ['bad-window', 'bad-pattern'],
  );

  const file = join(tempDir(t, 'iso-replay-'), 'events.jsonl');
  writeFileSync(file, events.map((e) => JSON.stringify(e)).join('\n'));
  let out = '';
  let err = '';
  const code = replayRules([...badRules(), healthy], file, { out: (s) => (out += s), err: (s) => (err += s) });
  t.equal(code, REPLAY_RULE_FAILED);
  t.match(err, /rule bad-window stopped by error: tumbling window: sizeMs must be > 0/);
  t.match(err, /rule bad-pattern stopped by error: the first step of a sequence cannot be optional/);
  t.match(err, /2 rules stopped by an error/);
  t.equal(out.trim().split('\n').length, 2, 'the healthy rule’s two transitions are printed');
});

t.test('check refuses both rules, naming their lines', async (t) => {
  const dir = tempDir(t, 'iso-check-');
  const file = join(dir, 'gateway.yaml');
  writeFileSync(
    file,
    [
      'rules:',
      '  - id: bad-window',
      '    pipeline:',
      '      - window: { type: tumbling, size: 0s }',
      '      - threshold: { field: avg, above: 0.5, clearBelow: 0.3 }',
      '    outputs: { alarm: {} }',
      '  - id: bad-pattern',
      '    pipeline:',
      '      - pattern:',
      '          within: 10s',
      '          seq:',
      '            - { name: warm, where: { field: anomaly, gt: 0.5 }, optional: true }',
      '            - { name: hot, where: { field: anomaly, gt: 0.9 } }',
      '    outputs: { derived: {} }',
      '',
    ].join('\n'),
  );
  const r = runCli(['check', '--config', file]);
  t.equal(r.status, 1);
  t.match(r.stderr, /gateway\.yaml:4:\d+: rules\.0\.pipeline\.0\.window\.size: /);
  t.match(r.stderr, /gateway\.yaml:12:\d+: rules\.1\.pipeline\.0\.pattern\.seq\.0\.optional: /);
});
