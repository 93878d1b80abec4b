import type { AlarmEvent } from '../../core/alarm.js';
import type { DerivedEvent } from '../../core/rule-output.js';
import { alarmLine, derivedLine, gatewayLine, type GatewayStats } from './points.js';

/** What the sink stores besides inference events (those cross packed: event-pack.ts), as it crosses to the sink's worker: line protocol is made there. */
export type SinkItem =
  | { kind: 'alarm'; value: AlarmEvent }
  | { kind: 'derived'; value: DerivedEvent }
  | { kind: 'gateway'; value: GatewayStats };

/** The item's point as line protocol; undefined when it has no storable field. */
export function pointLine(item: SinkItem): string | undefined {
  switch (item.kind) {
    case 'alarm':
      return alarmLine(item.value);
    case 'derived':
      return derivedLine(item.value);
    case 'gateway':
      return gatewayLine(item.value);
  }
}
