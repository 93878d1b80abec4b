import { z } from 'zod';

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/** A duration in config: milliseconds as a number, or a string like `500ms`, `30s`, `5m`, `2h`, `1d`. */
export const duration = z.union([z.number().finite().positive(), z.string()]).transform((v, ctx) => {
  if (typeof v === 'number') return v;
  const m = DURATION.exec(v.trim());
  if (!m) {
    ctx.addIssue({ code: 'custom', message: `bad duration '${v}': use a number with ms, s, m, h or d, e.g. 30s or 5m` });
    return z.NEVER;
  }
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
});
