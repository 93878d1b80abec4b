import type { AlarmTransition } from './alarm.js';

/** A rule's result published as an event of its own (MQTT `tinyml/<device>/derived`, InfluxDB `derived`). */
export interface DerivedEvent {
  rule: string;
  name: string;
  device: string;
  key: string;
  ts: number;
  state: 'raised' | 'cleared' | 'event';
  value: number;
  fields: Record<string, number | string>;
}

/** Something a rule asks an output to do. */
export type RuleAction =
  | { type: 'mqtt'; rule: string; device: string; topic: string; payload: string }
  | { type: 'modbus-coil'; rule: string; device: string; address: number; value: boolean };

export type RuleOutput =
  | { type: 'alarm'; alarm: AlarmTransition }
  | { type: 'derived'; event: DerivedEvent }
  | { type: 'action'; action: RuleAction };
