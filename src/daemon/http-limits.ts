import type { Server, IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { GatewayConfig } from '../config/schema.js';

/** Why the HTTP listener closed a connection itself. */
export type HttpClose = 'headers_timeout' | 'body_timeout' | 'bad_request' | 'per_client_cap' | 'max_connections';
export const HTTP_CLOSES: readonly HttpClose[] = ['headers_timeout', 'body_timeout', 'bad_request', 'per_client_cap', 'max_connections'];

/** `http.limits` of the config: timeouts in ms, connection caps. */
export type HttpLimits = GatewayConfig['http']['limits'];

const REQUEST_TIMEOUT = 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n';
const BAD_REQUEST = 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n';

/** Options for `createServer`: node checks its header and request deadlines on this interval (30 s by default, too coarse). */
export function serverOptions(limits: HttpLimits): {
  headersTimeout: number;
  requestTimeout: number;
  connectionsCheckingInterval: number;
  keepAliveTimeout: number;
} {
  return {
    headersTimeout: limits.headersTimeout,
    requestTimeout: limits.bodyTimeout,
    keepAliveTimeout: limits.idleTimeout,
    connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(limits.headersTimeout / 4))),
  };
}

/**
 * Connection limits node's HTTP server does not have: at most `maxConnectionsPerClient` open from
 * one address (one client cannot hold every slot), a total cap, and a count of every connection
 * the server cut off and why. Timed-out requests get a 408, unparsable ones a 400.
 */
export function applyLimits(server: Server, limits: HttpLimits, closed: (reason: HttpClose) => void): void {
  const perClient = new Map<string, number>();
  server.maxConnections = limits.maxConnections;
  server.on('drop', () => closed('max_connections'));
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? '?';
    const open = (perClient.get(address) ?? 0) + 1;
    if (open > limits.maxConnectionsPerClient) {
      closed('per_client_cap');
      socket.destroy();
      return;
    }
    perClient.set(address, open);
    socket.once('close', () => {
      const left = (perClient.get(address) ?? 1) - 1;
      if (left <= 0) perClient.delete(address);
      else perClient.set(address, left);
    });
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const timedOut = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    // A request whose headers were parsed has a response attached to its socket: it timed out in its body.
    const response = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
    closed(timedOut ? (response !== undefined ? 'body_timeout' : 'headers_timeout') : 'bad_request');
    if (response?.headersSent !== true) socket.end(timedOut ? REQUEST_TIMEOUT : BAD_REQUEST);
    socket.destroy();
  });
}

/** Whether a request ended because its connection went away (a timeout, the client hung up): nothing to answer. */
export function cutOff(req: IncomingMessage, err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return req.destroyed || code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ABORT_ERR';
}
