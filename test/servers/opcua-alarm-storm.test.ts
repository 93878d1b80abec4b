import t from 'tap';
import { inferenceEvent, LABELS, runningGateway } from '../helpers/gateway-config.js';
import { waitFor } from '../helpers/ports.js';
import { opcuaSession, watchEvents } from '../helpers/clients.js';

t.setTimeout(120_000);

// Conditions are created a turn of the event loop at a time (alarm-conditions.ts): a storm of
// first alarms must still reach clients whole and in order.
t.test('an alarm storm: every device alarming at once, its changes reach OPC UA clients whole and in order', async (t) => {
  const ids = Array.from({ length: 24 }, (_, i) => `m-${String(i).padStart(2, '0')}`);
  const { config, ports } = await runningGateway(t, { devices: ids.map((id) => ({ id, labels: LABELS })), modbus: { enabled: false } });
  const opc = await opcuaSession(ports.opcua, config.gateway.dataDir);
  t.teardown(() => opc.close());
  const events = await watchEvents(opc.session);
  t.teardown(() => events.stop());
  // One POST, one turn: every device raises; the even ones clear again in the same batch.
  const batch = ids.flatMap((id, i) => {
    const raise = [inferenceEvent(id, 0.9, 1), inferenceEvent(id, 0.95, 2)];
    return i % 2 === 0 ? [...raise, inferenceEvent(id, 0.1, 3), inferenceEvent(id, 0.1, 4)] : raise;
  });
  const res = await fetch(`http://127.0.0.1:${ports.http}/ingest`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(batch),
  });
  t.equal(res.status, 200);
  const activeOf = (id: string) => events.events.filter((e) => e.SourceName === id).map((e) => e['ActiveState.Id']);
  await waitFor(() => ids.every((id, i) => activeOf(id).length === (i % 2 === 0 ? 2 : 1)) || undefined, 'every transition of every device');
  for (const [i, id] of ids.entries()) t.same(activeOf(id), i % 2 === 0 ? [true, false] : [true], `${id}: its transitions, in order`);

  events.events.length = 0;
  await events.refresh();
  await waitFor(() => events.events.some((e) => e.EventType?.toString() === 'ns=0;i=2788') || undefined, 'RefreshEndEvent');
  const active = events.events.filter((e) => e.ConditionName === 'persist' && e['ActiveState.Id'] === true).map((e) => e.SourceName);
  t.same(
    [...new Set(active)].sort(),
    ids.filter((_, i) => i % 2 === 1),
    'ConditionRefresh shows exactly the alarms still active',
  );
});
