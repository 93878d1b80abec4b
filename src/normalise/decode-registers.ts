import type { PollProfile, RegisterSpec } from '../config/poll-schema.js';
import { decode, registerCount } from '../core/register-codec.js';

/** The one contiguous range of registers that holds every field of a profile. */
export function profileBlock(p: PollProfile): { start: number; count: number } {
  const ranges: [number, number][] = [[p.seq.address, registerCount(p.seq.type)]];
  if (p.labelIndex) ranges.push([p.labelIndex.address, registerCount(p.labelIndex.type)]);
  if (p.anomaly) ranges.push([p.anomaly.address, registerCount(p.anomaly.type)]);
  if (p.scores) ranges.push([p.scores.address, registerCount(p.scores.type) * p.labels.length]);
  if (p.modelVersion) ranges.push([p.modelVersion.address, 3]);
  const start = Math.min(...ranges.map(([a]) => a));
  const end = Math.max(...ranges.map(([a, n]) => a + n));
  return { start, count: end - start };
}

/**
 * An MCU's result registers (read from `profileBlock(p).start`) as an InferenceEvent v1 object,
 * still to be validated like any other input: a label index past the labels is left out, and a
 * score outside 0..1 fails validation and is counted.
 */
export function decodeRegisters(
  p: PollProfile,
  device: string,
  registers: readonly number[],
): { seq: number; event: Record<string, unknown> } {
  const start = profileBlock(p).start;
  const read = (spec: RegisterSpec, offset = 0): number => {
    const at = spec.address - start + offset * registerCount(spec.type);
    return decode(registers.slice(at, at + registerCount(spec.type)), {
      type: spec.type,
      order: p.wordOrder,
      scale: spec.scale,
      offset: spec.offset,
    }) as number;
  };
  const seq = read(p.seq);
  const event: Record<string, unknown> = { v: 1, device, seq, model: { name: p.model.name, version: p.model.version } };
  if (p.modelVersion) {
    const at = p.modelVersion.address - start;
    event.model = { name: p.model.name, version: registers.slice(at, at + 3).join('.') };
  }
  if (p.labelIndex) {
    const label = p.labels[read(p.labelIndex)];
    if (label !== undefined) event.label = label;
  }
  if (p.anomaly) event.anomaly = read(p.anomaly);
  const scores = p.scores;
  if (scores) event.scores = Object.fromEntries(p.labels.map((label, i) => [label, read(scores, i)]));
  return { seq, event };
}
