import type { DataType as UADataType } from 'node-opcua';
import {
  DataType,
  standardUnits,
  makeEUInformation,
  Range,
  type EUInformation,
  type Namespace,
  type UAObject,
  type UAObjectType,
  type UAVariable,
} from './ua.js';
import type { DeviceState } from '../../state/device-state.js';
import { EVENTS_WITH_HISTORY } from './history.js';
import { addEngineeringUnits, setUnknown, type Scalar } from './status-nodes.js';
import { LiveVariable, type WatchListener } from './live-values.js';
import { buildOnBrowse } from './lazy-devices.js';

export const NAMESPACE_URI = 'urn:tinyml-gateway';
export const DEVICES_FOLDER = 'Devices';
export const DEVICE_TYPE = 'TinyMLDeviceType';

export function devicePath(device: string): string {
  return `${DEVICES_FOLDER}/${device}`;
}

/** What a device variable is read from: the state, plus what the state store computes. */
export interface DeviceView {
  d: DeviceState;
  online: boolean;
  /** Inferences per minute. */
  rate: number;
  /** EURange of AnomalyScore. */
  anomalyRange: { low: number; high: number };
}

export interface DeviceVariable {
  /** Browse path below the device object, e.g. `Model/Name`. */
  path: string;
  dataType: UADataType.String | UADataType.Double | UADataType.Boolean | UADataType.DateTime;
  description: string;
  /** AnalogItemType with this EURange; anything else is a BaseDataVariable. */
  range?: 'unit' | 'anomaly';
  unit?: EUInformation;
  /** The value from state; undefined while not known. */
  read: (v: DeviceView) => Scalar | undefined;
  /** Changes with time alone, not only with events. */
  timeDependent?: boolean;
}

const perMinute = makeEUInformation('C94', '1/min', 'per minute');
const date = (ms: number | undefined): Date | undefined => (ms === undefined ? undefined : new Date(ms));

/** The variables of TinyMLDeviceType in browse order; docs/opcua.md is generated from this list. */
export const DEVICE_VARIABLES: readonly DeviceVariable[] = [
  { path: 'Label', dataType: DataType.String, description: 'Predicted class of the newest inference', read: (v) => v.d.label },
  {
    path: 'Confidence',
    dataType: DataType.Double,
    range: 'unit',
    description: 'Score of the predicted class, 0..1',
    read: (v) => v.d.confidence,
  },
  {
    path: 'AnomalyScore',
    dataType: DataType.Double,
    range: 'anomaly',
    description: "Anomaly score of the newest inference; EURange from the device's `anomalyRange`",
    read: (v) => v.d.anomaly,
  },
  { path: 'LastSeen', dataType: DataType.DateTime, description: 'When the newest event arrived', read: (v) => date(v.d.lastSeenAt) },
  {
    path: 'Online',
    dataType: DataType.Boolean,
    description: 'An event arrived within `gateway.offlineAfterMs`',
    read: (v) => v.online,
    timeDependent: true,
  },
  {
    path: 'InferenceRate',
    dataType: DataType.Double,
    unit: perMinute,
    description: 'Inferences received over the last minute',
    read: (v) => v.rate,
    timeDependent: true,
  },
  {
    path: 'DspTimeMs',
    dataType: DataType.Double,
    unit: standardUnits.millisecond,
    description: 'Feature extraction time the MCU reported (`timing.dsp_ms`)',
    read: (v) => v.d.dspMs,
  },
  {
    path: 'InferenceTimeMs',
    dataType: DataType.Double,
    unit: standardUnits.millisecond,
    description: 'Model run time the MCU reported (`timing.inference_ms`)',
    read: (v) => v.d.inferenceMs,
  },
  {
    path: 'AlarmActive',
    dataType: DataType.Boolean,
    description: 'Any rule has an alarm active on the device',
    read: (v) => v.d.alarms.size > 0,
  },
  { path: 'Model/Name', dataType: DataType.String, description: 'Model name from the newest event', read: (v) => v.d.model?.name },
  { path: 'Model/Version', dataType: DataType.String, description: 'Model version from the newest event', read: (v) => v.d.model?.version },
  {
    path: 'Model/DeployedAt',
    dataType: DataType.DateTime,
    description: 'First event seen with this model name and version (since the gateway started)',
    read: (v) => date(v.d.modelSince),
  },
];

/** One Double per class under `Scores`, named by the class label. */
export const SCORE_VARIABLE = {
  path: 'Scores/<label>',
  dataType: DataType.Double as UADataType.Double,
  range: 'unit' as const,
  description: 'Score of each class, 0..1',
};

