/** Points read from a store in order, to be written upstream and then committed. */
export interface PointBatch {
  lines: string[];
  /** Where the batch starts and ends in the store; only the store reads these. */
  readonly from: StorePosition;
  readonly to: StorePosition;
}

export interface StorePosition {
  segment: number;
  offset: number;
}

export interface StoreDepth {
  points: number;
  bytes: number;
}

/** What a full store did with a point: nothing yet (`ok`), or which policy it applied. */
export type FullPolicy = 'drop-oldest' | 'refuse-newest';

/** Why a store gave up on points: its full policy, or a disk that failed a write. */
export type StoreDropReason = FullPolicy | 'write-failed';

export interface StoreEvents {
  /** Points a store gave up on: the oldest ones (drop-oldest), the one refused (refuse-newest), or any after a disk error. */
  dropped(points: number, reason: StoreDropReason): void;
  /** The store became full (a new episode) or has room again (the episode ended, with what it cost). */
  full(episode: 'start' | 'end', dropped: number): void;
  /** New points can be read. */
  readable(): void;
}

/**
 * Where the InfluxDB sink keeps points between the pipeline and InfluxDB: on disk (the write-ahead
 * log) or in memory. Points come out in the order they went in and leave only when committed.
 */
export interface PointStore {
  open(): Promise<void>;
  /** Takes a point (line protocol); false when the store is full and refuses it. */
  append(line: string): boolean;
  /** Whether append would take a point now (a refusing store that is full says no). */
  hasRoom(): boolean;
  /** Resolves once every point appended so far survives a crash of the process or the machine. */
  durable(): Promise<void>;
  /** Up to `max` points from the oldest uncommitted one; undefined when there is nothing to read. */
  read(max: number): Promise<PointBatch | undefined>;
  /** The batch reached InfluxDB: its points leave the store. */
  commit(batch: PointBatch): void;
  depth(): StoreDepth;
  close(): Promise<void>;
}
