import { createServer, type Server, type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../core/logger.js';
import { isLoopback } from '../core/loopback.js';
import type { Part } from '../core/part.js';
import type { Registry } from 'prom-client';
import type { RuleStatus, SwapReport } from '../cep/rules/engine.js';
import { ConfigError, formatProblem } from '../core/errors.js';
import { AlarmCommandError, type AlarmBook } from '../state/alarm-book.js';
import type { HistorySource } from '../state/history.js';
import { historyRequest } from './history-api.js';
import { devicesCommand, devicesRequest, type DevicesApi } from './devices-api.js';
import type { HashedTokens } from '../core/hashed-tokens.js';
import type { IngestAnswer } from '../ingest/http/http-ingest.js';
import { applyLimits, cutOff, serverOptions, type HttpClose, type HttpLimits } from './http-limits.js';

type Access = 'off' | 'loopback' | 'any';

/** The rule API: what GET /rules shows and what POST /rules does with a rules YAML (or JSON) body. */
export interface RulesApi {
  status(): RuleStatus[];
  replace(text: string): SwapReport;
}

const MAX_BODY = 1024 * 1024;

/** POST /ingest: the handler and how large a body it takes. */
export interface IngestEndpoint {
  maxBodyBytes: number;
  handle(headers: IncomingMessage['headers'], body: string | undefined, remote: string): Promise<IngestAnswer>;
}

/** GET /things[/<id>]: Thing Descriptions, whose forms name the host the client used. */
export type ThingsEndpoint = (path: string, host: string) => { status: number; body: unknown };

/** What the server serves; a route whose part is absent answers 404. */
export interface HttpRoutes {
  health: () => HealthReport;
  metrics: Registry;
  rules?: RulesApi;
  alarms?: AlarmBook;
  history?: HistorySource;
  devices?: DevicesApi;
  ingest?: IngestEndpoint;
  /** Bearer tokens that may call the writing routes from anywhere. */
  apiTokens?: HashedTokens;
  things?: ThingsEndpoint;
  /** GET /models: the fleet's model versions, or one device's (`?device=`). */
  models?: (device: string | undefined) => unknown;
}

export interface HealthReport {
  /** degraded: only parts that leave the rest working are not ok (rules stopped by an error); still 503. */
  status: 'ok' | 'degraded' | 'failing';
  parts: Record<string, { ok: boolean; problem?: string; [detail: string]: unknown }>;
  failing: string[];
}

/**
 * GET /health (200 or 503 naming failing parts), GET /metrics (Prometheus text), GET /rules
 * (status and figures of every rule), POST /rules (replace the rules without a restart), the alarm
 * commands, the devices and their registry, Thing Descriptions, GET /history and POST /ingest.
 */
export class HttpServerPart implements Part {
  readonly name = 'http';
  private server?: Server;

  private readonly health: () => HealthReport;
  private readonly registry: Registry;
  private readonly rules?: RulesApi;
  private readonly alarms?: AlarmBook;
  private readonly history?: HistorySource;
  private readonly devices?: DevicesApi;
  private readonly ingest?: IngestEndpoint;
  private readonly apiTokens?: HashedTokens;
  private readonly things?: ThingsEndpoint;
  private readonly models?: (device: string | undefined) => unknown;

  constructor(
    private readonly options: {
      host: string;
      port: number;
      rulesApi?: Access;
      alarmsApi?: Access;
      devicesApi?: Access;
      limits: HttpLimits;
    },
    routes: HttpRoutes,
    private readonly log: Logger,
    private readonly closed: (reason: HttpClose) => void = () => undefined,
  ) {
    ({
      health: this.health,
      metrics: this.registry,
      rules: this.rules,
      alarms: this.alarms,
      history: this.history,
      devices: this.devices,
      ingest: this.ingest,
      apiTokens: this.apiTokens,
      things: this.things,
      models: this.models,
    } = routes);
  }

  async start(): Promise<void> {
    const server = createServer(serverOptions(this.options.limits), (req, res) => void this.handle(req, res));
    applyLimits(server, this.options.limits, this.closed);
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
      } else if (path === '/history' && this.history && req.method === 'GET') {
        const answer = await historyRequest(new URL(req.url ?? '/', 'http://x').searchParams, this.history);
        send(res, answer.status, 'application/json', JSON.stringify(answer.body));
      } else if (path === '/ingest' && this.ingest && req.method === 'POST') {
        const body = await readBody(req, this.ingest.maxBodyBytes);
        const answer = await this.ingest.handle(req.headers, body, req.socket.remoteAddress ?? '?');
        // An oversize body was not read to its end: the connection cannot carry another request.
        const close: Record<string, string> = body === undefined ? { connection: 'close' } : {};
        send(res, answer.status, 'application/json', JSON.stringify(answer.body), { ...answer.headers, ...close });
      } else if ((path === '/devices' || path?.startsWith('/devices/')) && this.devices && req.method === 'GET') {
        const answer = devicesRequest(path, this.devices);
        send(res, answer.status, 'application/json', JSON.stringify(answer.body));
      } else if (
        (path === '/devices' || path?.startsWith('/devices/')) &&
        this.devices &&
        (req.method === 'POST' || req.method === 'DELETE')
      ) {
        await this.handleDeviceCommand(req, res, path, this.devices);
      } else if ((path === '/things' || path?.startsWith('/things/')) && this.things && req.method === 'GET') {
        const answer = this.things(path, req.headers.host ?? `${this.options.host}:${this.port() ?? this.options.port}`);
        send(res, answer.status, answer.status === 200 ? 'application/td+json' : 'application/json', JSON.stringify(answer.body));
      } else if (path === '/models' && this.models && req.method === 'GET') {
        const device = new URL(req.url ?? '/', 'http://x').searchParams.get('device') ?? undefined;
        send(res, 200, 'application/json', JSON.stringify(this.models(device)));
      } else if (path === '/alarms' && this.alarms && req.method === 'GET') {
        const device = new URL(req.url ?? '/', 'http://x').searchParams.get('device') ?? undefined;
        send(res, 200, 'application/json', JSON.stringify(this.alarms.list(device)));
      } else if (path?.startsWith('/alarms/') && this.alarms && req.method === 'POST') {
        await this.handleAlarmCommand(req, res, path.slice('/alarms/'.length), this.alarms);
      } else {
        send(res, 404, 'application/json', JSON.stringify({ error: `no route for ${req.method} ${path}` }));
      }
    } catch (err) {
      if (cutOff(req, err)) return;
      this.log.error({ err: err instanceof Error ? err.stack : String(err), path }, 'HTTP handler failed');
      send(res, 500, 'application/json', JSON.stringify({ error: 'internal error' }));
    }
  }

  /**
   * Whether the client may call a writing endpoint under `setting` (else a 401 or 403 is sent):
   * `any` lets everyone in; `loopback` lets in a valid API token from anywhere, or, while no
   * tokens are configured, clients on this machine; `off` nobody.
   */
  private async mayWrite(req: IncomingMessage, res: ServerResponse, setting: 'rulesApi' | 'alarmsApi' | 'devicesApi'): Promise<boolean> {
    const allowed = this.options[setting] ?? 'loopback';
    const what = `${req.method} ${(req.url ?? '').split('?')[0]}`;
    if (allowed === 'off') {
      send(res, 403, 'application/json', JSON.stringify({ error: `${what} is disabled (http.${setting})` }));
      return false;
    }
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (bearer && this.apiTokens) {
      if ((await this.apiTokens.ownerOf(bearer[1]!)) !== undefined) return true;
      send(res, 401, 'application/json', JSON.stringify({ error: 'unknown API token' }), {
        'www-authenticate': 'Bearer error="invalid_token"',
      });
      return false;
    }
    if (allowed === 'any') return true;
    // Once API tokens are configured they are the way in, from this machine too.
    if (this.apiTokens && this.apiTokens.size > 0) {
      send(res, 401, 'application/json', JSON.stringify({ error: `${what} needs an API token (http.apiTokens)` }), {
        'www-authenticate': 'Bearer',
      });
      return false;
    }
    if (isLoopback(req.socket.remoteAddress)) return true;
    send(res, 403, 'application/json', JSON.stringify({ error: `${what} is allowed from this machine only (http.${setting})` }));
    return false;
  }

  /** POST /devices, POST /devices/<id>/approve|revoke, DELETE /devices/<id>. */
  private async handleDeviceCommand(req: IncomingMessage, res: ServerResponse, path: string, devices: DevicesApi): Promise<void> {
    if (!(await this.mayWrite(req, res, 'devicesApi'))) return;
    const text = await readBody(req);
    if (text === undefined) return send(res, 413, 'application/json', JSON.stringify({ error: `body over ${MAX_BODY} bytes` }));
    let body: unknown;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch (err) {
      return send(res, 400, 'application/json', JSON.stringify({ error: `body is not JSON: ${(err as Error).message}` }));
    }
    const answer = devicesCommand(req.method ?? '', path, body, devices, `http:${req.socket.remoteAddress ?? '?'}`);
    send(res, answer.status, 'application/json', JSON.stringify(answer.body));
  }

  /** POST /alarms/acknowledge|confirm|reset with `{ device, rule?, comment? }`. */
  private async handleAlarmCommand(req: IncomingMessage, res: ServerResponse, command: string, alarms: AlarmBook): Promise<void> {
    if (!(await this.mayWrite(req, res, 'alarmsApi'))) return;
    if (!['acknowledge', 'confirm', 'reset'].includes(command)) {
      return send(res, 404, 'application/json', JSON.stringify({ error: `no alarm command ${command} (acknowledge, confirm, reset)` }));
    }
    const body = await readBody(req);
    if (body === undefined) return send(res, 413, 'application/json', JSON.stringify({ error: `body over ${MAX_BODY} bytes` }));
    let args: { device?: unknown; rule?: unknown; comment?: unknown };
    try {
      args = JSON.parse(body || '{}') as typeof args;
    } catch (err) {
      return send(res, 400, 'application/json', JSON.stringify({ error: `body is not JSON: ${(err as Error).message}` }));
    }
    const { device, rule, comment } = args;
    if (
      typeof device !== 'string' ||
      (rule !== undefined && typeof rule !== 'string') ||
      (comment !== undefined && typeof comment !== 'string')
    ) {
      return send(
        res,
        400,
        'application/json',
        JSON.stringify({ error: 'expected { "device": string, "rule"?: string, "comment"?: string }' }),
      );
    }
    const by = `http:${req.socket.remoteAddress ?? '?'}`;
    try {
      const changed =
        command === 'reset'
          ? alarms.reset((c) => c.device === device && (rule === undefined || c.rule === rule), by, comment ?? 'reset over HTTP')
          : command === 'confirm'
            ? [alarms.confirm(device, requireRule(rule), by, comment)]
            : rule === undefined
              ? alarms.acknowledgeAll(device, by, comment)
              : [alarms.acknowledge(device, rule, by, comment)];
      send(res, 200, 'application/json', JSON.stringify(changed));
    } catch (err) {
      if (!(err instanceof AlarmCommandError)) throw err;
      send(res, err.problem === 'unknown' ? 404 : 409, 'application/json', JSON.stringify({ error: err.message, problem: err.problem }));
    }
  }

  private async handleRules(req: IncomingMessage, res: ServerResponse, rules: RulesApi): Promise<void> {
    if (req.method === 'GET') return send(res, 200, 'application/json', JSON.stringify(rules.status()));
    if (!(await this.mayWrite(req, res, 'rulesApi'))) return;
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

function requireRule(rule: string | undefined): string {
  if (rule === undefined) throw new AlarmCommandError('unknown', 'confirm needs a rule');
  return rule;
}

async function readBody(req: IncomingMessage, limit = MAX_BODY): Promise<string | undefined> {
  if (Number(req.headers['content-length'] ?? 0) > limit) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function send(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...headers });
  res.end(body);
}
