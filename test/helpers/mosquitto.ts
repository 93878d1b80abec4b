import { startMosquitto as start, type MosquittoServer } from '../../src/bench/mosquitto.js';

/** A real Mosquitto (Debian's package) on a free loopback port that only lets `user` in with `password`; stopped after `t`. */
export async function startMosquitto(t: { teardown(fn: () => unknown): void }, user: string, password: string): Promise<MosquittoServer> {
  const server = await start({ login: { user, password } });
  t.teardown(() => server.stop());
  return server;
}
