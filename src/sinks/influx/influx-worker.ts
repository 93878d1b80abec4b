// The InfluxDB sink's worker thread: line protocol, the write-ahead log (encode, write, fsync, read
// back) and the HTTP writes run here, so the thread that takes events only hands them over.
import { parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import { InfluxWriter } from './influx-writer.js';
import type { SinkCounters } from './forwarder.js';
import type { CounterCall, FromWorker, ToWorker, WorkerSetup, WorkerView } from './worker-messages.js';

const port = parentPort!;
const setup = workerData as WorkerSetup;
const post = (message: FromWorker): void => port.postMessage(message);

// Log lines go to the sink's thread as they are: its logger is the one that reaches journald.
const log = pino({ level: setup.logLevel, base: null }, { write: (line: string) => post({ type: 'log', line }) });

let calls: CounterCall[] = [];
let updateQueued = false;
const counted = (call: CounterCall): void => {
  calls.push(call);
  if (updateQueued) return;
  updateQueued = true;
  setImmediate(() => {
    updateQueued = false;
    post({ type: 'update', counters: calls.splice(0), view: snapshot() });
  });
};
const counters: SinkCounters = {
  written: (n) => counted({ name: 'written', n }),
  dropped: (n, reason) => counted({ name: 'dropped', n, reason }),
  retried: () => counted({ name: 'retried' }),
  writeSeconds: (s) => counted({ name: 'writeSeconds', s }),
};

const writer = new InfluxWriter(setup.options, counters, log);
const problem = writer.problem.bind(writer);
/** Pending counters go out first, so the view that follows them reflects them. */
const view = (): WorkerView => {
  if (calls.length > 0) post({ type: 'update', counters: calls.splice(0), view: snapshot() });
  return snapshot();
};
const snapshot = (): WorkerView => {
  const p = problem();
  return { status: writer.status(), hasRoom: writer.hasRoom(), ...(p === undefined ? {} : { problem: p }) };
};

let failed = false;
port.on('message', (message: ToWorker) => {
  if (message.type === 'stop') {
    void writer.stop(message.deadlineMs).then(() => post({ type: 'stopped', view: view() }));
    return;
  }
  let refused = false;
  for (const item of message.items) if (!writer.add(item)) refused = true;
  writer.durable().then(
    () => post({ type: 'synced', upTo: message.upTo, refused, view: view() }),
    (err: Error) => {
      if (failed) return;
      failed = true;
      post({ type: 'failed', message: err.message, view: view() });
    },
  );
});

writer.start().then(
  () => post({ type: 'started', view: view() }),
  (err: Error) => post({ type: 'start-failed', message: err.message }),
);
