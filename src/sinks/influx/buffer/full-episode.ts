import type { StoreDropReason, StoreEvents } from './point-store.js';

/** Below this share of its limit a full store has room again. */
const ROOM_AGAIN = 0.9;

/**
 * One "store full" episode: it begins when the store first hits its limit and ends once the store
 * is below 90% of it, so a store at its limit reports one start and one end, not one per point.
 */
export class FullEpisode {
  /** Points given up on in the current episode; undefined while the store has room. */
  private dropped?: number;

  constructor(private readonly events: StoreEvents) {}

  get active(): boolean {
    return this.dropped !== undefined;
  }

  begin(): void {
    if (this.dropped !== undefined) return;
    this.dropped = 0;
    this.events.full('start', 0);
  }

  drop(points: number, reason: StoreDropReason): void {
    this.begin();
    this.dropped! += points;
    this.events.dropped(points, reason);
  }

  /** Ends the episode when `used` fell below 90% of `limit`. */
  settle(used: number, limit: number): void {
    if (this.dropped === undefined || used > limit * ROOM_AGAIN) return;
    this.events.full('end', this.dropped);
    this.dropped = undefined;
  }
}
