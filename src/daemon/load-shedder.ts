import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { Clock } from '../core/clock.js';
import type { Part } from '../core/part.js';
import type { GatewayConfig } from '../config/schema.js';

/** `gateway.overload` of the config: `maxDelay` and `interval` in ms. */
export type SheddingOptions = GatewayConfig['gateway']['overload'];

/**
 * Share of an interval spent processing events at or above which a slow loop is the events' doing.
 * Below it the loop is slow for another reason (start-up, an OPC UA browse, a full GC): shedding
 * events would not help.
 */
const EVENT_SHARE = 0.3;
/** Never admit less than this share of the best rate seen: reading and refusing frames costs too, so a floor keeps events flowing. */
const FLOOR_SHARE = 0.1;
/** While shedding: the admitted rate shrinks by DECREASE in a slow interval and grows by GROWTH in a quick one. */
const DECREASE = 0.8;
const GROWTH = 1.05;
/** Quick intervals in a row, with nothing shed, that end an overload episode. */
const CALM_TO_END = 10;
/** Slow intervals in a row that start one: a GC pause or a burst is absorbed by socket buffers, not shed. */
const SLOW_TO_START = 3;

/**
 * Share of an interval the event loop must be busy (not waiting for input) to be behind. A loop
 * that has fallen behind always finds frames waiting in its sockets, so it never waits; one that
 * is late but still waits part of the time was held up by something else (the machine did not run
 * it: other processes on both cores, a virtual machine's stolen time) and has caught up by itself.
 */
const BEHIND_UTILIZATION = 0.9;

const RESOLUTION_MS = 10;

/** The event loop over one interval. */
export interface LoopSample {
  /** How late the loop ran on average, ms. */
  delayMs: number;
  /** Share of the interval the loop was busy rather than waiting for input, 0–1. */
  utilization: number;
}

/**
 * The event loop since the last call, from node's own samplers. `delayMs` is the mean lateness
 * (10 ms resolution): how long a turn of the loop takes, so how long a request waits for its turn.
 * Not the worst: a single stall (a full GC, a large InfluxDB batch) is not a loop that has fallen
 * behind, and taking it for one would shed below what the gateway can take. The histogram is never
 * reset: node records a delay only from the second sample after a reset, so a loop whose turns
 * take longer than the interval between two reads would read as never late.
 */
export function loopSampler(): () => LoopSample {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  let count = 0;
  let sum = 0;
  let at = performance.now();
  let busy = performance.eventLoopUtilization();
  return () => {
    const now = performance.now();
    const c = histogram.count;
    const s = c > 0 ? histogram.mean * c : 0;
    // No turn of the loop ended in the interval: it was late by about all of it.
    const delayMs = c > count ? Math.max((s - sum) / (c - count) / 1e6 - RESOLUTION_MS, 0) : Math.max(now - at - RESOLUTION_MS, 0);
    const u = performance.eventLoopUtilization();
    const utilization = performance.eventLoopUtilization(u, busy).utilization;
    count = c;
    sum = s;
    at = now;
    busy = u;
    return { delayMs, utilization };
  };
}

/**
 * Keeps the gateway responsive when more events arrive than it can take. When the gateway falls
 * behind, each turn of the event loop reads whole socket buffers of events, so the loop's delay
 * grows and it never waits for input; while the delay stays at or above `maxDelay`, the loop stays
 * busy and the time goes into events, frames that cannot be back-pressured (MQTT QoS 0, serial
 * lines) are admitted only up to a rate that is lowered
 * until the loop is quick again (multiplicative decrease, slow increase), and the rest shed and
 * counted. Frames that can be back-pressured (QoS 1, HTTP) are never shed here: QoS 1 waits for
 * its PUBACK in the socket, HTTP gets 503 with Retry-After. `admit` costs a comparison per frame.
 */
export class LoadShedder implements Part {
  readonly name = 'intake';
  private timer?: NodeJS.Timeout;
  private readLoop?: () => LoopSample;
  private shedding = false;
  private rate = Infinity;
  private best = 0;
  private tickStart: number;
  private admittedThisTick = 0;
  private busyThisTick = 0;
  private slow = 0;
  private calm = 0;
  private shedThisTick = 0;
  private shedThisEpisode = 0;
  private shedTotal = 0;
  private delay = 0;

  constructor(
    private readonly options: SheddingOptions,
    private readonly clock: Clock,
    private readonly shed: (source: string) => void,
    private readonly sampler: () => () => LoopSample = loopSampler,
  ) {
    this.tickStart = clock.now();
  }

  async start(): Promise<void> {
    if (!this.options.enabled) return;
    this.readLoop = this.sampler();
    this.timer = setInterval(() => this.tick(), this.options.interval);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
  }

  /** Degraded (not failing) while an overload episode has shed events. */
  problem(): string | undefined {
    return this.shedding && this.shedThisEpisode > 0 ? 'overloaded: shedding QoS 0 and serial events' : undefined;
  }

  status(): Record<string, unknown> {
    return {
      shedding: this.shedding,
      loopDelayMs: Math.round(this.delay),
      shed: this.shedTotal,
      ...(this.problem() !== undefined ? { degraded: true, admittedPerSecond: Math.round(this.rate) } : {}),
    };
  }

  /** ms the pipeline spent on one event: tells a loop slow with events from one slow with anything else. */
  took(ms: number): void {
    this.busyThisTick += ms;
  }

  /** Whether the gateway takes an event it cannot back-pressure from `source`; a refusal is counted. */
  admit(source: string): boolean {
    if (!this.shedding || this.admittedThisTick < (this.rate * Math.max(this.clock.now() - this.tickStart, 1)) / 1000) {
      this.admittedThisTick++;
      return true;
    }
    this.shedThisTick++;
    this.shedThisEpisode++;
    this.shedTotal++;
    this.shed(source);
    return false;
  }

  /** Whether sources that can wait (HTTP) should be told to come back later. */
  get overloaded(): boolean {
    return this.shedding;
  }

  /** One look at the loop: public so tests drive it with their own delays. */
  tick(): void {
    const now = this.clock.now();
    const elapsed = Math.max(now - this.tickStart, 1);
    const admittedRate = (this.admittedThisTick * 1000) / elapsed;
    const loop = this.readLoop?.() ?? { delayMs: 0, utilization: 0 };
    this.delay = loop.delayMs;
    const slow =
      this.delay >= this.options.maxDelay && this.busyThisTick / elapsed >= EVENT_SHARE && loop.utilization >= BEHIND_UTILIZATION;
    this.slow = slow ? this.slow + 1 : 0;
    if (!this.shedding) {
      this.best = Math.max(this.best, admittedRate);
      if (this.slow >= SLOW_TO_START) {
        this.shedding = true;
        this.rate = Math.max(admittedRate * DECREASE, this.best * FLOOR_SHARE, 1);
      }
    } else if (slow) {
      this.rate = Math.max(Math.min(this.rate, admittedRate) * DECREASE, this.best * FLOOR_SHARE, 1);
      this.calm = 0;
    } else {
      this.rate *= GROWTH;
      this.calm = this.shedThisTick === 0 ? this.calm + 1 : 0;
      if (this.calm >= CALM_TO_END) this.end();
    }
    this.shedThisTick = 0;
    this.admittedThisTick = 0;
    this.busyThisTick = 0;
    this.tickStart = now;
  }

  private end(): void {
    this.shedding = false;
    this.shedThisEpisode = 0;
    this.rate = Infinity;
    this.calm = 0;
  }
}
