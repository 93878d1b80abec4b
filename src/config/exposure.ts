import { isLoopback } from '../core/loopback.js';
import type { GatewayConfig } from './schema.js';

/** Something a valid config leaves open to the network without authentication. */
export interface Exposure {
  path: (string | number)[];
  message: string;
}

/** A listener not bound to loopback (0.0.0.0, ::, an interface's address) is reachable from the network. */
const onNetwork = (host: string): boolean => !isLoopback(host);
const WRITERS = { rulesApi: 'replace rules', alarmsApi: 'acknowledge and reset alarms', devicesApi: 'approve, revoke and remove devices' };

/**
 * Every listener a config opens to the network without authentication, for `check` and the log
 * at start: the config is valid, but someone on the plant network can read or change what it
 * says. OPC UA listens on every interface whatever `opcua.host` says (it only names the host).
 */
export function exposures(config: GatewayConfig): Exposure[] {
  const found: Exposure[] = [];
  const { mqtt, http, modbus, opcua, gateway } = config;
  if (gateway.anonymousIngest === 'any') {
    found.push({
      path: ['gateway', 'anonymousIngest'],
      message: 'anyone on the network may send events without credentials (MQTT without a login, POST /ingest without a token)',
    });
  }
  if (mqtt.broker.enabled && onNetwork(mqtt.broker.host) && mqtt.broker.allowAnonymous) {
    found.push({
      path: ['mqtt', 'broker', 'allowAnonymous'],
      message:
        'the embedded broker lets anyone on the network connect without a login and read every event and alarm: ' +
        'set allowAnonymous: false with mqtt.broker.users, or host: 127.0.0.1',
    });
  }
  if (onNetwork(http.host)) {
    found.push({
      path: ['http', 'host'],
      message:
        'GET /health, /metrics, /devices, /alarms, /history, /models and /things answer anyone on the network without authentication',
    });
    for (const [key, what] of Object.entries(WRITERS) as [keyof typeof WRITERS, string][]) {
      if (http[key] === 'any' && http.apiTokens.length === 0) {
        found.push({ path: ['http', key], message: `anyone on the network may ${what} (no http.apiTokens)` });
      }
    }
  }
  if (modbus.enabled && onNetwork(modbus.host) && modbus.allow.length === 0) {
    found.push({
      path: ['modbus', 'host'],
      message:
        'Modbus TCP has no authentication and any client on the network may connect (and write the command coils): ' +
        'list the PLCs in modbus.allow, or set host: 127.0.0.1',
    });
  }
  if (opcua.enabled) {
    if (opcua.security.modes.includes('None')) {
      found.push({
        path: ['opcua', 'security', 'modes'],
        message: 'the None endpoint sends values and credentials unsigned and unencrypted on every interface',
      });
    }
    if (opcua.security.allowAnonymous) {
      found.push({
        path: ['opcua', 'security', 'allowAnonymous'],
        message: `anonymous sessions (role ${opcua.security.anonymousRole}) are accepted on every interface`,
      });
    }
    if (opcua.security.autoAcceptClientCertificates) {
      found.push({
        path: ['opcua', 'security', 'autoAcceptClientCertificates'],
        message: 'every client certificate is trusted on first contact (commissioning only)',
      });
    }
  }
  return found;
}
