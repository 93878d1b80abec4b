export type WindowSpec =
  | { kind: 'tumbling'; sizeMs: number }
  | { kind: 'sliding'; sizeMs: number; slideMs: number }
  | { kind: 'session'; gapMs: number }
  | { kind: 'count'; size: number }
  /** Anchored at its first event; closes after `size` events or `sizeMs`, whichever comes first. */
  | { kind: 'time-or-count'; sizeMs: number; size: number };

export interface Span {
  start: number;
  end: number;
}

export function validateSpec(spec: WindowSpec): void {
  const positive = (v: number, name: string): void => {
    if (!(Number.isFinite(v) && v > 0)) throw new RangeError(`${spec.kind} window: ${name} must be > 0`);
  };
  if ('sizeMs' in spec) positive(spec.sizeMs, 'sizeMs');
  if ('size' in spec) positive(spec.size, 'size');
  if (spec.kind === 'session') positive(spec.gapMs, 'gapMs');
  if (spec.kind === 'sliding') {
    positive(spec.slideMs, 'slideMs');
    if (spec.slideMs > spec.sizeMs) throw new RangeError('sliding window: slideMs must not exceed sizeMs');
  }
}

/** The fixed time windows an event time belongs to (tumbling and sliding only), oldest first. */
export function alignedWindows(spec: WindowSpec, ts: number): Span[] {
  if (spec.kind === 'tumbling') {
    const start = Math.floor(ts / spec.sizeMs) * spec.sizeMs;
    return [{ start, end: start + spec.sizeMs }];
  }
  if (spec.kind === 'sliding') {
    const spans: Span[] = [];
    for (let start = Math.floor(ts / spec.slideMs) * spec.slideMs; start > ts - spec.sizeMs; start -= spec.slideMs) {
      spans.unshift({ start, end: start + spec.sizeMs });
    }
    return spans;
  }
  return [];
}
