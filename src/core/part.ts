/** One piece of the daemon: its constructor only stores what it is given; start/stop do the work. */
export interface Part {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Undefined when healthy, otherwise why not. */
  problem(): string | undefined;
  /** Figures /health shows beside ok/problem (a sink's state and buffer depth). */
  status?(): Record<string, unknown>;
}
