// node-opcua's values, loaded with require: an ESM import of a CommonJS package lexes each of the
// some 150 modules it re-exports for their names, about 170 ms of the gateway's start. Types are
// imported from 'node-opcua' as usual; each class and enum here is also exported as its type.
import { createRequire } from 'node:module';
import type * as UA from 'node-opcua';
import type * as UATypes from 'node-opcua-types';
import { withoutPkcs1Probe } from './pkcs1-probe.js';

const load = createRequire(import.meta.url);
const ua = withoutPkcs1Probe(() => load('node-opcua') as typeof UA);

export const {
  AccessLevelFlag,
  AttributeIds,
  DataType,
  DataValue,
  HistoryData,
  HistoryReadResult,
  MessageSecurityMode,
  MonitoredItem,
  NamespaceOptions,
  NodeId,
  OPCUACertificateManager,
  OPCUAServer,
  Range,
  ReadEventDetails,
  ReadRawModifiedDetails,
  RegisterServerMethod,
  SecurityPolicy,
  StatusCodes,
  Subscription,
  Variant,
  VariantArrayType,
  WellKnownRoles,
  makeEUInformation,
  makeRoles,
  setErrorLogger,
  setWarningLogger,
  standardUnits,
} = ua;
export const { HistoryEvent, HistoryEventFieldList } = load('node-opcua-types') as typeof UATypes;

// Every other type of node-opcua, so that one import line serves a file.
export type * from 'node-opcua';

export type AccessLevelFlag = UA.AccessLevelFlag;
export type AttributeIds = UA.AttributeIds;
export type DataType = UA.DataType;
export type DataValue = UA.DataValue;
export type HistoryData = UA.HistoryData;
export type HistoryReadResult = UA.HistoryReadResult;
export type MessageSecurityMode = UA.MessageSecurityMode;
export type MonitoredItem = UA.MonitoredItem;
export type NodeId = UA.NodeId;
export type OPCUACertificateManager = UA.OPCUACertificateManager;
export type OPCUAServer = UA.OPCUAServer;
export type Range = UA.Range;
export type ReadEventDetails = UA.ReadEventDetails;
export type ReadRawModifiedDetails = UA.ReadRawModifiedDetails;
export type RegisterServerMethod = UA.RegisterServerMethod;
export type SecurityPolicy = UA.SecurityPolicy;
export type Subscription = UA.Subscription;
export type Variant = UA.Variant;
export type VariantArrayType = UA.VariantArrayType;
export type WellKnownRoles = UA.WellKnownRoles;
export type HistoryEvent = UATypes.HistoryEvent;
export type HistoryEventFieldList = UATypes.HistoryEventFieldList;
