import { config as rxjsConfig } from 'rxjs';
import { exposureWarnings, loadConfig } from '../config/load.js';
import { loadConfigAside, type LoadedConfig } from '../config/load-aside.js';
import { ConfigError, formatProblem } from '../core/errors.js';
import { createLogger } from '../core/logger.js';
import { AddressSpace } from '../servers/modbus-tcp/address-space.js';
import { formatMap, MAP_FORMATS, type MapFormat } from '../servers/modbus-tcp/map-table.js';
import type { SimulatedFleet } from '../sim/fleet.js';
import type { Gateway } from '../daemon/gateway.js';

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
}

/** `check`: 0 when the file is valid, 1 with one line per problem (file:line:col: path: message). */
export function checkCommand(file: string, io: Io): number {
  try {
    const config = loadConfig(file);
    const warnings = exposureWarnings(file, config);
    for (const w of warnings) io.err(formatProblem(file, { ...w, message: `warning: ${w.message}` }) + '\n');
    const open = warnings.length > 0 ? `; ${warnings.length} warnings: open to the network without authentication` : '';
    io.out(`${file}: OK (${config.devices.length} devices, ${config.rules.length} rules${open})\n`);
    return 0;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const p of err.problems) io.err(formatProblem(err.file, p) + '\n');
    return 1;
  }
}

/** `modbus-map`: the register map of a config, as CSV (the default), a Markdown table or JSON. */
export function modbusMapCommand(file: string, io: Io, format = 'csv'): number {
  const config = loadConfig(file);
  if (!(MAP_FORMATS as readonly string[]).includes(format)) {
    io.err(`--format must be one of ${MAP_FORMATS.join(', ')}, got '${format}'\n`);
    return 1;
  }
  const space = AddressSpace.fromConfig(config);
  for (const p of space.problems) io.err(`${file}: ${p.path.join('.')}: ${p.message}\n`);
  io.out(formatMap(space.placed, format as MapFormat));
  return 0;
}

export interface RunOptions {
  configFile: string;
  dataDir?: string;
  simulate?: number;
  simRateHz?: number;
}

/** `run`: starts the daemon, wires signals, resolves with the exit code when it stops. */
export async function runCommand(o: RunOptions, io: Io): Promise<number> {
  const loading = loadConfigAside(o.configFile, { dataDir: o.dataDir });
  // Loaded here so that check and modbus-map do not pay for node-opcua's start-up, and while the
  // config is parsed beside: the two are most of a start.
  const gatewayModule = import('../daemon/gateway.js');
  let loaded: LoadedConfig;
  try {
    loaded = await loading;
  } catch (err) {
    gatewayModule.catch(() => undefined);
    if (err instanceof ConfigError) {
      for (const p of err.problems) io.err(formatProblem(err.file, p) + '\n');
      return 1;
    }
    throw err;
  }
  const { config, warnings } = loaded;
  // Everything the daemon writes (data dir, PKI, buffers) is for its own user only.
  process.umask(0o077);
  const log = createLogger(config.gateway.logLevel);
  for (const w of warnings) log.warn({ key: w.path, line: w.line }, `open to the network: ${w.message}`);
  // An error thrown inside a subscriber would otherwise be rethrown asynchronously and end the process.
  rxjsConfig.onUnhandledError = (err: unknown) =>
    log.error({ err: err instanceof Error ? err.stack : String(err) }, 'unhandled error in a stream');
  const { Gateway } = await gatewayModule;
  const gateway = new Gateway(config, { log, readConfig: () => loadConfig(o.configFile, { dataDir: o.dataDir }) });
  try {
    await gateway.start();
  } catch (err) {
    io.err(`${(err as Error).message}\n`);
    return 1;
  }
  const fleet = o.simulate ? await startFleet(o, gateway, log) : undefined;

  return new Promise<number>((resolve) => {
    const shutdown = (signal: string): void => {
      log.info({ signal }, 'stopping');
      const failsafe = setTimeout(() => {
        log.error('stop took longer than 4.5 s; exiting');
        resolve(1);
      }, 4500);
      void (async () => {
        await fleet?.stop().catch(() => undefined);
        await gateway.stop();
        clearTimeout(failsafe);
        resolve(0);
      })();
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
    process.on('SIGHUP', () => {
      const failed = (err: unknown): void =>
        log.error({ err: err instanceof Error ? err.message : String(err) }, 'reload rejected; keeping the running config');
      gateway.reloadFromSource().catch(failed);
    });
  });
}

async function startFleet(o: RunOptions, gateway: Gateway, log: ReturnType<typeof createLogger>): Promise<SimulatedFleet> {
  const port = gateway.mqtt.transport.port() ?? 1883;
  // Loaded only with --simulate: it brings mqtt.js, which a gateway on its embedded broker never needs.
  const { FLEET_DEFAULTS, SimulatedFleet } = await import('../sim/fleet.js');
  const fleet = new SimulatedFleet(
    {
      ...FLEET_DEFAULTS,
      devices: o.simulate ?? FLEET_DEFAULTS.devices,
      rateHz: o.simRateHz ?? FLEET_DEFAULTS.rateHz,
      brokerUrl: `mqtt://127.0.0.1:${port}`,
    },
    log.child({ ns: 'sim' }),
  );
  await fleet.start();
  return fleet;
}
