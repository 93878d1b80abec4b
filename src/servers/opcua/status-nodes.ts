import type { DataType as UADataType } from 'node-opcua';
import { DataType, StatusCodes, type EUInformation, type Namespace, type UAObject, type UAVariable } from './ua.js';

export type Scalar = string | number | boolean | Date;
export type ScalarType = UADataType.String | UADataType.Double | UADataType.UInt32 | UADataType.Boolean | UADataType.DateTime;

const EMPTY: Record<ScalarType, Scalar> = {
  [DataType.String]: '',
  [DataType.Double]: 0,
  [DataType.UInt32]: 0,
  [DataType.Boolean]: false,
  [DataType.DateTime]: new Date(0),
};

/** Adds a variable that holds an "uncertain" empty value until the first real one. */
export function addStatusVariable(
  ns: Namespace,
  options: { parent: UAObject; name: string; nodeId: string; dataType: ScalarType; description: string; unit?: EUInformation },
): UAVariable {
  const variable = ns.addVariable({
    componentOf: options.parent,
    browseName: options.name,
    nodeId: options.nodeId,
    description: options.description,
    dataType: options.dataType,
    // Values are pushed as they change, so a 50 ms subscription sees each one.
    minimumSamplingInterval: 0,
  });
  if (options.unit) addEngineeringUnits(ns, variable, options.unit);
  setUnknown(variable, options.dataType);
  return variable;
}

/** An "uncertain" empty value: what a variable reads until its first real one. */
export function setUnknown(variable: UAVariable, dataType: ScalarType): void {
  variable.setValueFromSource({ dataType, value: EMPTY[dataType] }, StatusCodes.UncertainInitialValue);
}

export function addEngineeringUnits(ns: Namespace, variable: UAVariable, unit: EUInformation, modellingRule?: 'Mandatory'): void {
  ns.addVariable({
    propertyOf: variable,
    // The standard property (0:EngineeringUnits), not one of our namespace.
    browseName: { name: 'EngineeringUnits', namespaceIndex: 0 },
    typeDefinition: 'PropertyType',
    dataType: 'EUInformation',
    ...(modellingRule ? { modellingRule } : {}),
    value: { dataType: DataType.ExtensionObject, value: unit },
  });
}

/** Remembers what each variable last got, so subscriptions see one notification per real change. */
export class ChangedValues {
  private readonly last = new Map<UAVariable, Scalar>();

  write(node: UAVariable | undefined, dataType: ScalarType, value: Scalar | undefined): void {
    if (!node || value === undefined || sameValue(this.last.get(node), value)) return;
    this.last.set(node, value);
    node.setValueFromSource({ dataType, value }, StatusCodes.Good);
  }

  forget(node: UAVariable): void {
    this.last.delete(node);
  }
}

/** Equal values (Dates by their time): what a variable needs no new write for. */
export function sameValue(a: Scalar | undefined, b: Scalar): boolean {
  return a instanceof Date && b instanceof Date ? a.getTime() === b.getTime() : a === b;
}

export interface StatusVariable<T> {
  name: string;
  dataType: ScalarType;
  description: string;
  unit?: EUInformation;
  read: (s: T) => Scalar | undefined;
}

/** A fixed set of variables on one object, each read from a status record `T`. */
export class StatusNodes<T> {
  private readonly nodes: [StatusVariable<T>, UAVariable][];
  private readonly values = new ChangedValues();

  constructor(ns: Namespace, parent: UAObject, nodeIdPrefix: string, specs: readonly StatusVariable<T>[]) {
    this.nodes = specs.map((spec) => [spec, addStatusVariable(ns, { parent, ...spec, nodeId: `${nodeIdPrefix}/${spec.name}` })]);
  }

  update(status: T): void {
    for (const [spec, node] of this.nodes) this.values.write(node, spec.dataType, spec.read(status));
  }
}
