import { connect, type MqttClient } from 'mqtt';
import { topicMatches } from './match.js';

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'error' | 'closed';

export interface ConnectionStatus {
  state: ConnectionState;
  text: string;
}

export interface GatewayConnectionOptions {
  mqttUrl: string;
  httpUrl: string;
  username?: string;
  password?: string;
  /** Sent as `Authorization: Bearer …` on every HTTP request. */
  token?: string;
  clientId: string;
  reconnectMs?: number;
  requestTimeoutMs?: number;
}

export interface HttpAnswer {
  status: number;
  body: unknown;
}

/** An HTTP request the gateway refused, or one that never got an answer (status 0). */
export class GatewayRequestError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly body?: unknown,
  ) {
    super(message);
    this.name = 'GatewayRequestError';
  }
}

type MessageHandler = (topic: string, payload: Buffer) => void;

/**
 * The one connection every node of a `tinyml-gateway` config node shares: one MQTT client to the
 * gateway's broker with reference-counted subscriptions, the HTTP API, and a status all nodes show.
 */
export class GatewayConnection {
  private readonly client: MqttClient;
  private current: ConnectionStatus = { state: 'connecting', text: 'connecting' };
  private readonly statusListeners = new Set<(s: ConnectionStatus) => void>();
  private readonly subscriptions = new Map<string, Set<MessageHandler>>();
  private closed = false;

  constructor(private readonly options: GatewayConnectionOptions) {
    this.client = connect(options.mqttUrl, {
      clientId: options.clientId,
      username: options.username || undefined,
      password: options.password || undefined,
      reconnectPeriod: options.reconnectMs ?? 2000,
      connectTimeout: 10_000,
    });
    this.client.on('connect', () => this.setStatus({ state: 'connected', text: 'connected' }));
    this.client.on('reconnect', () => {
      if (this.current.state !== 'error') this.setStatus({ state: 'reconnecting', text: 'reconnecting' });
    });
    this.client.on('close', () => {
      if (!this.closed && this.current.state === 'connected') this.setStatus({ state: 'reconnecting', text: 'reconnecting' });
    });
    this.client.on('error', (err) => this.setStatus({ state: 'error', text: err.message }));
    this.client.on('message', (topic, payload) => this.dispatch(topic, payload));
  }

  status(): ConnectionStatus {
    return this.current;
  }

  /** Calls `listener` now and on every change; returns the function that stops it. */
  onStatus(listener: (s: ConnectionStatus) => void): () => void {
    this.statusListeners.add(listener);
    listener(this.current);
    return () => this.statusListeners.delete(listener);
  }

  /** Subscribes `handler` to an MQTT topic filter (QoS 1); returns the function that unsubscribes it. */
  subscribe(filter: string, handler: MessageHandler): () => void {
    let handlers = this.subscriptions.get(filter);
    if (!handlers) {
      handlers = new Set();
      this.subscriptions.set(filter, handlers);
      this.client.subscribe(filter, { qos: 1 }, (err) => {
        // Before a connection, a queued subscription fails with the connection; that error is already shown.
        if (err && !this.closed && this.client.connected) this.setStatus({ state: 'error', text: `subscribe ${filter}: ${err.message}` });
      });
    }
    handlers.add(handler);
    return () => {
      const set = this.subscriptions.get(filter);
      if (!set?.delete(handler) || set.size > 0) return;
      this.subscriptions.delete(filter);
      if (!this.closed) this.client.unsubscribe(filter);
    };
  }

  /** A JSON request to the gateway's HTTP API; throws GatewayRequestError unless the answer is 2xx. */
  async request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<HttpAnswer> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    const url = new URL(path, this.options.httpUrl.endsWith('/') ? this.options.httpUrl : `${this.options.httpUrl}/`);
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.requestTimeoutMs ?? 5000),
      });
    } catch (err) {
      const cause = (err as Error & { cause?: Error }).cause?.message ?? (err as Error).message;
      throw new GatewayRequestError(`${method} ${url.pathname}: gateway unreachable (${cause})`, 0);
    }
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      // A proxy's HTML error page: keep the text for the message.
    }
    if (res.status >= 200 && res.status < 300) return { status: res.status, body: parsed };
    const reason = (parsed as { error?: unknown } | undefined)?.error;
    throw new GatewayRequestError(
      `${method} ${url.pathname}: ${res.status} ${typeof reason === 'string' ? reason : res.statusText}`,
      res.status,
      parsed,
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.subscriptions.clear();
    await this.client.endAsync(true);
    this.setStatus({ state: 'closed', text: 'closed' });
    this.statusListeners.clear();
  }

  private setStatus(s: ConnectionStatus): void {
    if (s.state === this.current.state && s.text === this.current.text) return;
    this.current = s;
    for (const listener of this.statusListeners) listener(s);
  }

  private dispatch(topic: string, payload: Buffer): void {
    for (const [filter, handlers] of this.subscriptions) {
      if (!topicMatches(filter, topic)) continue;
      for (const handler of handlers) handler(topic, payload);
    }
  }
}