const OBJECTS = [
  { name: 'Scores', description: 'One variable per class the device reports' },
  { name: 'Model', description: 'The model the device runs' },
] as const;

const UNIT_RANGE = { low: 0, high: 1 };

/** Defines TinyMLDeviceType once per address space; every device object is an instance of it. */
export function addDeviceType(ns: Namespace): UAObjectType {
  const type = ns.addObjectType({
    browseName: DEVICE_TYPE,
    nodeId: `s=${DEVICE_TYPE}`,
    description: 'A microcontroller sending TinyML inference events',
  });
  const parents = new Map<string, UAObject | UAObjectType>([['', type]]);
  for (const o of OBJECTS) {
    parents.set(o.name, ns.addObject({ componentOf: type, browseName: o.name, description: o.description, modellingRule: 'Mandatory' }));
  }
  for (const spec of DEVICE_VARIABLES) {
    const [parent, name] = splitPath(spec.path);
    addVariable(ns, parents.get(parent)!, name, spec, UNIT_RANGE, 'Mandatory');
  }
  return type;
}

function splitPath(path: string): [string, string] {
  const i = path.lastIndexOf('/');
  return i < 0 ? ['', path] : [path.slice(0, i), path.slice(i + 1)];
}

function addVariable(
  ns: Namespace,
  parent: UAObject | UAObjectType,
  name: string,
  spec: Pick<DeviceVariable, 'dataType' | 'description' | 'range' | 'unit'>,
  range: { low: number; high: number },
  modellingRule?: 'Mandatory',
  nodeId?: string,
): UAVariable {
  const common = {
    componentOf: parent,
    browseName: name,
    description: spec.description,
    dataType: spec.dataType,
    // Values are pushed as they change, so a 50 ms subscription sees each one.
    minimumSamplingInterval: 0,
    ...(modellingRule ? { modellingRule } : {}),
    ...(nodeId ? { nodeId } : {}),
  };
  if (spec.range) return ns.addAnalogDataItem({ ...common, engineeringUnitsRange: range });
  const variable = ns.addVariable(common);
  if (spec.unit) addEngineeringUnits(ns, variable, spec.unit, modellingRule);
  return variable;
}

/**
 * One device object under Devices, an instance of TinyMLDeviceType. Node ids are
 * `s=Devices/<device>/<path>`: stable for SCADA tags, and collision-free because `/` cannot occur
 * in device ids.
 *
 * The object exists from the start; its variables are built on first use (`build`). They read the
 * device's state when they are read (see LiveVariable). An event costs a
 * version bump; only variables an exception-based monitored item watches are pushed, at most once
 * per the fastest sampling interval among those items: the first change at once, later ones
 * folded into the newest value at the end of the window.
 */
export class DeviceNodes implements WatchListener {
  private readonly variables = new Map<string, LiveVariable>();
  private readonly scores = new Map<string, LiveVariable>();
  private readonly watchedVariables = new Set<LiveVariable>();
  /** What the variables compare against to know they are stale. */
  private readonly source = { version: 0, changedAt: 0 };
  private interval = Infinity;
  private window: NodeJS.Timeout | undefined;
  private pending = false;
  private anomalyRange?: { low: number; high: number };
  /** The device object: source and notifier of its alarm events. */
  readonly object: UAObject;

  /** The object alone, its variables being built (a re-entrant call), or built. */
  private stage: 'object' | 'building' | 'built' = 'object';

  constructor(
    private readonly ns: Namespace,
    type: UAObjectType,
    devicesFolder: UAObject,
    readonly id: string,
    private readonly view: () => DeviceView,
    /** What else hangs below the device once it is built (history, methods). */
    private readonly onBuilt: (nodes: DeviceNodes) => void = () => undefined,
  ) {
    // Built from the same specs as the type, not by type.instantiate(): cloning the type's
    // declarations took half of a 10,000-device start.
    this.object = ns.addObject({
      typeDefinition: type,
      organizedBy: devicesFolder,
      browseName: id,
      // Otherwise the display name (and so every alarm's SourceName) is the qualified `2:<device>`.
      displayName: id,
      nodeId: `s=${devicePath(id)}`,
      // An alarm's source must hang in the event hierarchy (Server → Devices → device) to be a condition source.
      eventNotifier: EVENTS_WITH_HISTORY,
      eventSourceOf: devicesFolder,
    });
    buildOnBrowse(this.object, () => this.build());
  }

