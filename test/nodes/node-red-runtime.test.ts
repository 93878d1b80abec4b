import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runningGateway } from '../helpers/gateway-config.js';
import { sleep } from './helper.js';
import { exampleFlow, pointedAt, ROOT, startNodeRed, type FlowNode } from './node-red-process.js';

t.setTimeout(240_000);

const OUR_TYPES = ['tinyml-gateway', 'tinyml-event-in', 'tinyml-alarm-in', 'tinyml-alarm-ack', 'tinyml-device', 'tinyml-cep'];
const EXAMPLES = readdirSync(join(ROOT, 'examples')).filter((f) => f.endsWith('.json'));

t.test('examples/ (what the editor shows under Import ▸ Examples) mirrors flows/', async (t) => {
  t.same(
    EXAMPLES,
    readdirSync(join(ROOT, 'flows'))
      .filter((f) => f.endsWith('.json'))
      .sort(),
  );
  t.ok(EXAMPLES.length >= 5, 'every example is there');
  for (const name of EXAMPLES) {
    t.equal(readFileSync(join(ROOT, 'examples', name), 'utf8'), readFileSync(join(ROOT, 'flows', name), 'utf8'), name);
  }
});

t.test('a real Node-RED 4 loads every node and deploys every example flow', async (t) => {
  const { ports } = await runningGateway(t, { opcua: { enabled: false }, modbus: { enabled: false } });
  const red = await startNodeRed(t, true);

  const nodes = (await (await fetch(`${red.admin}/nodes`, { headers: { accept: 'application/json' } })).json()) as {
    module: string;
    types: string[];
    enabled: boolean;
    err?: string;
  }[];
  const ours = nodes.filter((n) => n.module === 'tinyml-gateway');
  t.same(ours.flatMap((n) => n.types).sort(), [...OUR_TYPES].sort(), `/nodes lists every node\n${red.log()}`);
  t.same(
    ours.filter((n) => !n.enabled || n.err),
    [],
    'all enabled, none failed to load',
  );
  const editorHtml = await (await fetch(`${red.admin}/nodes`, { headers: { accept: 'text/html' } })).text();
  for (const type of OUR_TYPES) {
    t.match(editorHtml, `data-template-name="${type}"`, `${type}: edit form served`);
    t.match(editorHtml, `data-help-name="${type}"`, `${type}: help served (locales/en-US)`);
  }
  const catalog = (await (await fetch(`${red.admin}/locales/tinyml-gateway/tinyml-cep?lng=en-US`)).json()) as Record<string, unknown>;
  t.match(catalog, { 'tinyml-cep': { paletteLabel: 'cep' } }, 'message catalog served');
  const icon = await fetch(`${red.admin}/icons/tinyml-gateway/tinyml-cep.svg`);
  t.equal(icon.status, 200, 'icons served');

  for (const name of EXAMPLES) {
    const flow = pointedAt(exampleFlow(name), ports);
    const log = await red.deploy(flow);
    const deployed = (await (await fetch(`${red.admin}/flows`, { headers: { accept: 'application/json' } })).json()) as FlowNode[];
    t.same(deployed.map((n) => n.id).sort(), flow.map((n) => n.id).sort(), `${name}: deployed as is`);
    await sleep(1500);
    const after = red.log().slice(red.log().lastIndexOf(log));
    if (name === 'plc-bridge.json') {
      // node-red-contrib-modbus is only named in the flow, never a dependency of ours.
      const missing = [...log.matchAll(/\[info\]\s+- (\S+)\s*$/gm)].map((m) => m[1]).sort();
      t.match(log, /Waiting for missing types/, `${name}: waits for its missing types`);
      t.same(missing, ['modbus-client', 'modbus-flex-write'], `${name}: only node-red-contrib-modbus is missing`);
    } else {
      t.notMatch(after, /\[error\]|Waiting for missing types/, `${name}: no error and no missing type\n${after}`);
    }
  }

  // Credentials typed into the config node live in the encrypted credentials file, never in the flow.
  const withSecrets = pointedAt(exampleFlow('tinyml-events-to-debug.json'), ports).map((n) =>
    n.type === 'tinyml-gateway' ? { ...n, credentials: { username: 'operator-7', password: 'pw-9f2c', token: 'tok-51ab' } } : n,
  );
  await red.deploy(withSecrets);
  const exported = await (await fetch(`${red.admin}/flows`, { headers: { accept: 'application/json' } })).text();
  t.notMatch(exported, /operator-7|pw-9f2c|tok-51ab/, 'the flow JSON served to the editor has no credentials');
  t.notMatch(readFileSync(join(red.userDir, 'flows.json'), 'utf8'), /operator-7|pw-9f2c|tok-51ab/, 'nor the flow file');
  t.notMatch(
    readFileSync(join(red.userDir, 'flows_cred.json'), 'utf8'),
    /operator-7|pw-9f2c|tok-51ab/,
    'the credentials file is encrypted',
  );
  const gw = withSecrets.find((n) => n.type === 'tinyml-gateway')!;
  const creds = (await (await fetch(`${red.admin}/credentials/tinyml-gateway/${gw.id}`)).json()) as Record<string, unknown>;
  t.match(creds, { username: 'operator-7', has_password: true, has_token: true }, 'the editor sees that they are set, not their values');
  t.notOk('password' in creds);
});
