import type { Namespace, NodeId } from 'node-opcua';

/**
 * Makes a device's nodes findable on first use: its object (`below` false) or, besides, everything
 * below it. False when the id is not a device, or the nodes are being built.
 */
export type DeviceBuilder = (device: string, below: boolean) => boolean;

interface NodeIndex {
  findNode2(nodeId: NodeId): unknown;
}

/** The device a node id of ours belongs to: `<folder>/<device>` or anything below it. */
function deviceOf(nodeId: NodeId, prefix: string): { device: string; below: boolean } | undefined {
  const value = nodeId.value;
  if (typeof value !== 'string' || !value.startsWith(prefix)) return undefined;
  const end = value.indexOf('/', prefix.length);
  return { device: value.slice(prefix.length, end < 0 ? undefined : end), below: end >= 0 };
}

let adding = 0;

/**
 * Runs `add`, which creates nodes of ours for a device (its object, an alarm condition): node-opcua
 * looks up each new node id first, and that miss must not build the device.
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
 * A service that names a device or a node below it by node id (Read, CreateMonitoredItems,
 * HistoryRead, Call) finds it in the namespace's node index: a miss there builds the device and
 * looks again. (Browse and TranslateBrowsePath start at an object: see `buildOnBrowse`.)
 */
export function buildDevicesOnFirstUse(ns: Namespace, folder: string, devices: DeviceBuilder): void {
  const prefix = `${folder}/`;
  const index = ns as unknown as NodeIndex;
  if (typeof index.findNode2 !== 'function') throw new Error('node-opcua: Namespace.findNode2 is gone; lazy device nodes need it');
  const find = index.findNode2.bind(ns);
  index.findNode2 = (nodeId: NodeId): unknown => {
    const found = find(nodeId);
    if (found || adding > 0) return found;
    const of = deviceOf(nodeId, prefix);
    return of !== undefined && devices(of.device, of.below) ? find(nodeId) : null;
  };
}

interface Browsable {
  browseNode(...args: unknown[]): unknown;
  browseNodeByTargetName(...args: unknown[]): unknown;
}

/**
 * Browsing an object, or translating a path through it, runs `build` first: a device object builds
 * its variables, the Devices folder every device object not made yet.
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
