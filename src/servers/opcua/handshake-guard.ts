import { Server as NetServer, type Socket } from 'node:net';
import type { OPCUAServer } from 'node-opcua';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import { clientAddress } from '../../core/client-address.js';
import { LogThrottle } from '../../core/log-throttle.js';
import type { OpcuaConfig } from '../../config/schema.js';

export const HANDSHAKE_REFUSALS = ['handshake_timeout', 'handshake_cap'] as const;
export type HandshakeRefusal = (typeof HANDSHAKE_REFUSALS)[number];

/** `opcua.handshakeTimeout` (ms from TCP accept to an opened secure channel) and `opcua.maxHandshakes` (connections on their way there at once). */
export type HandshakeLimits = Pick<OpcuaConfig, 'handshakeTimeout' | 'maxHandshakes'>;

/** What the guard was written against: a version with another endpoint layout fails the start, it is not silently unguarded. */
const ASSUMED = "node-opcua 2.182 (OPCUAServerEndPoint._server: the endpoint's net.Server, its 'connection' listener the endpoint's own)";

const MESSAGE: Record<HandshakeRefusal, string> = {
  handshake_timeout: 'OPC UA connection closed: no secure channel within opcua.handshakeTimeout',
  handshake_cap: 'OPC UA connection closed on arrival: opcua.maxHandshakes connections already in handshake',
};

type ConnectionListener = (this: NetServer, socket: Socket) => void;

/** node-opcua keeps the listening socket private and offers no hook before it builds a channel for a connection. */
function listeningServerOf(endpoint: unknown): NetServer {
  const server = (endpoint as { _server?: unknown })._server;
  if (!(server instanceof NetServer) || !server.listening || server.listenerCount('connection') === 0) {
    throw new Error(`OPC UA handshake guard: endpoint has no listening net.Server with a 'connection' listener; written for ${ASSUMED}`);
  }
  return server;
}

/**
 * Closes OPC UA connections that do not reach an opened secure channel in time, and refuses new
 * ones while too many are still on their way there. node-opcua waits for HEL, then again for
 * OpenSecureChannel, each up to the endpoint timeout (3 minutes by default), and counts those
 * connections against maxClients, so a few silent sockets lock real clients out for minutes.
 */
export class HandshakeGuard {
  /**
   * Connections accepted but not yet secured, each with its deadline. A timer per entry is bounded
   * by the cap, and node-opcua already holds one per connection for the same wait.
   */
  private readonly pending = new Map<Socket, NodeJS.Timeout>();
  private readonly throttle = new LogThrottle(60_000);
  private readonly undo: (() => void)[] = [];

  constructor(
    private readonly limits: HandshakeLimits,
    private readonly refused: (reason: HandshakeRefusal) => void,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** After `server.start()`. Checks every endpoint before patching any, so a failure leaves node-opcua as it was. */
  install(server: OPCUAServer): void {
    if (!Array.isArray(server.endpoints) || server.endpoints.length === 0)
      throw new Error(`OPC UA handshake guard: no endpoints; written for ${ASSUMED}`);
    const listeners = server.endpoints.map(listeningServerOf);
    for (const net of listeners) this.gate(net);
    // channelSecured is node-opcua's public event for "OpenSecureChannel answered": HEL/ACK alone (newChannel) is not enough,
    // a client that stops after HEL would hold its place for the whole endpoint timeout.
    const secured = (channel: { remoteAddress: string; remotePort: number }): void => this.secured(channel);
    server.on('channelSecured', secured);
    this.undo.push(() => server.removeListener('channelSecured', secured));
  }

  dispose(): void {
    for (const undo of this.undo.splice(0)) undo();
    for (const timer of this.pending.values()) clearTimeout(timer);
    this.pending.clear();
  }

  /**
   * Puts the admission check in front of node-opcua's own 'connection' listeners. A listener of
   * our own beside them could not stop them: node-opcua would build a channel on the destroyed
   * socket, whose 'close' it never sees, and keep it preregistered for the full endpoint timeout.
   */
  private gate(net: NetServer): void {
    const opcua = net.listeners('connection') as ConnectionListener[];
    const admit = (socket: Socket): void => {
      if (!this.admit(socket)) return;
      for (const listener of opcua) listener.call(net, socket);
    };
    net.removeAllListeners('connection');
    net.on('connection', admit);
    this.undo.push(() => {
      net.removeListener('connection', admit);
      for (const listener of opcua) net.on('connection', listener);
    });
  }

  private admit(socket: Socket): boolean {
    if (this.pending.size >= this.limits.maxHandshakes) {
      this.close(socket, 'handshake_cap');
      return false;
    }
    const timer = setTimeout(() => this.close(socket, 'handshake_timeout'), this.limits.handshakeTimeout);
    timer.unref();
    this.pending.set(socket, timer);
    socket.once('close', () => this.forget(socket));
    return true;
  }

  /** node-opcua's channel keeps its socket private; its remote address and port name the socket (one TCP connection each). */
  private secured(channel: { remoteAddress: string; remotePort: number }): void {
    for (const socket of this.pending.keys()) {
      if (socket.remotePort === channel.remotePort && socket.remoteAddress === channel.remoteAddress) return this.forget(socket);
    }
  }

  private forget(socket: Socket): void {
    clearTimeout(this.pending.get(socket));
    this.pending.delete(socket);
  }

  /** Counted each, logged at debug each; warned at most once a minute per reason, so a flood does not flood the log. */
  private close(socket: Socket, reason: HandshakeRefusal): void {
    this.forget(socket);
    const client = clientAddress(socket.remoteAddress);
    socket.destroy();
    this.refused(reason);
    this.log.debug({ client, reason }, 'OPC UA connection closed in handshake');
    const { log, held } = this.throttle.take(reason, this.clock.now());
    const limit =
      reason === 'handshake_cap' ? { maxHandshakes: this.limits.maxHandshakes } : { handshakeTimeout: this.limits.handshakeTimeout };
    if (log) this.log.warn({ client, ...limit, ...(held ? { alsoClosedSinceLastWarning: held } : {}) }, MESSAGE[reason]);
  }
}
