import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { createLogger, type Logger, type LogLevel } from '../../src/core/logger.js';
import { hashPassword } from '../../src/core/password.js';

/**
 * Every gateway log line of a suite run, and every secret the suite configured, land under
 * test-output/ so that `test/no-secrets-in-logs.mjs` (the suite's last step) can check that no log
 * line carries a password or token. One file of each per test process.
 */
const OUT = join(import.meta.dirname, '..', '..', 'test-output');
export const LOG_DIR = join(OUT, 'logs');
export const SECRETS_DIR = join(OUT, 'secrets');

let logger: Logger | undefined;

/** A logger at trace level into this process's log file: in-process gateways log everything, and nothing reaches the terminal. */
export function testLogger(): Logger {
  if (logger) return logger;
  mkdirSync(LOG_DIR, { recursive: true });
  const destination = pino.destination({ dest: join(LOG_DIR, `inproc-${process.pid}.jsonl`), sync: false, mkdir: true });
  logger = pino({ level: 'trace', base: { pid: process.pid } }, destination);
  return logger;
}

/** A spawned gateway's stdout lines, kept for the secrets check. */
export function keepLogLines(pid: number | undefined, lines: string[]): void {
  if (lines.length === 0) return;
  mkdirSync(LOG_DIR, { recursive: true });
  appendFileSync(join(LOG_DIR, `spawned-${pid ?? 'unknown'}.jsonl`), lines.join('\n') + '\n');
}

/** Records a plaintext secret the test hands to a gateway (a password, a token). */
export function secret(plaintext: string): string {
  mkdirSync(SECRETS_DIR, { recursive: true });
  appendFileSync(join(SECRETS_DIR, `${process.pid}.txt`), JSON.stringify(plaintext) + '\n');
  return plaintext;
}

/** The hash a config holds for a secret, the secret recorded for the log check. */
export function secretHash(plaintext: string): Promise<string> {
  return hashPassword(secret(plaintext));
}

/** A logger whose lines the test reads (parsed, in `lines`), also kept in this process's log file for the secrets check. */
export function capturingLogger(level: LogLevel = 'info'): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  mkdirSync(LOG_DIR, { recursive: true });
  const file = join(LOG_DIR, `captured-${process.pid}.jsonl`);
  const log = createLogger(level, {
    write: (s: string) => {
      lines.push(JSON.parse(s) as Record<string, unknown>);
      appendFileSync(file, s.endsWith('\n') ? s : `${s}\n`);
    },
  });
  return { log, lines };
}
