import { LineSplitter } from './line-splitter.js';
import type { SerialDecoder, SerialOutput } from './serial-decoder.js';

// The result block of Edge Impulse's standard inference loop (Arduino library examples):
//   Predictions (DSP: 13 ms., Classification: 1 ms., Anomaly: 0 ms.):
//       idle: 0.99609
//       wave: 0.00391
//       anomaly score: -0.271
// and of the newer SDK's ei_print_results():
//   Timing: DSP 3 ms, inference 0 ms, anomaly 0 ms
//   Predictions:
//     idle: 0.99609
//   Anomaly prediction: 0.123
const CLASSIC_HEADER =
  /^\s*Predictions\s*\(DSP:\s*(\d+)\s*ms\.?,\s*Classification:\s*(\d+)\s*ms\.?,\s*Anomaly:\s*(-?\d+)\s*ms\.?\)\s*:?\s*$/;
const TIMING = /^\s*Timing:\s*DSP\s+(\d+)\s*ms,\s*inference\s+(\d+)\s*ms,\s*anomaly\s+(-?\d+)\s*ms\s*$/;
const PLAIN_HEADER = /^\s*Predictions:\s*$/;
const ANOMALY = /^\s*anomaly(?: score| prediction)?:\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*$/i;
const SCORE = /^\s*([^:\s][^:]{0,63}?):\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*$/;

export interface EdgeImpulseOptions {
  device: string;
  model: { name: string; version: string };
  maxLineBytes: number;
}

interface OpenBlock {
  timing?: { dsp_ms: number; inference_ms: number };
  scores: Record<string, number>;
}

/**
 * Edge Impulse firmware's printed results → events. The label is the top score; the anomaly
 * score, which Edge Impulse lets go below zero, is clamped at 0 and kept as `values.ei_anomaly`.
 */
export class EdgeImpulseDecoder implements SerialDecoder {
  private readonly lines: LineSplitter;
  private block?: OpenBlock;
  private timing?: OpenBlock['timing'];

  constructor(private readonly options: EdgeImpulseOptions) {
    this.lines = new LineSplitter(options.maxLineBytes);
  }

  push(chunk: Buffer): SerialOutput[] {
    const out: SerialOutput[] = [];
    this.lines.push(
      chunk,
      (line) => this.line(line, out),
      (drop) => out.push(drop),
    );
    return out;
  }

  flush(): SerialOutput[] {
    const out: SerialOutput[] = [];
    this.close(out);
    return out;
  }

  reset(): SerialOutput[] {
    const cut = this.lines.reset() || this.block !== undefined;
    this.block = undefined;
    this.timing = undefined;
    return cut ? [{ ok: false, reason: 'partial_line', detail: 'result cut off when the port closed' }] : [];
  }

  private line(line: string, out: SerialOutput[]): void {
    const classic = CLASSIC_HEADER.exec(line);
    if (classic) {
      this.close(out);
      this.block = { timing: { dsp_ms: Number(classic[1]), inference_ms: Number(classic[2]) }, scores: {} };
      return;
    }
    const timing = TIMING.exec(line);
    if (timing) {
      this.close(out);
      this.timing = { dsp_ms: Number(timing[1]), inference_ms: Number(timing[2]) };
      return;
    }
    if (PLAIN_HEADER.test(line)) {
      this.close(out);
      this.block = { timing: this.timing, scores: {} };
      this.timing = undefined;
      return;
    }
    const anomaly = ANOMALY.exec(line);
    if (anomaly && this.block) {
      this.close(out, Number(anomaly[1]));
      return;
    }
    const score = SCORE.exec(line);
    if (score && this.block) {
      this.block.scores[score[1]!.trim()] = Number(score[2]);
      return;
    }
    this.close(out);
    if (line.trim() !== '') out.push({ ok: false, reason: 'other_line', detail: line.slice(0, 80) });
  }

  /** Emits the open block, if it has scores; a header with nothing after it was cut off. */
  private close(out: SerialOutput[], anomaly?: number): void {
    const block = this.block;
    this.block = undefined;
    if (!block) return;
    const labels = Object.keys(block.scores);
    if (labels.length === 0 && anomaly === undefined) {
      out.push({ ok: false, reason: 'partial_line', detail: 'a Predictions header with no scores after it' });
      return;
    }
    const json: Record<string, unknown> = { device: this.options.device, model: this.options.model };
    if (labels.length > 0) {
      json.scores = block.scores;
      json.label = labels.reduce((best, l) => (block.scores[l]! > block.scores[best]! ? l : best));
    }
    if (anomaly !== undefined) {
      json.anomaly = Math.max(0, anomaly);
      json.values = { ei_anomaly: anomaly };
    }
    if (block.timing) json.timing = block.timing;
    out.push({ ok: true, json });
  }
}
