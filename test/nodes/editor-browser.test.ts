import t from 'tap';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { runningGateway } from '../helpers/gateway-config.js';
import { testLogger } from '../helpers/test-log.js';
import { SimulatedFleet } from '../../src/sim/fleet.js';
import { waitFor } from '../helpers/ports.js';
import { exampleFlow, pointedAt, ROOT, startNodeRed } from './node-red-process.js';

t.setTimeout(240_000);

/** Screenshots land here (ignored by git); the README's dashboard picture is one of them. */
const SHOTS = join(ROOT, 'test-output', 'screenshots');
const CEP_NODE = '7e1a0c0ffee30004';

async function browser(t: { teardown(fn: () => unknown): void }): Promise<Browser> {
  // Debian's chromium (test/provision.sh), never a downloaded one; root needs --no-sandbox.
  const b = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
  t.teardown(() => b.close());
  return b;
}

t.test('in a real browser: our palette, our edit dialog, and the example dashboard fed by a simulated fleet', async (t) => {
  mkdirSync(SHOTS, { recursive: true });
  const { ports } = await runningGateway(t, { opcua: { enabled: false }, modbus: { enabled: false } });
  const fleet = new SimulatedFleet(
    { devices: 4, rateHz: 4, brokerUrl: `mqtt://127.0.0.1:${ports.mqtt}`, degradingShare: 0.5, rampMs: 8000, seed: 7, idPrefix: 'sim-' },
    testLogger(),
  );
  await fleet.start();
  t.teardown(() => fleet.stop());
  const red = await startNodeRed(t, true);
  await red.deploy(pointedAt(exampleFlow('pdm-dashboard.json'), ports));
  const b = await browser(t);
  const page = await b.newPage({ viewport: { width: 1400, height: 900 } });

  await t.test('the editor palette shows the tinyml category with every node', async (t) => {
    await page.goto(red.admin);
    await page.waitForSelector('#red-ui-palette-container-tinyml', { timeout: 60_000 });
    t.equal((await page.textContent('#red-ui-palette-header-tinyml'))?.trim(), 'tinyml', 'our category');
    for (const type of ['tinyml-event-in', 'tinyml-alarm-in', 'tinyml-alarm-ack', 'tinyml-device', 'tinyml-cep']) {
      t.ok(
        await page.isVisible(`#red-ui-palette-container-tinyml .red-ui-palette-node[data-palette-type="${type}"]`),
        `${type} in the palette`,
      );
    }
    const labels = await page.$$eval('#red-ui-palette-container-tinyml .red-ui-palette-label', (els) =>
      els.map((e) => (e.textContent ?? '').replace(/\s+/g, ' ').trim()),
    );
    t.match(labels.sort(), ['alarm ack', 'alarm in', 'cep', 'device', 'event in'], 'labels from locales/en-US');
  });

  await t.test('double-clicking the cep node opens our form, which checks the rule with the runtime parser', async (t) => {
    await page.dblclick(`[id="${CEP_NODE}"] .red-ui-flow-node`);
    await page.waitForSelector('#node-input-rule-editor', { timeout: 15_000 });
    await waitFor(
      async () => /rules: rul/.test((await page.textContent('#tinyml-cep-check')) ?? '') || undefined,
      'the rule check',
      15_000,
    );
    // Type a mistake: the form names it with its line.
    await page.evaluate(() => {
      const red = (globalThis as unknown as { RED: { nodes: { node(id: string): { ruleEditor: { setValue(v: string): void } } } } }).RED;
      red.nodes
        .node('7e1a0c0ffee30004')
        .ruleEditor.setValue('id: rul\npipeline:\n  - trend: { field: anomally, points: 20 }\noutputs:\n  derived: {}\n');
    });
    const problem = await waitFor(
      async () => {
        const text = (await page.textContent('#tinyml-cep-check')) ?? '';
        return /rule:3/.test(text) ? text : undefined;
      },
      'the problem to show',
      15_000,
    );
    t.match(problem, /rule:3:\d+: pipeline\.0\.trend\.field: no field 'anomally'/);
    await page.screenshot({ path: join(SHOTS, 'editor-cep-dialog.png') });
    await page.click('#node-dialog-cancel');
  });

  await t.test('the dashboard shows the fleet: chart, remaining useful life, alarms; a click acknowledges', async (t) => {
    const dash = await b.newPage({ viewport: { width: 1400, height: 900 } });
    await dash.goto(`${red.admin}/dashboard/pdm`);
    await dash.waitForSelector('canvas', { timeout: 60_000 });
    const activeRow = await waitFor(
      async () => {
        const rows = await dash.$$eval('table tbody tr', (trs) => trs.map((tr) => tr.textContent ?? ''));
        return rows.find((r) => /sim-0\d/.test(r) && /ACTIVE/.test(r));
      },
      'an active alarm of a degrading simulated device in the table',
      60_000,
      500,
    );
    t.match(activeRow, /persist/);
    const worst = await waitFor(
      async () => {
        const text = (await dash.textContent('body')) ?? '';
        return /sim-0\d: [\d.]+ min to anomaly 0\.9/.exec(text)?.[0];
      },
      'the remaining useful life of the worst device',
      60_000,
      500,
    );
    t.ok(worst, `RUL shown: ${worst}`);
    await dash.waitForTimeout(3000); // a few more chart points for the picture
    await dash.screenshot({ path: join(SHOTS, 'pdm-dashboard.png'), fullPage: true });

    const device = /sim-0\d/.exec(activeRow)?.[0] ?? '';
    await dash.click(`table tbody tr:has-text("${device}"):has-text("ACTIVE")`);
    const acked = await waitFor(
      async () => {
        const res = await fetch(`http://127.0.0.1:${ports.http}/alarms?device=${device}`);
        const list = (await res.json()) as { rule: string; acked: boolean; comment?: string }[];
        return list.find((a) => a.rule === 'persist' && a.acked);
      },
      'the click to acknowledge the alarm in the gateway',
      15_000,
    );
    t.match(acked, { comment: 'from the dashboard' });
  });
});
