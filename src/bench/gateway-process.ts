import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
import { stringify } from 'yaml';

/**
 * The built CLI, also when this file runs from src/ (the soak test under tap). It is run as a
 * program, as `tinyml-gateway` is installed: its first line sets how the process allocates memory.
 */
export const MAIN = join(import.meta.dirname, '..', '..', 'dist', 'main.js');

/** `tinyml-gateway run` in its own process, as a benchmark or the soak drives it: logs kept, figures read from outside. */
export class GatewayProcess {
  readonly logs: Record<string, unknown>[] = [];
  private child?: ChildProcess;
  private exit?: Promise<number | null>;

  constructor(
    readonly configFile: string,
    readonly httpPort: number,
  ) {}

  /** Writes `config` as YAML into `dir` and returns a process for it (not yet started). */
  static write(dir: string, config: Record<string, unknown>, httpPort: number): GatewayProcess {
    const file = join(dir, 'gateway.yaml');
    writeFileSync(file, stringify(config));
    return new GatewayProcess(file, httpPort);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the process and resolves once it logged `gateway started` (rejects if it exits first). */
  async start(timeoutMs = 60_000): Promise<void> {
    const child = spawn(MAIN, ['run', '--config', this.configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.exit = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    let buffered = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        try {
          this.logs.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          this.logs.push({ raw: line });
        }
      }
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const started = this.logs.length;
    const end = Date.now() + timeoutMs;
    while (!this.logs.slice(started).some((l) => l.msg === 'gateway started')) {
      if (child.exitCode !== null) throw new Error(`gateway exited ${child.exitCode}: ${stderr.slice(-2000)}`);
      if (Date.now() > end) throw new Error('gateway did not start in time');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * Starts the process and resolves with the seconds until it was ready: /health answered 200 and
   * every port in `listening` accepted a connection (for a quiet log level, where there is no
   * `gateway started` line to wait for).
   */
  async startUntilReady(listening: number[], timeoutMs = 120_000): Promise<number> {
    const t0 = performance.now();
    const child = spawn(MAIN, ['run', '--config', this.configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    this.exit = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-4000)));
    const end = t0 + timeoutMs;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`gateway exited ${child.exitCode}: ${stderr}`);
      if (performance.now() > end) throw new Error('gateway not ready in time');
      if ((await this.health(1000)).status === 200 && (await Promise.all(listening.map(accepts))).every(Boolean))
        return (performance.now() - t0) / 1000;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  signal(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  /** SIGTERM and wait; SIGKILL if it takes longer than `graceMs`. Resolves with the exit code. */
  async stop(graceMs = 10_000): Promise<number | null> {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return this.child?.exitCode ?? null;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), graceMs);
    const code = await this.exit;
    clearTimeout(timer);
    return code ?? null;
  }

  async kill9(): Promise<void> {
    if (!this.child || this.child.exitCode !== null) return;
    this.child.kill('SIGKILL');
    await this.exit;
  }

  /** Resident set size of the process, MB (VmRSS). */
  rssMb(): number {
    return rssMbOf(this.pid);
  }

  /** CPU seconds (user + system) the process used so far. */
  cpuSeconds(): number {
    return cpuSecondsOf(this.pid);
  }

  /** GET /health: status code, body and how long the answer took (ms). */
  async health(
    timeoutMs = 5000,
  ): Promise<{ status: number; ms: number; body?: { status: string; parts: Record<string, Record<string, unknown>> } }> {
    const t0 = performance.now();
    try {
      const res = await fetch(`http://127.0.0.1:${this.httpPort}/health`, { signal: AbortSignal.timeout(timeoutMs) });
      const body = (await res.json()) as { status: string; parts: Record<string, Record<string, unknown>> };
      return { status: res.status, ms: performance.now() - t0, body };
    } catch {
      return { status: 0, ms: performance.now() - t0 };
    }
  }

  /** The Prometheus text of GET /metrics, as `name{labels}` → value. */
  async metrics(): Promise<Map<string, number>> {
    const text = await (await fetch(`http://127.0.0.1:${this.httpPort}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
    const out = new Map<string, number>();
    for (const line of text.split('\n')) {
      if (line.startsWith('#') || line === '') continue;
      const at = line.lastIndexOf(' ');
      out.set(line.slice(0, at), Number(line.slice(at + 1)));
    }
    return out;
  }
}

/** Resident set size of a process, MB (VmRSS); NaN once it is gone. */
export function rssMbOf(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** CPU seconds (user + system) a process used so far. */
export function cpuSecondsOf(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/** Whether something accepts a TCP connection on the loopback `port` now. */
export function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Sum of every series of `name` (any labels) in a metrics map. */
export function metricSum(metrics: Map<string, number>, name: string, labels = ''): number {
  let sum = 0;
  for (const [key, value] of metrics) {
    if (key === name || (key.startsWith(`${name}{`) && key.includes(labels))) sum += value;
  }
  return sum;
}
