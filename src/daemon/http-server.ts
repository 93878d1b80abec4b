import { createServer, type Server, type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../core/logger.js';
import type { Part } from '../core/part.js';
import type { Registry } from 'prom-client';
import type { RuleStatus, SwapReport } from '../cep/rules/engine.js';
import { ConfigError, formatProblem } from '../core/errors.js';

/** The rule API: what GET /rules shows and what POST /rules does with a rules YAML (or JSON) body. */
export interface RulesApi {
  status(): RuleStatus[];
  replace(text: string): SwapReport;
}

const MAX_BODY = 1024 * 1024;
const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

export interface HealthReport {
  status: 'ok' | 'failing';
  parts: Record<string, { ok: boolean; problem?: string }>;
  failing: string[];
}

/**
 * GET /health (200 or 503 naming failing parts), GET /metrics (Prometheus text), GET /rules
 * (status and figures of every rule) and POST /rules (replace the rules without a restart).
 */
export class HttpServerPart implements Part {
  readonly name = 'http';
  private server?: Server;

  constructor(
    private readonly options: { host: string; port: number; rulesApi?: 'off' | 'loopback' | 'any' },
    private readonly health: () => HealthReport,
    private readonly registry: Registry,
    private readonly log: Logger,
    private readonly rules?: RulesApi,
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
      } else if (path === '/rules' && this.rules && (req.method === 'GET' || req.method === 'POST')) {
        await this.handleRules(req, res, this.rules);
      } else {
        send(res, 404, 'application/json', JSON.stringify({ error: `no route for ${req.method} ${path}` }));
      }
    } catch (err) {
      this.log.error({ err: String(err), path }, 'HTTP handler failed');
      send(res, 500, 'application/json', JSON.stringify({ error: 'internal error' }));
    }
  }

  private async handleRules(req: IncomingMessage, res: ServerResponse, rules: RulesApi): Promise<void> {
    if (req.method === 'GET') return send(res, 200, 'application/json', JSON.stringify(rules.status()));
    const allowed = this.options.rulesApi ?? 'loopback';
    if (allowed === 'off' || (allowed === 'loopback' && !LOOPBACK.has(req.socket.remoteAddress ?? ''))) {
      return send(
        res,
        403,
        'application/json',
        JSON.stringify({ error: `POST /rules is ${allowed === 'off' ? 'disabled' : 'allowed from this machine only'} (http.rulesApi)` }),
      );
    }
    const body = await readBody(req);
    if (body === undefined) return send(res, 413, 'application/json', JSON.stringify({ error: `body over ${MAX_BODY} bytes` }));
    try {
      const report = rules.replace(body);
      this.log.info({ ...report, from: req.socket.remoteAddress }, 'rules replaced over HTTP');
      send(res, 200, 'application/json', JSON.stringify(report));
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      send(res, 400, 'application/json', JSON.stringify({ errors: err.problems.map((p) => formatProblem('body', p)) }));
    }
  }
}

async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}
