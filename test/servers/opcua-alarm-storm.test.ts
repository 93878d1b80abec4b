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

// A condition is some fifty node-opcua nodes: it is made only once a client can see it.
t.test('alarms nobody watches make no condition nodes; the first event watcher and ConditionRefresh get them all', async (t) => {
  const ids = Array.from({ length: 12 }, (_, i) => `q-${String(i).padStart(2, '0')}`);
  const { gateway, config, ports } = await runningGateway(t, {
    devices: ids.map((id) => ({ id, labels: LABELS })),
    modbus: { enabled: false },
  });
  const batch = ids.flatMap((id) => [inferenceEvent(id, 0.9, 1), inferenceEvent(id, 0.95, 2)]);
  // The last device raises and clears: its condition is no longer retained.
  batch.push(inferenceEvent(ids.at(-1)!, 0.1, 3), inferenceEvent(ids.at(-1)!, 0.1, 4));
  const res = await fetch(`http://127.0.0.1:${ports.http}/ingest`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(batch),
  });
  t.equal(res.status, 200);
  await waitFor(() => gateway.alarms.list().filter((c) => c.active).length === ids.length - 1 || undefined, 'the book holds the alarms');
  await new Promise((r) => setTimeout(r, 200));
  t.equal(gateway.opcua?.conditionsCreated(), 0, 'no client watches events: no condition nodes');

  const opc = await opcuaSession(ports.opcua, config.gateway.dataDir);
  t.teardown(() => opc.close());
  const events = await watchEvents(opc.session);
  t.teardown(() => events.stop());
  await events.refresh();
  await waitFor(() => events.events.some((e) => e.EventType?.toString() === 'ns=0;i=2788') || undefined, 'RefreshEndEvent');
  const active = events.events.filter((e) => e.ConditionName === 'persist' && e['ActiveState.Id'] === true).map((e) => e.SourceName);
  t.same([...new Set(active)].sort(), ids.slice(0, -1), 'ConditionRefresh right after the watcher came shows every active alarm');
  t.ok((gateway.opcua?.conditionsCreated() ?? 0) >= ids.length - 1, 'the conditions exist now');

  // Once watched, a new alarm's condition comes with its first change.
  events.events.length = 0;
  const again = await fetch(`http://127.0.0.1:${ports.http}/ingest`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify([inferenceEvent(ids.at(-1)!, 0.9, 5), inferenceEvent(ids.at(-1)!, 0.95, 6)]),
  });
  t.equal(again.status, 200);
  await waitFor(() => events.events.some((e) => e.SourceName === ids.at(-1) && e['ActiveState.Id'] === true) || undefined, 'the new alarm');
});
