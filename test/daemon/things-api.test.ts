import t from 'tap';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv } from 'ajv';
import { inferenceEvent, runningGateway } from '../helpers/gateway-config.js';
import { mqttClient } from '../helpers/clients.js';
import { waitFor } from '../helpers/ports.js';

t.setTimeout(60_000);

// The W3C's JSON Schema for TD 1.1 instances, as the Thing Description Playground ships it.
const schema = JSON.parse(
  readFileSync(createRequire(import.meta.url).resolve('@thing-description-playground/core/td-schema.json'), 'utf8'),
) as object;
const validate = new Ajv({ strict: false, allErrors: true, validateFormats: false }).compile(schema);

t.test('GET /things: a valid TD 1.1 per device, with HTTP and MQTT forms and the model', async (t) => {
  const { ports } = await runningGateway(t, {
    opcua: { enabled: false },
    modbus: { enabled: false },
    models: [{ name: 'motor-anomaly', description: 'int8 autoencoder on vibration spectra', ramKiB: 42, flashKiB: 118 }],
  });
  const mqtt = await mqttClient(ports.mqtt);
  await mqtt.publishAsync('tinyml/press-01/inference', JSON.stringify(inferenceEvent('press-01', 0.3, 1)), { qos: 1 });
  await mqtt.endAsync();
  const base = `http://127.0.0.1:${ports.http}`;
  const one = await waitFor(async () => {
    const res = await fetch(`${base}/things/press-01`);
    const td = (await res.json()) as Record<string, unknown>;
    return td['tinyml:model'] ? { res, td } : undefined;
  }, 'the TD with its model');
  t.equal(one.res.headers.get('content-type'), 'application/td+json');
  t.ok(validate(one.td), `valid against the TD 1.1 JSON Schema ${JSON.stringify(validate.errors)}`);
  t.match(one.td, {
    '@context': ['https://www.w3.org/2022/wot/td/v1.1'],
    id: 'urn:tinyml-gateway:gw-test:device:press-01',
    title: 'press-01',
    properties: {
      label: { type: 'string', enum: ['normal', 'imbalance', 'bearing_wear'], observable: true },
      anomaly: {
        forms: [
          { href: `${base}/devices/press-01#anomaly` },
          { href: `mqtt://127.0.0.1:${ports.mqtt}/tinyml/press-01/event`, op: ['observeproperty'] },
        ],
      },
      online: { type: 'boolean' },
    },
    events: { alarm: { forms: [{ href: `mqtt://127.0.0.1:${ports.mqtt}/tinyml/press-01/alarm`, op: ['subscribeevent'] }] } },
    'tinyml:model': { name: 'motor-anomaly', version: '2.3.1', since: String, ramKiB: 42, flashKiB: 118 },
  });

  const all = (await (await fetch(`${base}/things`)).json()) as Record<string, unknown>[];
  t.same(
    all.map((td) => td.title),
    ['press-01', 'press-02'],
  );
  for (const td of all) t.ok(validate(td), `${String(td.title)} is a valid TD`);
  t.notOk('tinyml:model' in all[1]!, 'a device not heard from has no model yet');
  t.equal((await fetch(`${base}/things/nope`)).status, 404);
});
