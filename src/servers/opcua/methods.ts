import type { DataType as UADataType } from 'node-opcua';
import {
  DataType,
  StatusCodes,
  Variant,
  VariantArrayType,
  type ISessionContext,
  type Namespace,
  type StatusCode,
  type UAObject,
} from './ua.js';
import { ConfigError } from '../../core/errors.js';
import { AlarmCommandError } from '../../state/alarm-book.js';

type ArgType = UADataType.String | UADataType.UInt32;

interface Argument {
  name: string;
  dataType: ArgType;
  valueRank?: 1;
  description: string;
}

/** What a method is, apart from what it does: the docs table is generated from these. */
export interface MethodInfo {
  name: string;
  /** Browse path of the object it is on. */
  on: string;
  description: string;
  inputs?: Argument[];
  outputs: Argument[];
  /** The status codes it fails with, for the docs. */
  errors: string;
}

export interface MethodSpec extends MethodInfo {
  /** Gets the input values in order; returns the output values in order. */
  run: (inputs: unknown[]) => Promise<unknown[]> | unknown[];
}

export const METHODS = {
  ReloadRules: {
    name: 'ReloadRules',
    on: 'Gateway',
    description: 'Reloads rules and devices from the configuration file, as SIGHUP does',
    outputs: [
      { name: 'Kept', dataType: DataType.String, valueRank: 1, description: 'rules whose state carried over' },
      { name: 'Restarted', dataType: DataType.String, valueRank: 1, description: 'rules started afresh' },
      { name: 'Removed', dataType: DataType.String, valueRank: 1, description: 'rules no longer configured' },
    ],
    errors: '`BadConfigurationError` when the file is wrong (the running rules stay)',
  },
  AcknowledgeAll: {
    name: 'AcknowledgeAll',
    on: 'Gateway',
    description: 'Acknowledges every unacknowledged alarm of a device (an empty Device: of every device)',
    inputs: [{ name: 'Device', dataType: DataType.String, description: 'device id, or empty for all devices' }],
    outputs: [{ name: 'Count', dataType: DataType.UInt32, description: 'alarms acknowledged' }],
    errors: 'none: an unknown device acknowledges 0',
  },
  ApproveDevice: {
    name: 'ApproveDevice',
    on: 'Gateway',
    description: 'Admits a device held in quarantine (or revoked, or not seen yet): its events are bridged from now on',
    inputs: [{ name: 'Device', dataType: DataType.String, description: 'device id' }],
    outputs: [{ name: 'Status', dataType: DataType.String, description: 'its registry status now: approved or configured' }],
    errors: '`BadInvalidArgument` for an id that is not a device id',
  },
  RevokeDevice: {
    name: 'RevokeDevice',
    on: 'Gateway',
    description: "Refuses a device's events from now on, configured or not",
    inputs: [{ name: 'Device', dataType: DataType.String, description: 'device id' }],
    outputs: [{ name: 'Status', dataType: DataType.String, description: 'revoked' }],
    errors: '`BadInvalidArgument` for an id that is not a device id',
  },
  ResetAlarms: {
    name: 'ResetAlarms',
    on: 'Devices/<device>',
    description: 'Clears, acknowledges and confirms every alarm of this device (e.g. one its rule can no longer clear)',
    outputs: [{ name: 'Count', dataType: DataType.UInt32, description: 'alarms reset' }],
    errors: 'none',
  },
} as const satisfies Record<string, MethodInfo>;

/** What a failed method returns: a status a client can act on, never a crashed server. */
export function statusOf(err: unknown): StatusCode {
  if (err instanceof ConfigError) return StatusCodes.BadConfigurationError;
  if (err instanceof AlarmCommandError) {
    if (err.problem === 'unknown') return StatusCodes.BadNotFound;
    if (err.problem === 'already-acked') return StatusCodes.BadConditionBranchAlreadyAcked;
    if (err.problem === 'already-confirmed') return StatusCodes.BadConditionBranchAlreadyConfirmed;
    return StatusCodes.BadInvalidState;
  }
  if (err instanceof InvalidArgument) return StatusCodes.BadInvalidArgument;
  return StatusCodes.BadInternalError;
}

/** A method input that is not what the method takes. */
export class InvalidArgument extends Error {}

/** Adds a method to `object` whose errors become StatusCodes (logged by `failed`), so a call never takes the server down. */
export function addMethod(
  ns: Namespace,
  object: UAObject,
  spec: MethodInfo & Pick<MethodSpec, 'run'>,
  failed: (method: string, err: unknown) => void,
): void {
  const method = ns.addMethod(object, {
    browseName: spec.name,
    // Our objects have string node ids (`Devices/<device>`, `Gateway`): methods sit beneath them.
    nodeId: `s=${String(object.nodeId.value)}/${spec.name}`,
    description: spec.description,
    inputArguments: (spec.inputs ?? []).map((a) => ({ name: a.name, dataType: a.dataType, description: { text: a.description } })),
    outputArguments: spec.outputs.map((a) => ({
      name: a.name,
      dataType: a.dataType,
      valueRank: a.valueRank ?? -1,
      description: { text: a.description },
    })),
  });
  // node-opcua tells promise-style methods from callback-style ones by their arity: keep two parameters.
  method.bindMethod(async (inputArguments: Variant[], _context: ISessionContext) => {
    try {
      const values = await spec.run(inputArguments.map((v) => v.value as unknown));
      return {
        statusCode: StatusCodes.Good,
        outputArguments: spec.outputs.map(
          (o, i) =>
            new Variant({
              dataType: o.dataType,
              arrayType: o.valueRank === 1 ? VariantArrayType.Array : VariantArrayType.Scalar,
              value: values[i],
            }),
        ),
      };
    } catch (err) {
      failed(spec.name, err);
      return { statusCode: statusOf(err) };
    }
  });
}
