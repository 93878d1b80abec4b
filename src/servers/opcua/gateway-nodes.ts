import { DataType, standardUnits, makeEUInformation, type Namespace, type UAObject } from './ua.js';
import { StatusNodes, type StatusVariable } from './status-nodes.js';

export const GATEWAY_OBJECT = 'Gateway';

/** What the gateway reports about itself; the OPC UA part samples it every second. */
export interface GatewayStatus {
  version: string;
  startedAt: number;
  accepted: number;
  rejected: number;
  devices: number;
  activeAlarms: number;
  /** Points each sink holds that its upstream has not confirmed yet. */
  sinks: Record<string, number>;
}

interface Sample extends GatewayStatus {
  now: number;
  /** Accepted events per second since the previous sample. */
  rate: number;
}

/** The status variables of `Objects/Gateway`; docs/opcua.md is generated from this list. */
export const GATEWAY_VARIABLES: readonly StatusVariable<Sample>[] = [
  { name: 'Version', dataType: DataType.String, description: 'Gateway software version', read: (s) => s.version },
  { name: 'StartTime', dataType: DataType.DateTime, description: 'When the gateway started', read: (s) => new Date(s.startedAt) },
  {
    name: 'Uptime',
    dataType: DataType.Double,
    unit: standardUnits.second,
    description: 'Seconds since start',
    read: (s) => Math.round((s.now - s.startedAt) / 1000),
  },
  { name: 'EventsAccepted', dataType: DataType.Double, description: 'Events that passed validation since start', read: (s) => s.accepted },
  { name: 'EventsRejected', dataType: DataType.Double, description: 'Frames dropped by validation since start', read: (s) => s.rejected },
  {
    name: 'EventRate',
    dataType: DataType.Double,
    unit: makeEUInformation('C95', '1/s', 'per second'),
    description: 'Events accepted per second, over the last second',
    read: (s) => s.rate,
  },
  { name: 'Devices', dataType: DataType.UInt32, description: 'Devices known (configured or seen)', read: (s) => s.devices },
  { name: 'ActiveAlarms', dataType: DataType.UInt32, description: 'Alarms active on all devices', read: (s) => s.activeAlarms },
];

/** `Sinks/<sink>/BufferDepth` under Gateway. */
export const SINK_VARIABLES: readonly StatusVariable<number>[] = [
  { name: 'BufferDepth', dataType: DataType.UInt32, description: 'Points held for the sink, not yet confirmed upstream', read: (n) => n },
];

/** The status variables of `Objects/Gateway` (its methods are added by the server part). */
export class GatewayNodes {
  private readonly nodes: StatusNodes<Sample>;
  private readonly sinks = new Map<string, StatusNodes<number>>();
  private readonly sinksFolder: UAObject;
  private previous?: { at: number; accepted: number };

  constructor(
    private readonly ns: Namespace,
    readonly object: UAObject,
  ) {
    this.nodes = new StatusNodes(ns, object, `s=${GATEWAY_OBJECT}`, GATEWAY_VARIABLES);
    this.sinksFolder = ns.addObject({
      componentOf: object,
      browseName: 'Sinks',
      nodeId: `s=${GATEWAY_OBJECT}/Sinks`,
      typeDefinition: 'FolderType',
    });
  }

  update(status: GatewayStatus, now: number): void {
    const p = this.previous;
    const rate = p && now > p.at ? ((status.accepted - p.accepted) * 1000) / (now - p.at) : 0;
    this.previous = { at: now, accepted: status.accepted };
    this.nodes.update({ ...status, now, rate: Math.round(rate * 10) / 10 });
    for (const [sink, depth] of Object.entries(status.sinks)) this.sink(sink).update(depth);
  }

  private sink(name: string): StatusNodes<number> {
    let nodes = this.sinks.get(name);
    if (nodes) return nodes;
    const nodeId = `s=${GATEWAY_OBJECT}/Sinks/${name}`;
    const object = this.ns.addObject({ organizedBy: this.sinksFolder, browseName: name, nodeId });
    nodes = new StatusNodes(this.ns, object, nodeId, SINK_VARIABLES);
    this.sinks.set(name, nodes);
    return nodes;
  }
}
