/** Base of every error the gateway raises on purpose; `retryable` tells callers whether to try again. */
export class GatewayError extends Error {
  constructor(
    message: string,
    readonly retryable = false,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

export interface ConfigProblem {
  path: string;
  message: string;
  line?: number;
  column?: number;
}

export class ConfigError extends GatewayError {
  constructor(
    readonly file: string,
    readonly problems: ConfigProblem[],
  ) {
    super(`${file}: ${problems.length} config error(s)\n` + problems.map((p) => formatProblem(file, p)).join('\n'));
  }
}

export function formatProblem(file: string, p: ConfigProblem): string {
  const where = p.line === undefined ? file : `${file}:${p.line}:${p.column ?? 1}`;
  return `${where}: ${p.path || '(root)'}: ${p.message}`;
}

/** A part of the daemon failed to start; the part's name leads the message. */
export class StartError extends GatewayError {
  constructor(
    readonly part: string,
    cause: unknown,
  ) {
    super(`part '${part}' failed to start: ${cause instanceof Error ? cause.message : String(cause)}`, false, { cause });
  }
}
