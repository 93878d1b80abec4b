// Regenerates the reference sections of docs/*.md from the built code: npm run docs
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { refreshDocument } from '../dist/docs/reference.js';

const dir = join(import.meta.dirname, '..', 'docs');
for (const name of readdirSync(dir).filter((f) => f.endsWith('.md'))) {
  const file = join(dir, name);
  const before = readFileSync(file, 'utf8');
  const after = refreshDocument(before);
  if (after !== before) {
    writeFileSync(file, after);
    console.log(`updated ${file}`);
  }
}
