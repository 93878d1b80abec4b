// The bare limit of the end-to-end benchmark: the same broker (aedes, as embedded in the gateway)
// in its own process, and a subscriber in another that only JSON.parses each event. What these
// carry on this machine is the most the gateway could take through the same ingest path. With an
// InfluxDB URL the subscriber also writes every event to it, as line protocol in batches with one
// write in flight and no buffer on disk: the most the gateway could store on the same two cores.
//
//   node bare-limit.js broker <port>                         prints "ready"
//   node bare-limit.js subscriber <port> [<influx url> <db>] prints {"processed": n} every 200 ms
//                                                            (with InfluxDB: events written)
import { createServer } from 'node:net';
import { Aedes } from 'aedes';
import { connectAsync } from 'mqtt';
import type { InferenceEvent } from '../../normalise/inference-event.js';
import { LineWriter } from '../../sinks/influx/line-writer.js';
import { inferenceLine } from '../../sinks/influx/points.js';

const [role, portText, influxUrl, database] = process.argv.slice(2);
const BATCH = 5000;
const port = Number(portText);

if (role === 'broker') {
  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle);
  server.listen(port, '127.0.0.1', () => console.log('ready'));
} else if (role === 'subscriber') {
  const client = await connectAsync(`mqtt://127.0.0.1:${port}`, { clean: true, reconnectPeriod: 0 });
  let processed = 0;
  let parsed = 0;
  const writer = influxUrl
    ? new LineWriter({ url: influxUrl, database: database ?? 'bare', rejectUnauthorized: true, timeoutMs: 30_000 })
    : undefined;
  let lines: string[] = [];
  let writing = false;
  const flush = (): void => {
    if (!writer || writing || lines.length === 0) return;
    const batch = lines;
    lines = [];
    writing = true;
    writer.write(batch).then(
      () => {
        processed += batch.length;
        writing = false;
        if (lines.length >= BATCH) flush();
      },
      (err: Error) => {
        console.error(err.message);
        writing = false;
      },
    );
  };
  if (writer) setInterval(flush, 100);
  client.on('message', (_topic, payload) => {
    const event = JSON.parse(payload.toString('utf8')) as InferenceEvent;
    if (typeof event.anomaly === 'number') parsed++;
    if (!writer) processed++;
    else {
      const line = inferenceLine(event);
      if (line !== undefined) lines.push(line);
      if (lines.length >= BATCH) flush();
    }
  });
  await client.subscribeAsync('tinyml/+/inference', { qos: 0 });
  console.log(JSON.stringify({ processed, parsed }));
  setInterval(() => console.log(JSON.stringify({ processed, parsed })), 200);
} else {
  console.error('usage: bare-limit.js broker|subscriber <port>');
  process.exit(2);
}
