/** An alarm changing state, as emitted by CEP rules (raised or cleared by the rule). */
export interface AlarmTransition {
  device: string;
  rule: string;
  state: 'raised' | 'cleared';
  severity: number;
  /** The value that caused the transition (e.g. the anomaly score). */
  value: number;
  /** Event time of the event that caused the transition, epoch ms. */
  ts: number;
  message: string;
}

/**
 * One alarm of one rule on one device, as operators see it: the rule's verdict (`active`) and
 * theirs (`acked`, `confirmed`). It stays in the book while it needs attention (retained).
 */
export interface AlarmCondition {
  device: string;
  rule: string;
  active: boolean;
  acked: boolean;
  confirmed: boolean;
  severity: number;
  message: string;
  value: number;
  /** When the alarm was last raised, epoch ms (event time). */
  raisedAt: number;
  /** Time of the last change of any of the states, epoch ms. */
  ts: number;
  /** Who acknowledged or confirmed last (`opcua:<user>`, `http:<address>`, `modbus`…), and their comment. */
  by?: string;
  comment?: string;
}

export type AlarmEventState = 'raised' | 'cleared' | 'acknowledged' | 'confirmed';

/** What every consumer (MQTT alarm topic, InfluxDB, OPC UA, Modbus, REST) sees: the change and the condition after it. */
export interface AlarmEvent extends AlarmCondition {
  state: AlarmEventState;
}

/** An alarm needs attention while active, or until an operator acknowledged and confirmed it. */
export const retained = (c: AlarmCondition): boolean => c.active || !c.acked || !c.confirmed;

/** A condition as the event that would have left it so: how restored alarms are shown at start. */
export const asEvent = (c: AlarmCondition): AlarmEvent => ({ ...c, state: c.active ? 'raised' : 'cleared' });
