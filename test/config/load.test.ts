import t from 'tap';
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/core/errors.js';
import { tempDir } from '../helpers/temp-dir.js';

const problemsOf = (load: () => unknown) => {
  try {
    load();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};
const problems = (text: string) => problemsOf(() => parseConfig(text, 'test.yaml'));

t.test('the shipped default config is valid and resolves dataDir against its folder', async (t) => {
  const config = loadConfig('gateway-config/gateway.yaml');
  t.equal(config.mqtt.broker.port, 1883);
  t.equal(config.opcua.port, 4840);
  t.equal(config.modbus.port, 5020);
  t.equal(config.http.port, 8080);
  t.ok(config.devices.length > 0);
  t.same(
    config.rules.map((r) => r.id),
    ['anomaly-persistence', 'device-silent'],
    'rules come from the rule files the config names',
  );
  t.match(config.gateway.dataDir, /\/data$/);
  t.notMatch(config.gateway.dataDir, /gateway-config/);
});

t.test('an empty file gets every default', async (t) => {
  const c = parseConfig('');
  t.same(
    {
      broker: c.mqtt.broker,
      opcua: c.opcua,
      modbus: c.modbus.port,
      http: c.http.port,
      influx: c.influx.enabled,
      limits: c.http.limits,
      anonymousIngest: c.gateway.anonymousIngest,
      overload: c.gateway.overload,
    },
    {
      broker: { enabled: true, host: '0.0.0.0', port: 1883, allowAnonymous: true, users: [] },
      opcua: {
        enabled: true,
        port: 4840,
        maxClients: 50,
        maxMonitoredItems: 1_000_000,
        handshakeTimeout: 10_000,
        maxHandshakes: 20,
        history: { perDevice: 1000, alarms: 10_000, maxBytes: 64 * 1024 ** 2 },
        // Secure by default: encrypted, no anonymous sessions, no client certificate trusted unasked.
        security: {
          modes: ['SignAndEncrypt'],
          policies: ['Basic256Sha256', 'Aes128_Sha256_RsaOaep'],
          allowAnonymous: false,
          anonymousRole: 'viewer',
          autoAcceptClientCertificates: false,
        },
        users: [],
      },
      modbus: 5020,
      http: 8080,
      influx: false,
      // Every listener has timeouts and caps; only this machine may send events without credentials.
      limits: { headersTimeout: 10_000, bodyTimeout: 30_000, idleTimeout: 5_000, maxConnections: 1000, maxConnectionsPerClient: 64 },
      anonymousIngest: 'loopback',
      overload: { enabled: true, maxDelay: 20, interval: 100 },
    },
  );
});

t.test('an OPC UA user holds a password hash, never the password', async (t) => {
  const users = (line: string) => problems(`opcua:\n  users:\n    - name: scada\n      role: operator\n${line}\n`);
  t.same(users('      password: secret'), [
    { path: 'opcua.users.0.passwordHash', message: 'Invalid input: expected string, received undefined', line: 3, column: 7 },
    { path: 'opcua.users.0.password', message: 'unknown key', line: 5, column: 7 },
  ]);
  t.same(users('      passwordHash: secret'), [
    {
      path: 'opcua.users.0.passwordHash',
      message: 'passwordHash must be a hash made by `tinyml-gateway hash-password`, never the password',
      line: 5,
      column: 7,
    },
  ]);
});

t.test('a misspelled key is named with its line and column', async (t) => {
  const p = problems('gateway:\n  id: gw\nopcua:\n  enabled: true\n  porrt: 4841\n');
  t.same(p, [{ path: 'opcua.porrt', message: 'unknown key', line: 5, column: 3 }]);
});

t.test('wrong types, rule errors and duplicates point at their lines', async (t) => {
  const text = [
    'modbus:',
    '  port: "five"',
    'devices:',
    '  - id: a',
    '  - id: a',
    'rules:',
    '  - id: r1',
    '    pipeline:',
    '      - persistence: { atLeast: 0.5, n: 4, m: 3, clearAfter: 1 }',
    '    outputs: { alarm: {} }',
    '  - id: r2',
    '    pipeline:',
    '      - persistance: { atLeast: 0.5 }',
    '    outputs: { alarm: {} }',
  ].join('\n');
  const p = problems(text);
  const byPath = Object.fromEntries(p.map((x) => [x.path, x.line]));
  t.equal(byPath['modbus.port'], 2);
  t.equal(byPath['devices.1.id'], 5);
  t.equal(byPath['rules.0.pipeline.0.persistence.n'], 9);
  t.equal(byPath['rules.1.pipeline.0.persistance'], 13);
  t.match(p.find((x) => x.path === 'rules.1.pipeline.0.persistance')?.message, /unknown operator \(one of: filter, dedupe/);
});

t.test('an external broker needs a url', async (t) => {
  const p = problems('mqtt:\n  broker:\n    enabled: false\n');
  t.match(p, [{ path: 'mqtt.url', message: /mqtt.url/ }]);
  t.same(problems('mqtt:\n  broker:\n    enabled: false\n  url: mqtt://broker.plant:1883\n'), []);
});

t.test('the Modbus test pattern may not overlap the device blocks', async (t) => {
  const devices = (n: number) => 'devices:\n' + Array.from({ length: n }, (_, i) => `  - id: d-${i}\n`).join('');
  t.same(problems(devices(562)), [], '562 devices end at register 8991, below the pattern at 9000');
  const p = problems(`modbus:\n  testPattern:\n    address: 9000\n${devices(563)}`);
  t.match(p, [{ path: 'modbus.testPattern.address', line: 3, message: /the test pattern at 9000 overlaps device d-562/ }]);
  t.same(problems(`modbus:\n  testPattern: { enabled: false }\n${devices(563)}`), [], 'or is turned off');
});

t.test('Modbus maps: every wrong field names its key and line', async (t) => {
  const profile = (field: string) => `modbus:\n  profiles:\n    p:\n      fields:\n        - ${field}\n`;
  const cases: [string, string, RegExp][] = [
    ['{ field: anomly, table: input_register, address: 0 }', 'field', /unknown field 'anomly'; fields are anomaly, /],
    ['{ field: anomaly, table: coil, address: 0 }', 'table', /anomaly is a number: put it in input_register or holding_register/],
    ['{ field: online, table: coil, address: 0, type: uint16 }', 'type', /coil holds bits/],
    ['{ field: online, table: input_register, address: 0, type: bit }', 'type', /bit goes in coil or discrete_input/],
    ['{ field: label, table: input_register, address: 0, type: uint16 }', 'type', /label is text: type must be string\(n\)/],
    ['{ field: seq, table: input_register, address: 0, type: string(4) }', 'type', /seq is not text/],
    ['{ field: anomaly, table: input_register, address: 0, type: float32, scale: 2 }', 'scale', /integer types only/],
    ['{ field: online, table: input_register, address: 0, type: float32 }', 'type', /0 or 1: use an integer type or bit/],
    ['{ field: ack, table: discrete_input, address: 0 }', 'table', /ack is a command: put it in coil or holding_register/],
    ['{ field: ack, table: coil, address: 0 }', 'writable', /mark it writable: true/],
    ['{ field: anomaly, table: holding_register, address: 0, writable: true }', 'writable', /anomaly is read-only: only ack/],
    ['{ field: seq, table: holding_register, address: 0, type: string(300) }', 'type', /string\(n\) with n 1\.\.240/],
  ];
  for (const [field, key, message] of cases) {
    t.match(problems(profile(field)), [{ path: `modbus.profiles.p.fields.0.${key}`, line: 5, message }], field);
  }
  const twice = `${profile('{ field: seq, table: input_register, address: 0 }')}        - { field: online, table: input_register, address: 1 }\n`;
  t.match(problems(twice), [
    { path: 'modbus.profiles.p.fields.1.address', line: 6, message: /input_register 1 is already taken by fields\[0\] \(seq\)/ },
  ]);
  t.match(problems('devices:\n  - id: a\n    modbus: { profile: nope }\n'), [
    { path: 'devices.0.modbus.profile', line: 3, message: /no profile 'nope'/ },
  ]);
  t.match(problems('modbus:\n  allow: [10.0.0.0/33]\n'), [{ path: 'modbus.allow.0', line: 2 }]);
  t.same(problems('modbus:\n  allow: [10.0.0.0/8, 127.0.0.1, "::1"]\n'), []);
});

t.test('YAML syntax errors carry a line; unreadable files say so', async (t) => {
  t.match(problems('a: [\n'), [{ message: /^YAML:/, line: 2 }]);
  t.match(problems('a: 1\na: 2\n'), [{ message: /^YAML:.*[Uu]nique/, line: 2 }]);
  t.match(
    problemsOf(() => loadConfig('/nonexistent/gateway.yaml')),
    [{ message: /cannot read/ }],
  );
});

t.test('ConfigError message lists file:line:col per problem', async (t) => {
  const dir = tempDir(t, 'cfg-');
  const file = join(dir, 'g.yaml');
  writeFileSync(file, readFileSync('gateway-config/gateway.yaml', 'utf8').replace('  port: 8080', '  prt: 8080'));
  t.throws(() => loadConfig(file), { message: new RegExp(`${file}:\\d+:3: http.prt: unknown key`) });
});
