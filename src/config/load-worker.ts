import { parentPort, workerData } from 'node:worker_threads';
import { ConfigError } from '../core/errors.js';
import { loadHere, type AsideJob, type AsideReply } from './load-aside.js';

// The worker of loadConfigAside: one load, one answer, then it ends.
const reply = (m: AsideReply): void => parentPort!.postMessage(m);
try {
  const loaded = loadHere(workerData as AsideJob);
  try {
    reply({ ok: true, loaded });
  } catch (err) {
    reply({ ok: false, failed: `the config does not survive the copy: ${(err as Error).message}` });
  }
} catch (err) {
  if (err instanceof ConfigError) reply({ ok: false, file: err.file, problems: err.problems });
  else reply({ ok: false, failed: err instanceof Error ? err.message : String(err) });
}
