import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { replay, replayLine } from '../../src/cli/replay.js';
import { decodeRuleState } from '../../src/cep/rules/checkpoint.js';
import type { InferenceEvent } from '../../src/normalise/inference-event.js';
import { decodeSnapshot, SNAPSHOT_FILE } from '../../src/state/rule-snapshot.js';
import { mqttClient } from '../helpers/clients.js';
import { inferenceEvent, testConfig } from '../helpers/gateway-config.js';
import { waitFor } from '../helpers/ports.js';
import { spawnGateway, writeConfig, type GatewayProcess } from '../helpers/spawn-gateway.js';

t.setTimeout(180_000);

/** One event a second from press-01: high from 12 to 14, low from 16 on. */
const anomalyAt = (seq: number): number => (seq >= 12 && seq <= 14 ? 0.9 : seq >= 16 ? 0.1 : 0.5);
const event = (seq: number): Record<string, unknown> => ({
  ...inferenceEvent('press-01', anomalyAt(seq), seq),
  ts: 1_700_000_000_000 + seq * 1000,
});
const seqs = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

const rules = [
  // At the cut, the window [10 s, 20 s) is open with 6 events and the pattern holds partial matches begun at 12, 13 and 14.
  { id: 'window', pipeline: [{ window: { type: 'tumbling', size: '10s', aggregates: ['count', 'max'] } }], outputs: { derived: {} } },
  {
    id: 'pair',
    pipeline: [
      {
        pattern: {
          seq: [
            { name: 'hi', where: { field: 'anomaly', gte: 0.8 } },
            { name: 'lo', where: { field: 'anomaly', lt: 0.2 } },
          ],
          within: '30s',
          emit: 'match',
        },
      },
    ],
    outputs: { derived: { fields: ['hi.count', 'hi.0.ts', 'lo.0.ts'] } },
  },
  { id: 'persist', pipeline: [{ persistence: { atLeast: 0.7, n: 2, m: 3, clearAfter: 2 } }], outputs: { alarm: { severity: 800 } } },
];

/** An output as both the gateway (over MQTT) and `replay` give it, without what only one of them carries. */
const normal = (o: { rule: string; device: string; state: string; ts: number; fields?: object }): string =>
  JSON.stringify({ rule: o.rule, device: o.device, state: o.state, ts: o.ts, fields: o.fields });

