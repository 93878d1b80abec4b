import t from 'tap';
import { inferenceEvent, runningGateway } from '../helpers/gateway-config.js';
import { mqttClient } from '../helpers/clients.js';
import { waitFor } from '../helpers/ports.js';

t.setTimeout(60_000);

t.test('an event whose processing throws is counted; the pipeline and the daemon go on', async (t) => {
  const { gateway, ports } = await runningGateway(t, { opcua: { enabled: false }, modbus: { enabled: false } });
  const applyEvent = gateway.state.applyEvent.bind(gateway.state);
  let calls = 0;
  gateway.state.applyEvent = (event) => {
    if (++calls === 1) throw new Error('bug in a later stage');
    applyEvent(event);
  };
  const mqtt = await mqttClient(ports.mqtt);
  t.teardown(() => mqtt.endAsync());
  for (const seq of [1, 2])
    await mqtt.publishAsync('tinyml/press-01/inference', JSON.stringify(inferenceEvent('press-01', 0.1, seq)), { qos: 1 });
  await waitFor(() => gateway.state.get('press-01')?.seq === 2 || undefined, 'the second event in state');
  const metrics = await (await fetch(`http://127.0.0.1:${ports.http}/metrics`)).text();
  t.match(metrics, /tinyml_gateway_pipeline_errors_total 1\b/);
  t.match(metrics, /tinyml_gateway_rule_keys\{rule="persist"\} 1\b/, 'keys held per rule');
  t.match(metrics, /# TYPE tinyml_gateway_rule_keys_evicted_total counter/);
  t.equal((await fetch(`http://127.0.0.1:${ports.http}/health`)).status, 200, 'the pipeline is still alive');
});
