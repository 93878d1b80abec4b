import { createServer, type Server, type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../core/logger.js';
import type { Part } from '../core/part.js';
import type { Registry } from 'prom-client';

export interface HealthReport {
  status: 'ok' | 'failing';
  parts: Record<string, { ok: boolean; problem?: string }>;
  failing: string[];
}

/** GET /health (200 or 503 naming failing parts) and GET /metrics (Prometheus text). */
export class HttpServerPart implements Part {
  readonly name = 'http';
  private server?: Server;

  constructor(
    private readonly options: { host: string; port: number },
    private readonly health: () => HealthReport,
    private readonly registry: Registry,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    const server = createServer((req, res) => void this.handle(req, res));
    this.server = server;
    server.listen(this.options.port, this.options.host);
    await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => Promise.reject(err as Error))]);
    this.log.info({ host: this.options.host, port: this.port() }, 'HTTP listening');
  }

  port(): number | undefined {
    const a = this.server?.address();
    return a && typeof a === 'object' ? (a as AddressInfo).port : undefined;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server?.listening) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  problem(): string | undefined {
    return this.server?.listening ? undefined : 'not listening';
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    try {
      if (req.method === 'GET' && path === '/health') {
        const report = this.health();
        send(res, report.status === 'ok' ? 200 : 503, 'application/json', JSON.stringify(report));
      } else if (req.method === 'GET' && path === '/metrics') {
        send(res, 200, this.registry.contentType, await this.registry.metrics());
      } else {
        send(res, 404, 'application/json', JSON.stringify({ error: `no route for ${req.method} ${path}` }));
      }
    } catch (err) {
      this.log.error({ err: String(err), path }, 'HTTP handler failed');
      send(res, 500, 'application/json', JSON.stringify({ error: 'internal error' }));
    }
  }
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}