t.test(
  'kill -9 after a snapshot, restart, the rest of the events: the outputs of an uninterrupted run but for the lost interval',
  async (t) => {
    const { raw, ports, config } = await testConfig(t, {
      opcua: { enabled: false },
      modbus: { enabled: false },
      rules,
      checkpoint: { interval: '2s' },
    });
    const dataDir = (raw.gateway as { dataDir: string }).dataDir;
    const file = writeConfig(dataDir, raw);
    const base = `http://127.0.0.1:${ports.http}`;
    const eventsIn = async (): Promise<number> =>
      ((await (await fetch(`${base}/rules`)).json()) as { id: string; eventsIn: number }[]).find((r) => r.id === 'persist')!.eventsIn;

    const seen: string[] = [];
    let gw: GatewayProcess = spawnGateway(['--config', file]);
    t.teardown(() => gw.stop());
    await gw.waitForLog((l) => l.msg === 'gateway started', 'start');
    const watcher = await connectAsync(`mqtt://127.0.0.1:${ports.mqtt}`, { clientId: 'restart-watcher', reconnectPeriod: 100 });
    t.teardown(() => watcher.end(true));
    watcher.on('message', (topic, payload) => {
      const o = JSON.parse(payload.toString()) as Parameters<typeof normal>[0] & { active?: boolean };
      seen.push(normal(topic.endsWith('/alarm') ? { ...o, fields: undefined } : o));
    });
    await watcher.subscribeAsync(['tinyml/+/derived', 'tinyml/+/alarm'], { qos: 1 });
    const send = async (client: MqttClient, list: number[]): Promise<void> => {
      for (const seq of list) await client.publishAsync('tinyml/press-01/inference', JSON.stringify(event(seq)), { qos: 1 });
    };

    let mcu = await mqttClient(ports.mqtt);
    await send(mcu, seqs(1, 15));
    await waitFor(async () => ((await eventsIn()) === 15 ? true : undefined), 'the first 15 events through the rules');
    const processedAt = Date.now();
    await waitFor(async () => {
      const h = (await (await fetch(`${base}/health`)).json()) as { parts: { checkpoint: { lastAt?: number } } };
      return (h.parts.checkpoint.lastAt ?? 0) > processedAt + 50 || undefined;
    }, 'a snapshot after them');
    // One more event, then the kill: it falls into the interval since the snapshot, unless the next snapshot beats the kill.
    await send(mcu, [16]);
    await waitFor(async () => ((await eventsIn()) === 16 ? true : undefined), 'event 16 through the rules');
    // What the rules said about it is out before the kill (the pair matched, the alarm cleared).
    await waitFor(
      () => (seen.some((l) => l.includes('"ts":1700000016000') && l.includes('"rule":"pair"')) ? true : undefined),
      'the match on MQTT',
    );
    await waitFor(
      () => (seen.some((l) => l.includes('"ts":1700000016000') && l.includes('"cleared"')) ? true : undefined),
      'the clear on MQTT',
    );
    gw.child.kill('SIGKILL');
    await gw.exited;
    await mcu.endAsync(true);

    const snapshot = decodeSnapshot(readFileSync(join(dataDir, SNAPSHOT_FILE)), 'gw-test');
    t.ok(snapshot.ok, 'the snapshot on disk is whole');
    if (!snapshot.ok) return;
    const covered = decodeRuleState(snapshot.body.rules.find((r) => r.id === 'persist')!.state).counters.eventsIn;
    t.ok(covered === 15 || covered === 16, `the snapshot holds the rules after event ${covered}`);
    const beforeKill = seen.length;
    // The alarm book writes its changes within a second: the kill may have come before it wrote event 16's clear.
    const bookFile = join(dataDir, 'alarms.json');
    const book = (existsSync(bookFile) ? JSON.parse(readFileSync(bookFile, 'utf8')) : { alarms: [] }) as {
      alarms: { rule: string; active: boolean }[];
    };
    const bookHeldRaised = book.alarms.some((a) => a.rule === 'persist' && a.active);

    gw = spawnGateway(['--config', file]);
    const restored = await gw.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('rule state restored'), 'restore');
    t.same(restored.continued, ['window', 'pair', 'persist'], 'every rule continues');
    await gw.waitForLog((l) => l.msg === 'gateway started', 'restart');
    await waitFor(() => watcher.connected || undefined, 'the watcher back');
    mcu = await mqttClient(ports.mqtt);
    t.teardown(() => mcu.endAsync(true));
    await send(mcu, seqs(17, 30));
    await waitFor(async () => ((await eventsIn()) === covered + 14 ? true : undefined), 'the rest through the rules');
    await new Promise((r) => setTimeout(r, 500));

    const outputs = (list: number[]): string[] => {
      const out: string[] = [];
      const events = list.map((seq) => event(seq) as unknown as InferenceEvent);
      replay(config.rules, events, (o) => {
        const line = JSON.parse(replayLine(o)) as Parameters<typeof normal>[0];
        out.push(normal(o.type === 'alarm' ? { ...line, fields: undefined } : line));
      });
      return out;
    };
    // replay closes the windows still open when its input ends; a gateway keeps them open. Outputs are stamped with their event time.
    const between = (lines: string[], after: number, upTo: number): string[] =>
      lines.filter((l) => {
        const ts = (JSON.parse(l) as { ts: number }).ts - 1_700_000_000_000;
        return ts > after * 1000 && ts <= upTo * 1000;
      });
    const uninterrupted = between(outputs(seqs(1, 30)), 0, 30);
    t.ok(
      uninterrupted.some((l) => l.includes('"rule":"window"') && l.includes('"count":10')),
      'uninterrupted, the window [10 s, 20 s) counts 10',
    );
    if (covered === 16) t.same(seen, uninterrupted, 'the snapshot held every event: exactly the uninterrupted run');
    else {
      t.comment('event 16 came after the last snapshot: it is lost to the rules, not to what they said before the kill');
      t.same(seen.slice(0, beforeKill), between(outputs(seqs(1, 16)), 0, 16), 'before the kill: the outputs of events 1..16');
      const clear17 = normal({ rule: 'persist', device: 'press-01', state: 'cleared', ts: 1_700_000_017_000 });
      t.ok(
        seen.slice(0, beforeKill).includes(normal({ rule: 'persist', device: 'press-01', state: 'cleared', ts: 1_700_000_016_000 })),
        'event 16 cleared the persist alarm before the kill',
      );
      // The rules restored at 15 clear it again at 17: published only when the book had not written the clear at 16 before the kill.
      const continued = between(outputs([...seqs(1, 15), ...seqs(17, 30)]), 15, 30).filter((l) => bookHeldRaised || l !== clear17);
      t.same(seen.slice(beforeKill), continued, 'after the restart: the rules continue from event 15 as if 16 never came');
      t.ok(
        continued.some((l) => l.includes('"rule":"window"') && l.includes('"count":9')),
        'the window open across the kill counts 9',
      );
      t.ok(
        continued.some((l) => l.includes('"rule":"pair"')),
        'partial matches from before the kill match after it',
      );
    }
  },
);
