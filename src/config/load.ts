import { readFileSync } from 'node:fs';
import { isAbsolute, dirname, resolve } from 'node:path';
import { LineCounter, parseDocument, isMap, isSeq, isPair, isScalar, type Node, type Document } from 'yaml';
import type { z } from 'zod';
import { ConfigError, type ConfigProblem } from '../core/errors.js';
import { configSchema, type GatewayConfig } from './schema.js';

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
  const dataDir = overrides.dataDir
    ? resolve(overrides.dataDir)
    : isAbsolute(config.gateway.dataDir)
      ? config.gateway.dataDir
      : resolve(dirname(file), config.gateway.dataDir);
  return { ...config, gateway: { ...config.gateway, dataDir } };
}

export function parseConfig(text: string, file = '<config>'): GatewayConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        return { path: '', message: `YAML: ${e.message.split('\n')[0]}`, line: pos?.line, column: pos?.col };
      }),
    );
  }
  const result = configSchema.safeParse(doc.toJS() ?? {});
  if (result.success) return result.data;
  throw new ConfigError(
    file,
    result.error.issues.flatMap((issue) => toProblems(issue, doc, lineCounter)),
  );
}

function toProblems(issue: z.core.$ZodIssue, doc: Document, lines: LineCounter): ConfigProblem[] {
  const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => locate([...path, key], 'unknown key', doc, lines));
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
