import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { waitFor } from './ports.js';
import { keepLogLines } from './test-log.js';

export const MAIN = join(import.meta.dirname, '..', '..', 'dist', 'main.js');

export function runCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  input?: string,
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000, input });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Writes `raw` as YAML; spawned gateways log at info so tests can follow them. */
export function writeConfig(dir: string, raw: Record<string, unknown>, name = 'gateway.yaml'): string {
  const file = join(dir, name);
  const gateway = { ...(raw.gateway as Record<string, unknown> | undefined), logLevel: 'info' };
  writeFileSync(file, stringify({ ...raw, gateway }));
  return file;
}

export interface GatewayProcess {
  child: ChildProcess;
  logs: Record<string, unknown>[];
  stderr: () => string;
  waitForLog(match: (line: Record<string, unknown>) => boolean, what: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): Promise<void>;
}

/** `tinyml-gateway run` as a real process; its JSON log lines are parsed as they arrive. */
export function spawnGateway(args: string[], env: NodeJS.ProcessEnv = {}): GatewayProcess {
  const child = spawn(process.execPath, [MAIN, 'run', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: Record<string, unknown>[] = [];
  const raw: string[] = [];
  let buffered = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    raw.push(...lines);
    for (const line of lines) {
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ raw: line });
      }
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  // Streams end after 'exit' when the pipes still held output: keep what the process wrote, for the secrets check.
  child.once('close', () => keepLogLines(child.pid, [...raw, buffered, ...stderr.split('\n')].filter(Boolean)));
  return {
    child,
    logs,
    stderr: () => stderr,
    waitForLog: (match, what, timeoutMs = 60_000) => waitFor(() => logs.find(match), what, timeoutMs),
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}
