import { readFileSync } from 'node:fs';
import { Subject, VirtualTimeScheduler } from 'rxjs';
import type { RuleSpec } from '../cep/rules/language.js';
import type { DeviceAttributes, Row } from '../cep/rules/row.js';
import type { RuleOutput } from '../core/rule-output.js';
import { RuleEngine, type RestoreReport, type RuleStatus } from '../cep/rules/engine.js';
import { decodeSnapshot } from '../state/rule-snapshot.js';
import type { EngineCheckpoint } from '../cep/rules/checkpoint.js';
import { deviceAttributes } from '../config/device-attributes.js';
import { loadConfig } from '../config/load.js';
import { ConfigError, formatProblem } from '../core/errors.js';
import { decodeEventJson } from '../normalise/decode-mqtt.js';
import { MAX_EVENT_BYTES, type InferenceEvent } from '../normalise/inference-event.js';
import type { Io } from './commands.js';

/** `time`: events sorted by ts (equal ts keep file order); `file`: as recorded, so out-of-order and late events replay as they came. */
export type ReplayOrder = 'time' | 'file';

export interface ReplayOptions {
  configFile: string;
  eventsFile: string;
  order?: ReplayOrder;
  /** A gateway's rule-state snapshot (`<dataDir>/rule-state.snapshot`) to continue from. */
  snapshot?: string;
}

/**
 * `replay`: the configured rules over recorded events (JSON lines), in event time, as fast as
 * possible. Every alarm transition, derived event, action and late event is one JSON line on
 * stdout; rejected lines and a summary go to stderr. The same input gives byte-identical output:
 * every event must carry its ts, and the engine's clock is the event time.
 */
export function replayCommand(o: ReplayOptions, io: Io): number {
  let config;
  try {
    config = loadConfig(o.configFile);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const p of err.problems) io.err(formatProblem(err.file, p) + '\n');
    return 1;
  }
  let from: EngineCheckpoint | undefined;
  if (o.snapshot !== undefined) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(o.snapshot);
    } catch (err) {
      io.err(`${o.snapshot}: cannot read the snapshot: ${(err as Error).message}\n`);
      return 1;
    }
    const read = decodeSnapshot(bytes, config.gateway.id);
    if (!read.ok) {
      io.err(`${o.snapshot}: snapshot refused: ${read.reason}\n`);
      return 1;
    }
    from = read.body;
  }
  return replayRules(config.rules, o.eventsFile, io, { attributes: deviceAttributes(config.devices), order: o.order, from });
}

export interface ReplayRun {
  /** The devices' attributes from the config (line, tags, …). */
  attributes?: ReadonlyMap<string, DeviceAttributes>;
  order?: ReplayOrder;
  /** An event a rule found too late. */
  late?: (rule: string, row: Row) => void;
  /** Rule state to continue from (a gateway's snapshot): rules whose shape is unchanged carry on where it was taken. */
  from?: EngineCheckpoint;
  /** Told which rules continue from `from` and which start clean. */
  restored?: (report: RestoreReport) => void;
  /** Told the rule state after the last event, before the end of the input closes open windows. */
  checkpoint?: (checkpoint: EngineCheckpoint) => void;
}

/** `replay` once the rules are loaded: the outputs on `io.out`, rejected lines, stopped rules and a summary on `io.err`. */
export function replayRules(rules: RuleSpec[], eventsFile: string, io: Io, o: ReplayRun = {}): number {
  let text: string;
  try {
    text = readFileSync(eventsFile, 'utf8');
  } catch (err) {
    io.err(`${eventsFile}: cannot read the events: ${(err as Error).message}\n`);
    return 1;
  }
  const { events, rejected } = parseEvents(text, eventsFile, o.order ?? 'time', io);
  const counts = { alarm: 0, derived: 0, action: 0, late: 0 };
  const restored = (r: RestoreReport): void => {
    const clean = [...r.changed.map((id) => `${id} (changed)`), ...r.unreadable.map((u) => `${u.id} (${u.reason})`)];
    io.err(`continuing ${r.continued.length} rules from the snapshot${clean.length > 0 ? `; starting clean: ${clean.join(', ')}` : ''}\n`);
  };
  const stopped = replay(
    rules,
    events,
    (out) => {
      counts[out.type]++;
      io.out(replayLine(out) + '\n');
    },
    {
      ...o,
      restored,
      late: (rule, row) => {
        counts.late++;
        io.out(
          JSON.stringify({
            type: 'late',
            rule,
            device: row.device,
            ts: row.ts,
            ...(row.event?.seq !== undefined ? { seq: row.event.seq } : {}),
          }) + '\n',
        );
      },
    },
  );
  for (const r of stopped) io.err(`rule ${r.id} stopped by error: ${r.error ?? ''}\n`);
  io.err(
    `replayed ${events.length} events (${rejected} rejected) through ${rules.length} rules: ` +
      `${counts.alarm} alarm transitions, ${counts.derived} derived events, ${counts.action} actions, ${counts.late} late` +
      `${stopped.length > 0 ? `; ${stopped.length} rules stopped by an error` : ''}\n`,
  );
  return stopped.length > 0 ? REPLAY_RULE_FAILED : 0;
}

