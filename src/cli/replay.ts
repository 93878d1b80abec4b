import { readFileSync } from 'node:fs';
import { from } from 'rxjs';
import { RuleEngine } from '../cep/rules/engine.js';
import { loadConfig } from '../config/load.js';
import { ConfigError, formatProblem } from '../core/errors.js';
import { decodeEventJson } from '../normalise/decode-mqtt.js';
import type { InferenceEvent } from '../normalise/inference-event.js';
import type { Io } from './commands.js';

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
  let rules;
  try {
    rules = loadConfig(o.configFile).rules;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const p of err.problems) io.err(formatProblem(o.configFile, p) + '\n');
    return 1;
  }
  const { events, rejected } = readEvents(o.eventsFile, io);
  let now = 0;
  const engine = new RuleEngine(rules, {}, { now: () => now });
  let transitions = 0;
  engine.connect(from(events)).subscribe((t) => {
    now = t.ts;
    transitions++;
    io.out(JSON.stringify(t) + '\n');
  });
  io.err(`replayed ${events.length} events (${rejected} rejected) through ${rules.length} rules: ${transitions} alarm transitions\n`);
  return 0;
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
