import type { AlarmEvent } from '../../core/alarm.js';
import type { DerivedEvent } from '../../core/rule-output.js';
import type { InferenceEvent } from '../../normalise/inference-event.js';
import { alarmLine, derivedLine, gatewayLine, inferenceLine, type GatewayStats } from './points.js';

/** What the sink stores, as it crosses to the sink's worker: the item itself, line protocol is made there. */
export type SinkItem =
  | { kind: 'inference'; value: InferenceEvent }
  | { kind: 'alarm'; value: AlarmEvent }
  | { kind: 'derived'; value: DerivedEvent }
  | { kind: 'gateway'; value: GatewayStats };

/** The item's point as line protocol; undefined when it has no storable field. */
export function pointLine(item: SinkItem): string | undefined {
  switch (item.kind) {
    case 'inference':
      return inferenceLine(item.value);
    case 'alarm':
      return alarmLine(item.value);
    case 'derived':
      return derivedLine(item.value);
    case 'gateway':
      return gatewayLine(item.value);
  }
}
