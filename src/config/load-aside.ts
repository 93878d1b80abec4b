import { Worker } from 'node:worker_threads';
import { ConfigError, type ConfigProblem } from '../core/errors.js';
import { exposureWarnings, loadConfig } from './load.js';
import type { GatewayConfig } from './schema.js';

/** A config file read and checked: the config, and what it leaves open to the network (with lines). */
export interface LoadedConfig {
  config: GatewayConfig;
  warnings: ConfigProblem[];
  /** Whether the worker did the load (false: this thread did). */
  aside: boolean;
}

export interface AsideJob {
  file: string;
  overrides: { dataDir?: string };
}

/** What the worker answers: the load, the problems loadConfig found, or that it could not do either. */
export type AsideReply =
  | { ok: true; loaded: LoadedConfig }
  | { ok: false; file: string; problems: ConfigProblem[] }
  | { ok: false; failed: string };

// Beside this module, as .ts under the test runner and .js once built.
const WORKER_URL = new URL(`./load-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);

export function loadHere(job: AsideJob): LoadedConfig {
  const config = loadConfig(job.file, job.overrides);
  return { config, warnings: exposureWarnings(job.file, config), aside: false };
}

/**
 * loadConfig and its exposure warnings in a worker thread, so that the event thread loads
 * node-opcua meanwhile instead of after: parsing YAML is 0.2 s of a 1,000-device start and 0.6 s
 * of a 10,000-device one. Rejects with the ConfigError loadConfig throws. Should the worker fail
 * any other way (it cannot start, the config does not survive the copy), the load runs here, so
 * the result never depends on the worker.
 */
export function loadConfigAside(file: string, overrides: { dataDir?: string } = {}, workerUrl: URL = WORKER_URL): Promise<LoadedConfig> {
  const job: AsideJob = { file, overrides };
  return new Promise<LoadedConfig>((resolve, reject) => {
    let settled = false;
    const here = (): void => {
      if (settled) return;
      settled = true;
      try {
        resolve(loadHere(job));
      } catch (err) {
        reject(err);
      }
    };
    let worker: Worker;
    try {
      worker = new Worker(workerUrl, { workerData: job, name: 'config' });
    } catch {
      here();
      return;
    }
    worker.once('message', (m: AsideReply) => {
      if (!m.ok && 'failed' in m) return here();
      settled = true;
      if (m.ok) resolve({ ...m.loaded, aside: true });
      else reject(new ConfigError(m.file, m.problems));
    });
    worker.once('error', here);
    worker.once('exit', here);
  });
}
