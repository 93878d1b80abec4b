// The bare limit of the end-to-end benchmark: the same broker (aedes, as embedded in the gateway)
// in its own process, and a subscriber in another that only JSON.parses each event. What these
// carry on this machine is the most the gateway could take through the same ingest path.
//
//   node bare-limit.js broker <port>        prints "ready"
//   node bare-limit.js subscriber <port>    prints {"processed": n} every 200 ms
import { createServer } from 'node:net';
import { Aedes } from 'aedes';
import { connectAsync } from 'mqtt';

const [role, portText] = process.argv.slice(2);
const port = Number(portText);

if (role === 'broker') {
  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle);
  server.listen(port, '127.0.0.1', () => console.log('ready'));
} else if (role === 'subscriber') {
  const client = await connectAsync(`mqtt://127.0.0.1:${port}`, { clean: true, reconnectPeriod: 0 });
  let processed = 0;
  let parsed = 0;
  client.on('message', (_topic, payload) => {
    const event = JSON.parse(payload.toString('utf8')) as { anomaly?: number };
    if (typeof event.anomaly === 'number') parsed++;
    processed++;
  });
  await client.subscribeAsync('tinyml/+/inference', { qos: 0 });
  console.log(JSON.stringify({ processed, parsed }));
  setInterval(() => console.log(JSON.stringify({ processed, parsed })), 200);
} else {
  console.error('usage: bare-limit.js broker|subscriber <port>');
  process.exit(2);
}
