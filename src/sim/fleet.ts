import { connectAsync, type MqttClient } from 'mqtt';
import type { Logger } from '../core/logger.js';
import { seededRandom, simulateEvent, type SimDeviceProfile } from './device-model.js';

export interface FleetOptions {
  devices: number;
  rateHz: number;
  brokerUrl: string;
  /** Share of devices that wear out, 0..1. */
  degradingShare: number;
  rampMs: number;
  seed: number;
  idPrefix: string;
}

export const FLEET_DEFAULTS: Omit<FleetOptions, 'brokerUrl'> = {
  devices: 8,
  rateHz: 2,
  degradingShare: 0.25,
  rampMs: 40_000,
  seed: 1,
  idPrefix: 'sim-',
};

export function simDeviceId(prefix: string, index: number, total: number): string {
  return `${prefix}${String(index + 1).padStart(Math.max(2, String(total).length), '0')}`;
}

/** Profiles for the fleet: every k-th device degrades, staggered so alarms do not all fire at once. */
export function fleetProfiles(o: Omit<FleetOptions, 'brokerUrl' | 'rateHz' | 'seed'>): SimDeviceProfile[] {
  const degrading = o.degradingShare <= 0 ? 0 : Math.max(1, Math.round(o.devices * o.degradingShare));
  const every = degrading === 0 ? 0 : Math.floor(o.devices / degrading);
  return Array.from({ length: o.devices }, (_, i) => {
    const nth = every === 0 ? -1 : (i + 1) / every - 1;
    const isDegrading = Number.isInteger(nth) && nth >= 0 && nth < degrading;
    return {
      id: simDeviceId(o.idPrefix, i, o.devices),
      degrading: isDegrading,
      degradeStartMs: isDegrading ? nth * 10_000 : 0,
      rampMs: o.rampMs,
      holdMs: 30_000,
      healthyMs: 60_000,
    };
  });
}

/** Publishes every device's events on `tinyml/<id>/inference` at `rateHz`, QoS 1. */
export class SimulatedFleet {
  private client?: MqttClient;
  private timer?: NodeJS.Timeout;
  private published = 0;

  constructor(
    private readonly options: FleetOptions,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    const client = await connectAsync(this.options.brokerUrl, { clientId: `tinyml-sim-${process.pid}`, reconnectPeriod: 1000 });
    this.client = client;
    const profiles = fleetProfiles(this.options);
    const rand = seededRandom(this.options.seed);
    const seqs = profiles.map(() => 0);
    const start = Date.now();
    this.log.info(
      { devices: profiles.length, degrading: profiles.filter((p) => p.degrading).map((p) => p.id), rateHz: this.options.rateHz },
      'simulated fleet publishing',
    );
    this.timer = setInterval(() => {
      const now = Date.now();
      profiles.forEach((p, i) => {
        const seq = (seqs[i] = (seqs[i] ?? 0) + 1);
        const event = simulateEvent(p, now - start, now, seq, rand);
        client.publish(`tinyml/${p.id}/inference`, JSON.stringify(event), { qos: 1 });
        this.published++;
      });
    }, 1000 / this.options.rateHz);
  }

  get count(): number {
    return this.published;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.client?.endAsync();
  }
}
