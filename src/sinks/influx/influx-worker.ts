// The InfluxDB sink's worker thread: line protocol, the write-ahead log (encode, write, fsync, read
// back) and the HTTP writes run here, so the thread that takes events only hands them over.
import { parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import { lowerThreadPriority } from '../../core/thread-priority.js';
import { EventUnpacker } from './event-pack.js';
import { InfluxWriter } from './influx-writer.js';
import { inferenceLine } from './points.js';
import { pointLine } from './sink-items.js';
import type { SinkCounters } from './forwarder.js';
import type { CounterCall, FromWorker, News, ToWorker, WorkerSetup, WorkerView } from './worker-messages.js';

// History is background work: when both cores are busy, the thread serving OPC UA, Modbus and MQTT goes first.
const NICE_STEPS = 5;
lowerThreadPriority(NICE_STEPS);

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
    if (calls.length > 0) report({ type: 'update' });
  });
};
const counters: SinkCounters = {
  written: (n) => counted({ name: 'written', n }),
  dropped: (n, reason) => counted({ name: 'dropped', n, reason }),
  retried: () => counted({ name: 'retried' }),
  writeSeconds: (s) => counted({ name: 'writeSeconds', s }),
};

const writer = new InfluxWriter(setup.options, counters, log);
const events = new EventUnpacker();

/** News with the counters bumped since the last report and the view after them. */
function report(news: News): void {
  const problem = writer.problem();
  const view: WorkerView = { status: writer.status(), hasRoom: writer.hasRoom(), ...(problem === undefined ? {} : { problem }) };
  post({ ...news, counters: calls.splice(0), view });
}

let failed = false;
port.on('message', (message: ToWorker) => {
  if (message.type === 'stop') {
    void writer.stop(message.deadlineMs).then(() => report({ type: 'stopped' }));
    return;
  }
  let refused = false;
  events.each(message.events, (e) => {
    if (!writer.addLine(inferenceLine(e))) refused = true;
  });
  for (const item of message.others) if (!writer.addLine(pointLine(item))) refused = true;
  writer.durable().then(
    () => report({ type: 'synced', upTo: message.upTo, refused }),
    (err: Error) => {
      if (failed) return;
      failed = true;
      report({ type: 'failed', message: err.message });
    },
  );
});

writer.start().then(
  () => report({ type: 'started' }),
  (err: Error) => post({ type: 'start-failed', message: err.message }),
);
