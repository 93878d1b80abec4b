import { readFileSync } from 'node:fs';
import { isAbsolute, dirname, resolve } from 'node:path';
import { LineCounter, parseDocument, isMap, isSeq, isPair, isScalar, type Node, type Document } from 'yaml';
import type { z } from 'zod';
import { ConfigError, type ConfigProblem } from '../core/errors.js';
import { checkedRule } from '../cep/rules/check-fields.js';
import { NO_OPERATOR, STAGE_NAMES } from '../cep/rules/language.js';
import { configSchema, uniqueIds, type GatewayConfig } from './schema.js';
import { exposures } from './exposure.js';
import { z as zod } from 'zod';

const rulesFile = zod.strictObject({ rules: zod.array(checkedRule).default([]) });

/**
 * Reads, parses and validates a config file; throws ConfigError listing every problem with its
 * line. `dataDir` (the --data-dir flag, e.g. systemd's StateDirectory) overrides gateway.dataDir.
 */
export function loadConfig(file: string, overrides: { dataDir?: string } = {}): GatewayConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [{ path: '', message: `cannot read: ${(err as Error).message}` }]);
  }
  const config = parseConfig(text, file);
  const rules = [...config.rules];
  for (const name of config.ruleFiles) {
    const path = resolve(dirname(file), name);
    let ruleText: string;
    try {
      ruleText = readFileSync(path, 'utf8');
    } catch (err) {
      throw new ConfigError(file, [{ path: 'ruleFiles', message: `cannot read ${name}: ${(err as Error).message}` }]);
    }
    rules.push(...parseRules(ruleText, path));
  }
  const duplicates: ConfigProblem[] = [];
  uniqueIds('rule')(rules, {
    addIssue: (i: { message: string }) =>
      duplicates.push({ path: 'rules', message: `${i.message} (ids must be unique across rule files)` }),
  } as unknown as zod.RefinementCtx);
  if (duplicates.length > 0) throw new ConfigError(file, duplicates);
  const dataDir = overrides.dataDir
    ? resolve(overrides.dataDir)
    : isAbsolute(config.gateway.dataDir)
      ? config.gateway.dataDir
      : resolve(dirname(file), config.gateway.dataDir);
  const caFile = config.influx.tls.caFile;
  const tls = caFile === undefined ? config.influx.tls : { ...config.influx.tls, caFile: resolve(dirname(file), caFile) };
  return { ...config, rules, gateway: { ...config.gateway, dataDir }, influx: { ...config.influx, tls } };
}

/** What `config` (loaded from `file`) leaves open to the network without authentication, with the line of each. */
export function exposureWarnings(file: string, config: GatewayConfig): ConfigProblem[] {
  const found = exposures(config);
  if (found.length === 0) return [];
  const { doc, lineCounter } = parsed(readFileSync(file, 'utf8'));
  return found.map((e) => locate(e.path, e.message, doc, lineCounter)).sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
}

export function parseConfig(text: string, file = '<config>'): GatewayConfig {
  return parseYaml(text, file, configSchema);
}

/** A rules file (`rules:` list), as in `ruleFiles` and the body of `POST /rules`. */
export function parseRules(text: string, file = '<rules>'): GatewayConfig['rules'] {
  const { rules } = parseYaml(text, file, rulesFile);
  const problems: ConfigProblem[] = [];
  uniqueIds('rule')(rules, {
    addIssue: (i: { message: string }) => problems.push({ path: 'rules', message: i.message }),
  } as unknown as zod.RefinementCtx);
  if (problems.length > 0) throw new ConfigError(file, problems);
  return rules;
}

/**
 * Rule text as a Node-RED tinyml-cep node holds it: either one rule (a mapping with `id`,
 * `pipeline`, `outputs`…) or a rules file (`rules:` list). Errors name the line either way.
 */
export function parseRuleText(text: string, file = '<rule>'): GatewayConfig['rules'] {
  const top: unknown = parseDocument(text).contents;
  const isRulesFile = isMap(top) && top.items.some((p) => isScalar(p.key) && p.key.value === 'rules');
  return isRulesFile ? parseRules(text, file) : [parseYaml(text, file, checkedRule)];
}

interface Parsed {
  doc: Document;
  lineCounter: LineCounter;
}

/**
 * The newest text parsed, held weakly: the warnings right after a load read the lines of the same
 * file (a second parse is 50 ms at 1,000 devices), and a collection frees it after that.
 */
let last: { text: string; parsed: WeakRef<Parsed> } | undefined;

function parsed(text: string): Parsed {
  const kept = last?.text === text ? last.parsed.deref() : undefined;
  if (kept) return kept;
  const lineCounter = new LineCounter();
  const fresh = { doc: parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true }), lineCounter };
  last = { text, parsed: new WeakRef(fresh) };
  return fresh;
}

function parseYaml<S extends zod.ZodType>(text: string, file: string, schema: S): zod.output<S> {
  const { doc, lineCounter } = parsed(text);
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        return { path: '', message: `YAML: ${e.message.split('\n')[0]}`, line: pos?.line, column: pos?.col };
      }),
    );
  }
  const result = schema.safeParse(doc.toJS() ?? {});
  if (result.success) return result.data;
  const problems = result.error.issues.flatMap((issue) => toProblems(issue, doc, lineCounter));
  // A stage whose only key is an unknown operator is reported once, as the unknown operator.
  const unknownOps = problems.filter((p) => p.message.startsWith('unknown operator')).map((p) => p.path.slice(0, p.path.lastIndexOf('.')));
  throw new ConfigError(
    file,
    problems.filter((p) => !(p.message === NO_OPERATOR && unknownOps.includes(p.path))),
  );
}

function toProblems(issue: z.core.$ZodIssue, doc: Document, lines: LineCounter): ConfigProblem[] {
  const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
  if (issue.code === 'unrecognized_keys') {
    // An unknown key in a pipeline stage is an operator name.
    const stage = path.length >= 2 && path[path.length - 2] === 'pipeline';
    const message = stage ? `unknown operator (one of: ${STAGE_NAMES.join(', ')})` : 'unknown key';
    return issue.keys.map((key) => locate([...path, key], message, doc, lines));
  }
  return [locate(path, issue.message, doc, lines)];
}

/** Finds the deepest YAML key on `path`, so a missing key still points at its parent's line. */
function locate(path: (string | number)[], message: string, doc: Document, lines: LineCounter): ConfigProblem {
  let node: unknown = doc.contents;
  let offset = (doc.contents as Node | null)?.range?.[0];
  for (const segment of path) {
    const next = child(node, segment);
    if (!next) break;
    offset = (next.key ?? next.value)?.range?.[0] ?? offset;
    node = next.value;
  }
  const pos = offset === undefined ? undefined : lines.linePos(offset);
  return { path: path.join('.'), message, line: pos?.line, column: pos?.col };
}

function child(node: unknown, segment: string | number): { key?: Node; value?: Node } | undefined {
  if (isMap(node)) {
    const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(segment));
    return pair ? { key: pair.key as Node, value: (pair.value ?? undefined) as Node | undefined } : undefined;
  }
  if (isSeq(node) && typeof segment === 'number') {
    const item = node.items[segment];
    return item ? { value: item as Node } : undefined;
  }
  return undefined;
}
