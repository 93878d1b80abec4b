import { readFileSync } from 'node:fs';
import { Subject, VirtualTimeScheduler } from 'rxjs';
import type { RuleSpec } from '../cep/rules/language.js';
import type { RuleOutput } from '../core/rule-output.js';
import { RuleEngine, type RuleStatus } from '../cep/rules/engine.js';
import { loadConfig } from '../config/load.js';
import { ConfigError, formatProblem } from '../core/errors.js';
import { decodeEventJson } from '../normalise/decode-mqtt.js';
import type { InferenceEvent } from '../normalise/inference-event.js';
import type { Io } from './commands.js';
import { deviceAttributes } from '../config/device-attributes.js';
import type { DeviceAttributes } from '../cep/rules/row.js';

export interface ReplayOptions {
  configFile: string;
  eventsFile: string;
}

/**
 * `replay`: the configured rules over recorded events (JSON lines), in event time, as fast as
 * possible. Every alarm transition is one JSON line on stdout; rejected lines and a summary go to
 * stderr. The same input gives byte-identical output: events are ordered by ts (ties keep file
 * order), every event must carry its ts, and the engine's clock is the event time.
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
  return replayRules(config.rules, o.eventsFile, io, deviceAttributes(config.devices));
}

/** `replay` once the rules are loaded: the outputs on `io.out`, rejected lines, stopped rules and a summary on `io.err`. */
export function replayRules(
  rules: RuleSpec[],
  eventsFile: string,
  io: Io,
  attributes: ReadonlyMap<string, DeviceAttributes> = new Map(),
): number {
  const { events, rejected } = readEvents(eventsFile, io);
  const counts = { alarm: 0, derived: 0, action: 0 };
  const stopped = replay(
    rules,
    events,
    (out) => {
      counts[out.type]++;
      io.out(replayLine(out) + '\n');
    },
    attributes,
  );
  for (const r of stopped) io.err(`rule ${r.id} stopped by error: ${r.error ?? ''}\n`);
  io.err(
    `replayed ${events.length} events (${rejected} rejected) through ${rules.length} rules: ` +
      `${counts.alarm} alarm transitions, ${counts.derived} derived events, ${counts.action} actions` +
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
 * Runs rules over events in event time: a virtual scheduler is moved to each event's ts before
 * the event goes in, so timers (absence, pattern timeouts, idle windows) fire exactly where they
 * would have live. Time stops at the last event: silences after it are not reported. Returns the
 * rules that stopped by an error on the way.
 */
export function replay(
  rules: RuleSpec[],
  events: InferenceEvent[],
  emit: (out: RuleOutput) => void,
  attributes: ReadonlyMap<string, DeviceAttributes> = new Map(),
): RuleStatus[] {
  const scheduler = new VirtualTimeScheduler();
  scheduler.frame = events[0]?.ts ?? 0;
  const input = new Subject<InferenceEvent>();
  const engine = new RuleEngine(rules, {}, scheduler, attributes);
  const sub = engine.connect(input).subscribe(emit);
  for (const event of events) {
    scheduler.maxFrames = event.ts;
    scheduler.flush();
    scheduler.frame = Math.max(scheduler.frame, event.ts);
    input.next(event);
  }
  input.complete();
  sub.unsubscribe();
  return engine.status().filter((r) => r.state !== 'running');
}

function readEvents(file: string, io: Io): { events: InferenceEvent[]; rejected: number } {
  const events: { event: InferenceEvent; line: number }[] = [];
  let rejected = 0;
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((text, index) => {
      if (text.trim() === '') return;
      const problem = (why: string): void => {
        rejected++;
        io.err(`${file}:${index + 1}: ${why}\n`);
      };
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (err) {
        return problem(`bad JSON: ${(err as Error).message}`);
      }
      if (typeof json !== 'object' || json === null || !('ts' in json)) return problem('no ts: a replay needs event time on every event');
      const decoded = decodeEventJson(json, 0);
      if (!decoded.ok) return problem(`${decoded.reason}: ${decoded.detail}`);
      events.push({ event: decoded.event, line: index });
    });
  events.sort((a, b) => a.event.ts - b.event.ts || a.line - b.line);
  return { events: events.map((e) => e.event), rejected };
}
