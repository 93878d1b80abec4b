import type { Namespace, NodeId } from 'node-opcua';

/** A device's nodes, to build on first use; undefined when the id is not a device. */
export type DeviceBuilder = (device: string) => { build(): boolean } | undefined;

interface NodeIndex {
  findNode2(nodeId: NodeId): unknown;
}

/** The device a node id of ours belongs to: `<folder>/<device>` or anything below it. */
function deviceOf(nodeId: NodeId, prefix: string): string | undefined {
  const value = nodeId.value;
  if (typeof value !== 'string' || !value.startsWith(prefix)) return undefined;
  const end = value.indexOf('/', prefix.length);
  return value.slice(prefix.length, end < 0 ? undefined : end);
}

let adding = 0;

/**
 * Runs `add`, which creates nodes of ours below a device (an alarm condition): node-opcua looks up
 * each new node id first, and that miss must not build the device.
 */
export function addingBelowDevice<T>(add: () => T): T {
  adding++;
  try {
    return add();
  } finally {
    adding--;
  }
}

/**
 * A service that names a node below a device by node id (Read, CreateMonitoredItems, HistoryRead,
 * Call) finds it in the namespace's node index: a miss there builds the device and looks again.
 * (Browse and TranslateBrowsePath start at the device object: see `buildOnBrowse`.)
 */
export function buildDevicesOnFirstUse(ns: Namespace, folder: string, devices: DeviceBuilder): void {
  const prefix = `${folder}/`;
  const index = ns as unknown as NodeIndex;
  if (typeof index.findNode2 !== 'function') throw new Error('node-opcua: Namespace.findNode2 is gone; lazy device nodes need it');
  const find = index.findNode2.bind(ns);
  index.findNode2 = (nodeId: NodeId): unknown => {
    const found = find(nodeId);
    if (found || adding > 0) return found;
    const device = deviceOf(nodeId, prefix);
    return device !== undefined && devices(device)?.build() ? find(nodeId) : null;
  };
}

interface Browsable {
  browseNode(...args: unknown[]): unknown;
  browseNodeByTargetName(...args: unknown[]): unknown;
}

/**
 * Browsing a device object, or translating a path through it, builds the device first. Browsing
 * the Devices folder does not: it reads only the device objects, which always exist.
 */
export function buildOnBrowse(object: object, build: () => void): void {
  const node = object as Browsable;
  if (typeof node.browseNode !== 'function' || typeof node.browseNodeByTargetName !== 'function')
    throw new Error('node-opcua: BaseNode.browseNode is gone; lazy device nodes need it');
  const browse = node.browseNode.bind(node);
  const byName = node.browseNodeByTargetName.bind(node);
  node.browseNode = (...args: unknown[]) => {
    build();
    return browse(...args);
  };
  node.browseNodeByTargetName = (...args: unknown[]) => {
    build();
    return byName(...args);
  };
}
