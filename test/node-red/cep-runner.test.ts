import t from 'tap';
import { TestScheduler } from 'rxjs/testing';
import { CepRunner, checkRuleText } from '../../src/node-red/cep-runner.js';
import { ConfigError } from '../../src/core/errors.js';
import type { RuleOutput } from '../../src/core/rule-output.js';

const ABSENCE = 'id: quiet\npipeline:\n  - absence: { timeout: 1s }\noutputs:\n  alarm: { severity: 400 }\n';
const MODEL = { name: 'm', version: '1' };

t.test('rule text: one rule or a rules file, problems with their lines', async (t) => {
  t.same(checkRuleText(ABSENCE), { ok: true, rules: ['quiet'] });
  t.same(checkRuleText(`rules:\n  - id: a\n    pipeline: [{ absence: { timeout: 1s } }]\n    outputs: { alarm: {} }\n`), {
    ok: true,
    rules: ['a'],
  });
  t.match(checkRuleText('id: [\n'), { ok: false, errors: [/^rule:\d+:\d+: \(root\): YAML:/] });
  const twice = '  - id: a\n    pipeline: [{ absence: { timeout: 1s } }]\n    outputs: { alarm: {} }\n';
  t.match(checkRuleText(`rules:\n${twice}${twice}`), { ok: false, errors: [/duplicate/] });
  t.throws(() => new CepRunner('id: x\n', { output: () => undefined, failed: () => undefined }), ConfigError);
});

t.test('the runner over virtual time: device from the topic, timers on the scheduler, nothing after close', async (t) => {
  const scheduler = new TestScheduler((a, b) => t.same(a, b));
  scheduler.run(({ flush }) => {
    const out: RuleOutput[] = [];
    const runner = new CepRunner(ABSENCE, { output: (o) => out.push(o), failed: () => t.fail('no failure') }, scheduler);
    t.same(runner.push({ model: MODEL, anomaly: 0.1 }, 'pump-1'), { ok: true });
    t.same(runner.push({ device: 'pump-2', model: MODEL, anomaly: 0.1 }, 'ignored'), { ok: true });
    t.match(runner.push({ model: MODEL, anomaly: 0.1 }, 'not a device!'), { ok: false, error: /not an inference event: device/ });
    t.match(runner.push('text'), { ok: false, error: /not an inference event/ });
    // pump-3's deadline (2 s) falls after the close (1.5 s): it never fires.
    scheduler.schedule(() => runner.push({ device: 'pump-3', model: MODEL, anomaly: 0.1 }), 1000);
    scheduler.schedule(() => runner.close(), 1500);
    flush();
    t.same(
      out.map((o) => (o.type === 'alarm' ? [o.alarm.device, o.alarm.state] : o.type)),
      [
        ['pump-1', 'raised'],
        ['pump-2', 'raised'],
      ],
    );
    t.same(
      runner.status().map((s) => [s.id, s.eventsIn]),
      [['quiet', 3]],
    );
  });
});
