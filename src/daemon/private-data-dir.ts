import { chmodSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Modes of the data dir's folders and files: its alarms, device decisions, keys and buffered history are the plant's. */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Makes the data dir private before anything writes to it: created 0700, and whatever an earlier
 * version or a hand copy left wider is narrowed (folders 0700, files 0600). The process umask
 * (set by `run`) keeps what is written later private too. Symbolic links are left alone.
 */
export function privateDataDir(dir: string): { tightened: number } {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  let tightened = 0;
  const narrow = (path: string): void => {
    const stat = lstatSync(path);
    if (stat.isSymbolicLink()) return;
    const mode = stat.isDirectory() ? PRIVATE_DIR_MODE : PRIVATE_FILE_MODE;
    if ((stat.mode & 0o777 & ~mode) !== 0) {
      chmodSync(path, mode);
      tightened++;
    }
    if (stat.isDirectory()) for (const name of readdirSync(path)) narrow(join(path, name));
  };
  narrow(dir);
  return { tightened };
}
