import { DataType, StatusCodes, type Namespace, type UAObject, type UAVariable } from 'node-opcua';
import type { DeviceState } from '../../state/device-state.js';

export const NAMESPACE_URI = 'urn:tinyml-gateway';
export const DEVICES_FOLDER = 'Devices';

export function devicePath(device: string): string {
  return `${DEVICES_FOLDER}/${device}`;
}

type Scalar = string | number | boolean | Date;

interface VariableSpec {
  name: string;
  dataType: DataType.String | DataType.Double | DataType.Boolean | DataType.DateTime;
  read: (d: DeviceState, online: boolean) => Scalar | undefined;
}

/** The device variables, in browse order; `read` maps state to a value (undefined: not known yet). */
export const DEVICE_VARIABLES: readonly VariableSpec[] = [
  { name: 'Label', dataType: DataType.String, read: (d) => d.label },
  { name: 'Confidence', dataType: DataType.Double, read: (d) => d.confidence },
  { name: 'AnomalyScore', dataType: DataType.Double, read: (d) => d.anomaly },
  { name: 'ModelName', dataType: DataType.String, read: (d) => d.model?.name },
  { name: 'ModelVersion', dataType: DataType.String, read: (d) => d.model?.version },
  { name: 'LastSeen', dataType: DataType.DateTime, read: (d) => (d.lastSeenAt === undefined ? undefined : new Date(d.lastSeenAt)) },
  { name: 'Online', dataType: DataType.Boolean, read: (_d, online) => online },
  { name: 'AlarmActive', dataType: DataType.Boolean, read: (d) => d.alarms.size > 0 },
];

const EMPTY: Record<VariableSpec['dataType'], Scalar> = {
  [DataType.String]: '',
  [DataType.Double]: 0,
  [DataType.Boolean]: false,
  [DataType.DateTime]: new Date(0),
};

/**
 * One device object under Devices. Node ids are `s=Devices/<device>/<Variable>`: stable for SCADA
 * tags, and collision-free because `/` cannot occur in device or rule ids.
 */
export class DeviceNodes {
  private readonly variables = new Map<string, UAVariable>();
  private readonly last = new Map<string, Scalar | undefined>();
  /** The device object: source and notifier of its alarm events. */
  readonly object: UAObject;

  constructor(
    ns: Namespace,
    devicesFolder: UAObject,
    readonly id: string,
  ) {
    const object = ns.addObject({
      organizedBy: devicesFolder,
      browseName: id,
      // Otherwise the display name (and so every alarm's SourceName) is the qualified `2:<device>`.
      displayName: id,
      nodeId: `s=${devicePath(id)}`,
      // An alarm's source must hang in the event hierarchy (Server → Devices → device) to be a condition source.
      eventNotifier: 1,
      eventSourceOf: devicesFolder,
    });
    this.object = object;
    for (const spec of DEVICE_VARIABLES) {
      const variable = ns.addVariable({
        componentOf: object,
        browseName: spec.name,
        nodeId: `s=${devicePath(id)}/${spec.name}`,
        dataType: spec.dataType,
        minimumSamplingInterval: 0,
      });
      variable.setValueFromSource({ dataType: spec.dataType, value: EMPTY[spec.dataType] }, StatusCodes.UncertainInitialValue);
      this.variables.set(spec.name, variable);
    }
  }

  /** Writes only the values that changed, so subscriptions see one notification per real change. */
  update(d: DeviceState, online: boolean): void {
    for (const spec of DEVICE_VARIABLES) {
      const value = spec.read(d, online);
      const previous = this.last.get(spec.name);
      if (value === undefined || sameValue(previous, value)) continue;
      this.last.set(spec.name, value);
      this.variables.get(spec.name)?.setValueFromSource({ dataType: spec.dataType, value }, StatusCodes.Good);
    }
  }
}

function sameValue(a: Scalar | undefined, b: Scalar): boolean {
  return a instanceof Date && b instanceof Date ? a.getTime() === b.getTime() : a === b;
}
