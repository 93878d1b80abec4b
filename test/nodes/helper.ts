import { createRequire } from 'node:module';
import type { TestPorts } from '../helpers/gateway-config.js';
import { waitFor } from '../helpers/ports.js';

const require = createRequire(import.meta.url);

export type Msg = Record<string, unknown> & { payload?: unknown; topic?: string };

interface SpyCall {
  thisValue: unknown;
  args: unknown[];
}

/** A deployed node as node-red-node-test-helper hands it out (its log methods are sinon spies). */
export interface TestNode {
  id: string;
  on(event: string, listener: (msg: Msg) => void): void;
  receive(msg: Msg): void;
  status: { getCalls(): SpyCall[] };
  error: { getCalls(): SpyCall[] };
  warn: { getCalls(): SpyCall[] };
  [key: string]: unknown;
}

interface NodeTestHelper {
  init(runtimePath: string): void;
  startServer(): Promise<void>;
  stopServer(): Promise<void>;
  load(nodes: unknown[], flow: object[], credentials?: Record<string, object>): Promise<void>;
  setFlows(flow: object[], type?: string, credentials?: Record<string, object>): Promise<void>;
  unload(): Promise<void>;
  getNode(id: string): TestNode;
  request(): {
    post(path: string): { send(body: object): Promise<{ status: number; body: unknown }> };
  };
}

export const helper = require('node-red-node-test-helper') as NodeTestHelper;
helper.init(require.resolve('node-red'));

/** Every node of the package, loaded as Node-RED loads them (CommonJS). */
export const NODES = ['tinyml-gateway', 'tinyml-event-in', 'tinyml-alarm-in', 'tinyml-alarm-ack', 'tinyml-device', 'tinyml-cep'].map(
  (name) => require(`../../nodes/${name}.js`) as unknown,
);

export function gatewayNode(ports: Pick<TestPorts, 'mqtt' | 'http'>, id = 'gw'): Record<string, unknown> {
  return {
    id,
    type: 'tinyml-gateway',
    name: 'test gateway',
    mqttUrl: `mqtt://127.0.0.1:${ports.mqtt}`,
    httpUrl: `http://127.0.0.1:${ports.http}`,
  };
}

/** Starts the helper's server for `t` and unloads every flow afterwards. */
export async function useHelper(t: { teardown(fn: () => unknown): void }): Promise<void> {
  await helper.startServer();
  t.teardown(async () => {
    await helper.unload();
    await helper.stopServer();
  });
}

/** Every msg that reaches the `helper` node `id`, in order. */
export function collect(id: string): Msg[] {
  const msgs: Msg[] = [];
  helper.getNode(id).on('input', (msg) => msgs.push(msg));
  return msgs;
}

const callsOf = (spy: { getCalls(): SpyCall[] }, node: TestNode): unknown[][] =>
  spy
    .getCalls()
    .filter((c) => c.thisValue === node)
    .map((c) => c.args);

/** The status a node shows now ({} when cleared, undefined before any). */
export function statusOf(node: TestNode): { fill?: string; shape?: string; text?: string } | undefined {
  return callsOf(node.status, node).at(-1)?.[0] as { fill?: string; text?: string } | undefined;
}

export function waitForStatus(node: TestNode, text: RegExp, timeoutMs = 10_000): Promise<{ fill?: string; text?: string }> {
  return waitFor(
    () => {
      const s = statusOf(node);
      return s && text.test(s.text ?? '') ? s : undefined;
    },
    `status ${text} on ${node.id} (now ${JSON.stringify(statusOf(node))})`,
    timeoutMs,
  );
}

/** The messages a node passed to node.error(). */
export function errorsOf(node: TestNode): string[] {
  return callsOf(node.error, node).map((args) => String(args[0] instanceof Error ? args[0].message : args[0]));
}

/** Active handles of the kinds a node could leak (sockets, timers), counted by type. */
export function openHandles(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) if (/TCP|Timeout|Immediate/.test(kind)) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

/** Kinds of handle that are more numerous now than in `before`, with how many more. */
export function handlesAddedSince(before: Record<string, number>): Record<string, number> {
  const added: Record<string, number> = {};
  for (const [kind, n] of Object.entries(openHandles())) if (n > (before[kind] ?? 0)) added[kind] = n - (before[kind] ?? 0);
  return added;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
