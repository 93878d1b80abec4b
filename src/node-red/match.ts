/**
 * Filters typed into a node's edit dialog: a comma-separated list of globs, where `*` matches any
 * run of characters and `?` one character (`press-*, fan-0?`). Empty or `*` matches everything.
 */
export type Matcher = (value: string) => boolean;

const GLOB_ITEM = /^[A-Za-z0-9_.@*?-]{1,80}$/;

export const globItems = (text: string | undefined): string[] =>
  (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

/** Why a glob list is not valid (the editor shows it), or undefined when it is. */
export function globListProblem(text: string | undefined): string | undefined {
  const bad = globItems(text).find((item) => !GLOB_ITEM.test(item));
  return bad === undefined ? undefined : `'${bad}' is not a name or glob (letters, digits, _ . @ - and the wildcards * ?)`;
}

export function globMatcher(text: string | undefined): Matcher {
  const items = globItems(text);
  if (items.length === 0 || items.includes('*')) return () => true;
  const exact = new Set(items.filter((i) => !/[*?]/.test(i)));
  const patterns = items.filter((i) => /[*?]/.test(i)).map(globRegExp);
  return (value) => exact.has(value) || patterns.some((p) => p.test(value));
}

function globRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

/** The MQTT topic level to subscribe to: the device id when the filter names exactly one device, else `+`. */
export function deviceTopicLevel(text: string | undefined): string {
  const items = globItems(text);
  const only = items.length === 1 ? items[0] : undefined;
  return only !== undefined && !/[*?]/.test(only) ? only : '+';
}

/** MQTT topic filter matching (`+` one level, `#` the rest). */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length || (f[i] !== '+' && f[i] !== t[i])) return false;
  }
  return f.length === t.length;
}
