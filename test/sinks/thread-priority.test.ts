import t from 'tap';
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { lowerThreadPriority } from '../../src/core/thread-priority.js';

/** A thread's nice value as the kernel has it (field 19 of its stat line). */
const niceOf = (tid: number): number =>
  Number(readFileSync(`/proc/${process.pid}/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ')[16]);

t.test('a worker thread lowers its own priority and leaves the process thread alone', async (t) => {
  const before = niceOf(process.pid);
  const url = new URL('../../src/core/thread-priority.ts', import.meta.url).href;
  // The worker reports its thread id and what the call returned.
  const source = `import { parentPort } from 'node:worker_threads'; import { readlinkSync } from 'node:fs';
    const { lowerThreadPriority } = await import(${JSON.stringify(url)});
    const nice = lowerThreadPriority(5);
    parentPort.postMessage({ tid: Number(readlinkSync('/proc/thread-self').split('/').pop()), nice });
    setTimeout(() => {}, 500);`;
  const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(source)}`), { execArgv: process.execArgv });
  const { tid, nice } = await new Promise<{ tid: number; nice: number }>((resolve) => worker.once('message', resolve));
  t.equal(nice, Math.min(19, before + 5));
  t.equal(niceOf(tid), nice, 'the kernel has it for the worker thread');
  t.equal(niceOf(process.pid), before, 'the process thread keeps its priority');
  await worker.terminate();
  t.equal(lowerThreadPriority(0), before, 'no steps: the same priority');
});
