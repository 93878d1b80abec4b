import { DataType, type Namespace, type UAObject } from './ua.js';
import type { RuleStatus } from '../../cep/rules/engine.js';
import { StatusNodes, type StatusVariable } from './status-nodes.js';

export const RULES_FOLDER = 'Rules';

/** The variables of each `Rules/<rule>` object; docs/opcua.md is generated from this list. */
export const RULE_VARIABLES: readonly StatusVariable<RuleStatus>[] = [
  { name: 'Status', dataType: DataType.String, description: '`running` or `stopped-by-error`', read: (r) => r.state },
  { name: 'Error', dataType: DataType.String, description: 'Why the rule stopped (empty while running)', read: (r) => r.error ?? '' },
  { name: 'EventsIn', dataType: DataType.Double, description: 'Events that passed the rule input filter', read: (r) => r.eventsIn },
  { name: 'EventsOut', dataType: DataType.Double, description: 'Signals the rule emitted', read: (r) => r.eventsOut },
  { name: 'LateEvents', dataType: DataType.Double, description: 'Events too late for every window (side output)', read: (r) => r.late },
  { name: 'Keys', dataType: DataType.UInt32, description: 'Keys (usually devices) held in the rule state', read: (r) => r.keys },
];

/** `Objects/Rules/<rule>`: one object per running rule, added and removed as rules are reloaded. */
export class RuleNodes {
  private readonly rules = new Map<string, { object: UAObject; nodes: StatusNodes<RuleStatus> }>();

  constructor(
    private readonly ns: Namespace,
    private readonly folder: UAObject,
  ) {}

  update(status: RuleStatus[]): void {
    const ids = new Set(status.map((r) => r.id));
    for (const [id, { object }] of this.rules) {
      if (ids.has(id)) continue;
      this.ns.addressSpace.deleteNode(object);
      this.rules.delete(id);
    }
    for (const r of status) this.rule(r.id).nodes.update(r);
  }

  private rule(id: string): { object: UAObject; nodes: StatusNodes<RuleStatus> } {
    let held = this.rules.get(id);
    if (held) return held;
    const nodeId = `s=${RULES_FOLDER}/${id}`;
    const object = this.ns.addObject({ organizedBy: this.folder, browseName: id, displayName: id, nodeId });
    held = { object, nodes: new StatusNodes(this.ns, object, nodeId, RULE_VARIABLES) };
    this.rules.set(id, held);
    return held;
  }
}
