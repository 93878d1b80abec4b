import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './temp-dir.js';
import { waitFor } from './ports.js';

/** Two linked pseudo-terminals from socat: what one end writes the other reads, like a null-modem cable. */
export interface PtyPair {
  a: string;
  b: string;
  /** Unplugs the cable: socat exits and both device paths vanish. */
  unplug(): Promise<void>;
  /** Plugs it back in: the same paths again. */
  plug(): Promise<void>;
}

export async function ptyPair(t: { teardown(fn: () => unknown): void }): Promise<PtyPair> {
  const dir = tempDir(t, 'tinyml-pty-');
  const a = join(dir, 'a');
  const b = join(dir, 'b');
  let socat: ChildProcess | undefined;
  const plug = async (): Promise<void> => {
    socat = spawn('socat', [`pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: 'ignore' });
    await waitFor(() => existsSync(a) && existsSync(b), 'socat PTY links');
  };
  const unplug = async (): Promise<void> => {
    const p = socat;
    socat = undefined;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((resolve) => p.once('exit', resolve));
    p.kill('SIGTERM');
    await exited;
    await waitFor(() => !existsSync(a) && !existsSync(b), 'socat PTY links gone');
  };
  await plug();
  t.teardown(unplug);
  return { a, b, plug, unplug };
}
