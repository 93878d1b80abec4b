import { createRequire } from 'node:module';

interface UnixDgramSocket {
  send(buf: Buffer, offset: number, length: number, path: string, cb?: (err?: Error) => void): void;
  on(event: 'error', cb: (err: Error) => void): void;
  close(): void;
}

/**
 * sd_notify(3) over the datagram socket systemd names in NOTIFY_SOCKET; a no-op without it,
 * so the same binary runs under systemd, in a terminal and in tests.
 */
export class SdNotify {
  private socket?: UnixDgramSocket;
  private readonly path?: string;

  constructor(env: NodeJS.ProcessEnv = process.env) {
    const raw = env.NOTIFY_SOCKET;
    // Abstract sockets are named with a leading '@' in the environment and a NUL on the wire.
    this.path = raw ? (raw.startsWith('@') ? `\0${raw.slice(1)}` : raw) : undefined;
  }

  get enabled(): boolean {
    return this.path !== undefined;
  }

  send(state: string): Promise<void> {
    const path = this.path;
    if (path === undefined) return Promise.resolve();
    const socket = (this.socket ??= openSocket());
    const message = Buffer.from(state);
    return new Promise((resolve, reject) => socket.send(message, 0, message.length, path, (err) => (err ? reject(err) : resolve())));
  }

  ready(status = 'running'): Promise<void> {
    return this.send(`READY=1\nSTATUS=${status}\nMAINPID=${process.pid}`);
  }

  watchdog(): Promise<void> {
    return this.send('WATCHDOG=1');
  }

  stopping(): Promise<void> {
    return this.send('STOPPING=1');
  }

  reloading(): Promise<void> {
    return this.send('RELOADING=1');
  }

  close(): void {
    this.socket?.close();
    this.socket = undefined;
  }
}

function openSocket(): UnixDgramSocket {
  const unix = createRequire(import.meta.url)('unix-dgram') as { createSocket(type: 'unix_dgram'): UnixDgramSocket };
  const socket = unix.createSocket('unix_dgram');
  socket.on('error', () => undefined);
  return socket;
}

/** Half of WATCHDOG_USEC in ms when systemd asked for pings to this process, else undefined. */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv = process.env, pid = process.pid): number | undefined {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isFinite(usec) || usec <= 0) return undefined;
  if (env.WATCHDOG_PID !== undefined && Number(env.WATCHDOG_PID) !== pid) return undefined;
  return Math.max(1, Math.floor(usec / 2000));
}
