// The suite's last step: no log line any gateway wrote during the run holds a secret the suite
// configured (passwords, tokens). Prints one TAP-like result; exit 1 when a secret leaked.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const out = join(import.meta.dirname, '..', 'test-output');
const read = (dir) => (existsSync(dir) ? readdirSync(dir).map((f) => readFileSync(join(dir, f), 'utf8')) : []);
// Short "secrets" such as a deliberately wrong 'nope' would match unrelated text.
const secrets = [
  ...new Set(
    read(join(out, 'secrets')).flatMap((text) =>
      text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
    ),
  ),
].filter((s) => s.length >= 5);
const lines = read(join(out, 'logs')).flatMap((text) => text.split('\n').filter(Boolean));
const leaks = [];
for (const line of lines) for (const s of secrets) if (line.includes(s)) leaks.push({ secret: s, line: line.slice(0, 300) });
const enough = secrets.length >= 5 && lines.length >= 1000;
console.log(`# secrets check: ${lines.length} log lines, ${secrets.length} secrets, ${leaks.length} leaks`);
for (const l of leaks.slice(0, 20)) console.log(`# leaked ${JSON.stringify(l.secret)} in: ${l.line}`);
if (!enough) console.log('# too few log lines or secrets recorded: the check would prove nothing');
const ok = leaks.length === 0 && enough;
console.log(`${ok ? 'ok' : 'not ok'} - no gateway log line of this run holds a configured secret`);
process.exit(ok ? 0 : 1);
