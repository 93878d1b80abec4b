import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export interface InfluxEndpoint {
  url: string;
  database: string;
  retentionPolicy?: string;
  username?: string;
  password?: string;
  /** PEM of the CA that signed InfluxDB's certificate, when it is not a public one. */
  ca?: string;
  rejectUnauthorized: boolean;
  timeoutMs: number;
}

/** InfluxDB answered, but not 204; `status` decides whether the batch is retried or dropped. */
export class InfluxWriteError extends Error {
  constructor(
    readonly status: number | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'InfluxWriteError';
  }
}

/** Credentials from the settings, else from user:password@ in the URL. */
export function credentials(e: Pick<InfluxEndpoint, 'url' | 'username' | 'password'>): { username: string; password: string } | undefined {
  const url = new URL(e.url);
  const username = e.username ?? (url.username ? decodeURIComponent(url.username) : undefined);
  if (username === undefined) return undefined;
  return { username, password: e.password ?? decodeURIComponent(url.password) };
}

/**
 * POSTs line protocol to InfluxDB 1.x's /write over one kept-alive connection. I/O only: the sink
 * decides about retries. The `influx` client is used for everything else; its writePoints takes
 * point objects, and the buffer holds points as lines already.
 */
export class LineWriter {
  private readonly url: URL;
  private readonly agent: HttpAgent;
  private readonly headers: Record<string, string>;
  private readonly path: string;

  constructor(private readonly endpoint: InfluxEndpoint) {
    this.url = new URL(endpoint.url);
    const https = this.url.protocol === 'https:';
    this.agent = https
      ? new HttpsAgent({ keepAlive: true, maxSockets: 1, ca: endpoint.ca, rejectUnauthorized: endpoint.rejectUnauthorized })
      : new HttpAgent({ keepAlive: true, maxSockets: 1 });
    const auth = credentials(endpoint);
    this.headers = {
      'content-type': 'text/plain; charset=utf-8',
      ...(auth ? { authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` } : {}),
    };
    const query = new URLSearchParams({ db: endpoint.database, precision: 'n' });
    if (endpoint.retentionPolicy) query.set('rp', endpoint.retentionPolicy);
    this.path = `${this.url.pathname.replace(/\/$/, '')}/write?${query.toString()}`;
  }

  write(lines: string[]): Promise<void> {
    const body = lines.join('\n');
    const request = this.url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: this.url.hostname,
          port: this.url.port || (this.url.protocol === 'https:' ? 443 : 80),
          method: 'POST',
          path: this.path,
          agent: this.agent,
          headers: { ...this.headers, 'content-length': Buffer.byteLength(body) },
          timeout: this.endpoint.timeoutMs,
        },
        (res) => void answer(res).then(resolve, reject),
      );
      req.on('timeout', () => req.destroy(new Error(`no answer from InfluxDB within ${this.endpoint.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

async function answer(res: IncomingMessage): Promise<void> {
  let text = '';
  for await (const chunk of res) if (text.length < 2000) text += String(chunk);
  if (res.statusCode === 204) return;
  let message = text;
  try {
    message = (JSON.parse(text) as { error?: string }).error ?? text;
  } catch {
    // Not JSON (a proxy's page): the text as it came.
  }
  throw new InfluxWriteError(res.statusCode, `InfluxDB answered ${res.statusCode}: ${message.trim()}`);
}
