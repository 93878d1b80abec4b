import t from 'tap';
import { silentLogger } from '../../src/core/logger.js';
import { FLEET_DEFAULTS, SimulatedFleet } from '../../src/sim/fleet.js';
import { runningGateway } from '../helpers/gateway-config.js';
import { waitFor } from '../helpers/ports.js';

t.setTimeout(60_000);

t.test('the simulated fleet publishes valid events for every device over MQTT', async (t) => {
  const { gateway, ports } = await runningGateway(t, { opcua: { enabled: false }, modbus: { enabled: false } });
  const fleet = new SimulatedFleet(
    { ...FLEET_DEFAULTS, devices: 4, rateHz: 20, idPrefix: 'press-', brokerUrl: `mqtt://127.0.0.1:${ports.mqtt}` },
    silentLogger(),
  );
  await fleet.start();
  await waitFor(
    () => ['press-01', 'press-02', 'press-03', 'press-04'].every((id) => (gateway.state.get(id)?.events ?? 0) >= 5),
    'five events per device',
  );
  await fleet.stop();
  t.ok(fleet.count >= 20, `published ${fleet.count}`);
  await waitFor(() => gateway.pipeline.accepted === fleet.count || undefined, 'every published event accepted');
  t.match(gateway.state.get('press-04'), { model: { name: 'motor-anomaly', version: '1.2.0' }, labels: [] });
  t.ok((gateway.state.get('press-01')?.anomaly ?? 1) < 0.5, 'a healthy device reports a low anomaly score');
});
