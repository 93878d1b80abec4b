/** One piece of the daemon: its constructor only stores what it is given; start/stop do the work. */
export interface Part {
  readonly name: string;
  /**
   * Begins, before any part starts, what can run beside the others' start (a worker thread loading
   * on the other core); start() finishes it. A part begun is stopped even when its start is never reached.
   */
  begin?(): void;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Undefined when healthy, otherwise why not. */
  problem(): string | undefined;
  /** Figures /health shows beside ok/problem (a sink's state and buffer depth). */
  status?(): Record<string, unknown>;
}