/** The exit code of a replay in which a rule stopped by an error (its outputs are incomplete). */
export const REPLAY_RULE_FAILED = 3;

/** One output as `replay` prints it: an alarm or derived event flattened behind its type; an action as is. */
export function replayLine(out: RuleOutput): string {
  if (out.type === 'alarm') return JSON.stringify({ type: 'alarm', ...out.alarm });
  if (out.type === 'derived') return JSON.stringify({ type: 'derived', ...out.event });
  return JSON.stringify(out);
}

/**
 * Runs rules over events in their order: a virtual scheduler is moved to each event's ts before
 * the event goes in (never back, for an event older than one before it), so timers (absence,
 * pattern timeouts, idle windows) fire exactly where they would have live. Time stops at the last
 * event: silences after it are not reported. Returns the rules that stopped by an error on the way.
 */
export function replay(rules: RuleSpec[], events: InferenceEvent[], emit: (out: RuleOutput) => void, o: ReplayRun = {}): RuleStatus[] {
  const scheduler = new VirtualTimeScheduler();
  scheduler.frame = events[0]?.ts ?? 0;
  const input = new Subject<InferenceEvent>();
  const engine = new RuleEngine(rules, o.late ? { late: o.late } : {}, scheduler, o.attributes);
  // Timers restored from the checkpoint are due in its time: the replay starts there.
  if (o.from) {
    scheduler.frame = Math.min(scheduler.frame, o.from.at);
    const report = engine.restore(o.from);
    o.restored?.(report);
  }
  const sub = engine.connect(input).subscribe(emit);
  for (const event of events) {
    scheduler.maxFrames = event.ts;
    scheduler.flush();
    scheduler.frame = Math.max(scheduler.frame, event.ts);
    input.next(event);
  }
  o.checkpoint?.(engine.checkpoint());
  input.complete();
  sub.unsubscribe();
  return engine.status().filter((r) => r.state !== 'running');
}

/** The valid events of a recording, in the order asked; each bad line is reported with its line number. */
function parseEvents(text: string, file: string, order: ReplayOrder, io: Io): { events: InferenceEvent[]; rejected: number } {
  const events: { event: InferenceEvent; line: number }[] = [];
  let rejected = 0;
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    const problem = (why: string): void => {
      rejected++;
      io.err(`${file}:${index + 1}: ${why}\n`);
    };
    const bytes = Buffer.byteLength(line);
    // The live path's limit (MQTT, HTTP), so a recording replays only what the gateway would have taken.
    if (bytes > MAX_EVENT_BYTES) return problem(`oversize: ${bytes} bytes > ${MAX_EVENT_BYTES}, the limit of a live event`);
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch (err) {
      return problem(`bad JSON: ${(err as Error).message}`);
    }
    if (typeof json !== 'object' || json === null || !('ts' in json)) return problem('no ts: a replay needs event time on every event');
    const decoded = decodeEventJson(json, 0);
    if (!decoded.ok) return problem(`${decoded.reason}: ${decoded.detail}`);
    events.push({ event: decoded.event, line: index });
  });
  if (order === 'time') events.sort((a, b) => a.event.ts - b.event.ts || a.line - b.line);
  return { events: events.map((e) => e.event), rejected };
}