  /** Whether the device's variables exist yet. */
  get isBuilt(): boolean {
    return this.stage === 'built';
  }

  /**
   * Creates the device's variables, the first time anything reaches below the device object (a
   * browse of the device, a path through it, a read or a subscription by node id: lazy-devices.ts).
   * Until then a device costs one object node, and its state is all there is to read; so start and
   * memory follow the devices clients look at, not the devices configured. False while it is being
   * built (a re-entrant call).
   */
  build(): boolean {
    if (this.stage !== 'object') return this.stage === 'built';
    this.stage = 'building';
    const nodeId = `s=${devicePath(this.id)}`;
    const parents = new Map<string, UAObject>([['', this.object]]);
    for (const o of OBJECTS) {
      parents.set(
        o.name,
        this.ns.addObject({ componentOf: this.object, browseName: o.name, description: o.description, nodeId: `${nodeId}/${o.name}` }),
      );
    }
    for (const spec of DEVICE_VARIABLES) {
      const [parent, name] = splitPath(spec.path);
      const variable = addVariable(this.ns, parents.get(parent)!, name, spec, UNIT_RANGE, undefined, `${nodeId}/${spec.path}`);
      setUnknown(variable, spec.dataType);
      const read = spec.read;
      this.variables.set(
        spec.path,
        new LiveVariable(variable, spec.dataType, () => read(this.view()), this.source, this, spec.timeDependent),
      );
    }
    this.stage = 'built';
    this.refresh();
    // Classes seen only in events so far (not configured) get their variables too.
    for (const label in this.view().d.scores) this.score(label);
    this.onBuilt(this);
    return true;
  }

  variable(path: string): UAVariable | undefined {
    this.build();
    return (this.variables.get(path) ?? (path.startsWith('Scores/') ? this.scores.get(path.slice('Scores/'.length)) : undefined))?.node;
  }

  /** The device's state changed: called once per event, so it does no more than it must. */
  changed(d: DeviceState, now: number): void {
    this.source.version++;
    this.source.changedAt = now;
    if (!this.isBuilt) return;
    if (d.scores) for (const label in d.scores) if (!this.scores.has(label)) this.score(label);
    if (this.watchedVariables.size === 0) return;
    if (this.window) {
      this.pending = true;
      return;
    }
    this.push();
    this.openWindow();
  }

  /** Values that change with time alone reach their watchers; configured classes and the EURange follow a reload. */
  refresh(): void {
    if (!this.isBuilt) return;
    const v = this.view();
    this.setAnomalyRange(v.anomalyRange);
    for (const label of v.d.labels) this.score(label);
    if (!this.window) this.push();
  }

  watched(variable: LiveVariable): void {
    if (variable.watchers.size > 0) this.watchedVariables.add(variable);
    else this.watchedVariables.delete(variable);
    let fastest = Infinity;
    for (const v of this.watchedVariables) fastest = Math.min(fastest, v.fastestInterval());
    this.interval = fastest;
  }

  dispose(): void {
    clearTimeout(this.window);
    this.window = undefined;
  }

  private push(): void {
    for (const v of this.watchedVariables) v.sync();
  }

  /** Changes inside the window are folded; at its end the newest is pushed and, if there was one, a new window opens. */
  private openWindow(): void {
    if (!(this.interval > 0 && this.interval < Infinity)) return;
    this.window = setTimeout(() => {
      this.window = undefined;
      if (!this.pending) return;
      this.pending = false;
      this.push();
      this.openWindow();
    }, this.interval);
    this.window.unref();
  }

  /** A class seen for the first time (in the config or in an event's scores) gets its variable. */
  private score(label: string): LiveVariable {
    let live = this.scores.get(label);
    if (live) return live;
    const scores = this.object.getComponentByName('Scores') as UAObject;
    const node = addVariable(this.ns, scores, label, SCORE_VARIABLE, UNIT_RANGE, undefined, `s=${devicePath(this.id)}/Scores/${label}`);
    setUnknown(node, DataType.Double);
    live = new LiveVariable(node, DataType.Double, () => this.view().d.scores?.[label], this.source, this);
    this.scores.set(label, live);
    return live;
  }

  private setAnomalyRange(range: { low: number; high: number }): void {
    if (this.anomalyRange?.low === range.low && this.anomalyRange.high === range.high) return;
    this.anomalyRange = range;
    const property = this.variables.get('AnomalyScore')?.node.getPropertyByName('EURange');
    property?.setValueFromSource({ dataType: DataType.ExtensionObject, value: new Range(range) });
  }
}
