import t from 'tap';
import { EventEmitter } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { Aedes } from 'aedes';
import { ReadBudget } from '../../src/ingest/mqtt/read-budget.js';
import { connectPacket, publishPacket } from '../../src/bench/mqtt-flood.js';
import { freePort } from '../helpers/ports.js';

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A socket as aedes reads it: `read(null)` hands over what is buffered. */
function fakeSocket(chunks: string[]) {
  const socket = new EventEmitter() as EventEmitter & { read(size?: number | null): Buffer | null; destroyed: boolean };
  socket.destroyed = false;
  socket.read = (size?: number | null) => (size === 0 ? null : chunks.length > 0 ? Buffer.from(chunks.shift()!) : null);
  return socket;
}

t.test('once a turn has read for its budget, reads wait for the next turn and the socket is told to read again', async (t) => {
  let now = 0;
  const budget = new ReadBudget(10, () => now);
  const a = fakeSocket(['a1', 'a2', 'a3']);
  const b = fakeSocket(['b1']);
  budget.attach(a as unknown as Socket);
  budget.attach(b as unknown as Socket);
  const readable: string[] = [];
  a.on('readable', () => readable.push('a'));
  b.on('readable', () => readable.push('b'));

  t.equal(a.read(null)?.toString(), 'a1', 'the first read of a turn');
  now = 9;
  t.equal(a.read(null)?.toString(), 'a2', 'within the budget');
  now = 10;
  t.equal(a.read(null), null, 'the budget spent: put off');
  t.equal(b.read(null), null, 'for every socket');
  t.equal(a.read(0), null, 'read(0) (the stream refilling) is never put off');
  t.same(readable, [], 'nothing told yet');
  await nextTurn();
  t.same(readable.sort(), ['a', 'b'], 'the next turn tells each put-off socket once');
  t.equal(a.read(null)?.toString(), 'a3', 'a new turn reads again');
  t.equal(b.read(null)?.toString(), 'b1');
});

t.test('a socket closed while its read waits is not woken', async (t) => {
  let now = 0;
  const budget = new ReadBudget(0, () => now);
  const a = fakeSocket(['a1', 'a2']);
  budget.attach(a as unknown as Socket);
  let woken = 0;
  a.on('readable', () => woken++);
  a.read(null);
  t.equal(a.read(null), null);
  a.destroyed = true;
  await nextTurn();
  t.equal(woken, 0);
});

t.test('with real aedes and one read per turn, a flood of publishes arrives whole and in order', async (t) => {
  const broker = await Aedes.createBroker();
  const taken: number[] = [];
  broker.authorizePublish = (_client, packet, callback) => {
    taken.push(Number(JSON.parse(packet.payload.toString()).n));
    callback(null);
  };
  const budget = new ReadBudget(0);
  let turns = 0;
  const counting = setInterval(() => turns++, 0);
  t.teardown(() => clearInterval(counting));
  const server = createServer(broker.handle);
  server.on('connection', (socket) => budget.attach(socket));
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => broker.close(() => server.close(() => resolve()))));

  const N = 20_000;
  const packets: Buffer[] = [];
  for (let n = 0; n < N; n++) packets.push(publishPacket(`tinyml/d${n % 50}/inference`, JSON.stringify({ n, pad: 'x'.repeat(40) })));
  const flood = Buffer.concat(packets);
  const client = connect(port, '127.0.0.1');
  t.teardown(() => client.destroy());
  client.write(connectPacket('flood'));
  // Publishes before the CONNACK are queued by aedes (42 at most): send them after it.
  const connack = await new Promise<Buffer>((resolve) => client.once('data', resolve));
  t.equal(connack[0], 0x20, 'CONNACK');
  client.write(flood);
  const started = turns;
  const deadline = Date.now() + 20_000;
  while (taken.length < N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.equal(taken.length, N, 'every publish taken');
  t.ok(
    taken.every((n, i) => n === i),
    'in the order sent',
  );
  t.ok(turns - started > 10, `the loop kept turning while ${N} publishes (${flood.length} bytes) were read: ${turns - started} turns`);
});
