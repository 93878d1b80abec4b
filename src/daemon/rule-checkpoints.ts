import { join } from 'node:path';
import type { RuleEngine } from '../cep/rules/engine.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Part } from '../core/part.js';
import type { AlarmBook } from '../state/alarm-book.js';
import { encodeSnapshot, readSnapshot, SNAPSHOT_FILE, writeSnapshot } from '../state/rule-snapshot.js';

export interface CheckpointSettings {
  enabled: boolean;
  interval: number;
  dataDir: string;
  gateway: string;
}

export interface CheckpointFigures {
  /** Wall-clock time of the last snapshot written, epoch ms. */
  lastAt?: number;
  /** Time the engine's thread spent taking and encoding it, ms. */
  lastTookMs?: number;
  lastBytes?: number;
  failures: number;
}

/**
 * Rule state across restarts: restored at start (before the rules see an event), written every
 * `interval` and once more at stop (after the rules saw their last event). Taking the snapshot is
 * synchronous, between two events; writing it is not, and one write runs at a time.
 */
export class RuleCheckpoints implements Part {
  readonly name = 'checkpoint';
  readonly figures: CheckpointFigures = { failures: 0 };
  private timer?: NodeJS.Timeout;
  private writing?: Promise<void>;
  private readonly file: string;

  constructor(
    private readonly settings: CheckpointSettings,
    private readonly engine: RuleEngine,
    private readonly alarms: AlarmBook,
    private readonly clock: Clock,
    private readonly log: Logger,
    /** Told of every snapshot written (its cost on the engine's thread, in ms, and its size) or failed. */
    private readonly told: { written(tookMs: number, bytes: number): void; failed(): void } = {
      written: () => undefined,
      failed: () => undefined,
    },
  ) {
    this.file = join(settings.dataDir, SNAPSHOT_FILE);
  }

  /**
   * Gives the rules their saved state. Called by the state part, after the alarm book is loaded and
   * before anything listens to it, so the alarms it clears reach the device state as cleared.
   */
  async restore(): Promise<void> {
    if (!this.settings.enabled) return;
    const read = await readSnapshot(this.file, this.settings.gateway);
    if (!read.ok) {
      if (read.missing) this.log.info({ file: this.file }, 'no rule-state snapshot yet: rules start clean');
      else this.log.warn({ file: this.file, reason: read.reason }, `rule-state snapshot refused (${read.reason}): rules start clean`);
      return;
    }
    const report = this.engine.restore(read.body);
    const age = this.clock.now() - read.body.writtenAt;
    this.log.info(
      { continued: report.continued, ageMs: age, bytes: read.bytes },
      `rule state restored for ${report.continued.length} rules`,
    );
    for (const id of report.changed) this.log.warn({ rule: id }, `rule ${id} changed since the snapshot: it starts clean`);
    for (const u of report.unreadable)
      this.log.warn({ rule: u.id, reason: u.reason }, `rule ${u.id}: saved state unreadable, it starts clean`);
    if (report.gone.length > 0) this.log.info({ rules: report.gone }, 'snapshot rules no longer configured: their state is dropped');
    // The book may hold alarms a rule raised after the snapshot, or raised before a change: the rule no longer knows them.
    const held = new Map(report.continued.map((id) => [id, new Set(this.engine.raisedBy(id))]));
    const changed = new Set(report.changed);
    for (const c of this.alarms.list()) {
      if (!c.active) continue;
      const why = changed.has(c.rule)
        ? `rule ${c.rule} changed since the last snapshot; alarm reset`
        : held.has(c.rule) && !held.get(c.rule)!.has(c.device)
          ? 'raised after the last rule-state snapshot, which the rule continues from; alarm reset'
          : undefined;
      if (why !== undefined) this.alarms.apply({ ...c, state: 'cleared', ts: this.clock.now(), message: why });
    }
  }

  async start(): Promise<void> {
    if (!this.settings.enabled) return;
    this.timer = setInterval(() => void this.write(), this.settings.interval);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    if (!this.settings.enabled) return;
    await this.writing;
    await this.write();
  }

  problem(): string | undefined {
    return undefined;
  }

  status(): Record<string, unknown> {
    return { ...this.figures };
  }

  /** Takes a snapshot now and writes it; a write still running makes this one wait for the next interval. */
  write(): Promise<void> {
    if (this.writing) return this.writing;
    const t0 = performance.now();
    const checkpoint = this.engine.checkpoint();
    const parts = encodeSnapshot({ ...checkpoint, gateway: this.settings.gateway, writtenAt: this.clock.now() });
    const tookMs = performance.now() - t0;
    const bytes = parts.reduce((n, p) => n + p.length, 0);
    this.writing = writeSnapshot(this.file, parts)
      .then(() => {
        Object.assign(this.figures, { lastAt: this.clock.now(), lastTookMs: tookMs, lastBytes: bytes });
        this.told.written(tookMs, bytes);
        this.log.debug({ bytes, tookMs }, 'rule-state snapshot written');
      })
      .catch((err: unknown) => {
        this.figures.failures++;
        this.told.failed();
        this.log.error({ file: this.file, err: (err as Error).message }, 'rule-state snapshot not written');
      })
      .finally(() => (this.writing = undefined));
    return this.writing;
  }
}
