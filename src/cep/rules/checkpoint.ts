import { createHash } from 'node:crypto';
import { deserialize, serialize } from 'node:v8';
import type { AlarmTransition } from '../../core/alarm.js';
import type { SeenEntry } from '../operators/quiet-keys.js';
import type { RuleSpec } from './language.js';
import type { OutputState } from './outputs.js';
import type { Signal, StateMaps } from './planner.js';

/**
 * The layout of the operators' keyed state. Bump it when an operator's state object changes
 * fields, so that a snapshot written by an older gateway starts those rules clean instead of
 * handing an operator state it would misread.
 */
export const STATE_LAYOUT = 1;

/** One rule's state in a checkpoint: its shape (what the state means) and the state, serialised. */
export interface RuleCheckpoint {
  id: string;
  shape: string;
  state: Uint8Array;
}

/** Every rule's state at one moment between two events. */
export interface EngineCheckpoint {
  /** Scheduler time it was taken at. */
  at: number;
  rules: RuleCheckpoint[];
}

/** What a rule's state holds besides its operator maps: the alarms it raised, pending auto-clears, its counters. */
export interface RuleStateData {
  maps: StateMaps;
  raised: [string, AlarmTransition][];
  autoClear: [string, SeenEntry<Signal>][];
  counters: { eventsIn: number; eventsOut: number; late: number };
}

/** Everything the meaning of a rule's state depends on: its input, key, time, limits and stages, and the layout. */
export function stateShape(rule: RuleSpec): string {
  const text = JSON.stringify({
    layout: STATE_LAYOUT,
    input: rule.input,
    key: rule.key,
    time: rule.time,
    state: rule.state,
    pipeline: rule.pipeline,
  });
  return createHash('sha256').update(text).digest('hex').slice(0, 32);
}

/** Plain data in V8's structured-clone format: Maps, Sets, typed arrays, Infinity and shared references survive. */
export function encodeRuleState(data: RuleStateData): Uint8Array {
  return serialize(data);
}

export function decodeRuleState(bytes: Uint8Array): RuleStateData {
  const data = deserialize(bytes) as RuleStateData;
  if (!Array.isArray(data?.maps) || !Array.isArray(data.raised) || !Array.isArray(data.autoClear))
    throw new Error('not a rule state: maps, raised or autoClear missing');
  return data;
}

export const outputStateOf = (data: RuleStateData): OutputState => ({ raised: new Map(data.raised), autoClear: new Map(data.autoClear) });
