import t from 'tap';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { spawnGateway, writeConfig } from '../helpers/spawn-gateway.js';
import { freePort } from '../helpers/ports.js';
import { tempDir } from '../helpers/temp-dir.js';
import { modbusClient } from '../helpers/clients.js';

t.setTimeout(120_000);

t.test('what `npm start` runs: the default config and 8 simulated MCUs raise an alarm within 60 s', async (t) => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: { start: string } };
  const args = pkg.scripts.start.replace(/^\.\/dist\/main\.js run /, '').split(' ');
  t.match(args, ['--config', 'gateway-config/gateway.yaml', '--simulate', '8']);

  // The shipped file, moved to free ports and a temp data dir so it can run beside anything.
  const config = parse(readFileSync('gateway-config/gateway.yaml', 'utf8')) as Record<string, Record<string, unknown>>;
  const modbusPort = await freePort();
  config.gateway!.dataDir = tempDir(t, 'npm-start-');
  (config.mqtt!.broker as Record<string, unknown>).port = await freePort();
  config.opcua!.port = await freePort();
  config.modbus!.port = modbusPort;
  config.http!.port = await freePort();
  (config as Record<string, unknown>).ruleFiles = (config.ruleFiles as unknown as string[]).map((f) => resolve('gateway-config', f));
  const file = writeConfig(config.gateway!.dataDir as string, config);
  const gw = spawnGateway(['--config', file, ...args.slice(2)]);
  t.teardown(() => gw.stop());

  const started = await gw.waitForLog((l) => l.msg === 'gateway started', 'start');
  const alarm = await gw.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('alarm raised'), 'first alarm', 60_000);
  const seconds = (Date.parse(alarm.time as string) - Date.parse(started.time as string)) / 1000;
  t.ok(seconds < 60, `first alarm after ${seconds} s`);
  const device = (alarm.alarm as { device: string }).device;
  const index = (config.devices as unknown as { id: string }[]).findIndex((d) => d.id === device);
  const modbus = await modbusClient(modbusPort);
  t.equal((await modbus.readDiscreteInputs(16 * index, 1)).data[0], true, `${device}'s alarm bit is set on Modbus`);
  await new Promise<void>((r) => modbus.close(() => r()));
  gw.child.kill('SIGTERM');
  t.equal((await gw.exited).code, 0);
});
