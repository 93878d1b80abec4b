/** An alarm changing state, as emitted by CEP rules and consumed by state, servers and sinks. */
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
