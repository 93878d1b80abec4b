/** Why bytes from a serial port did not become an event; counted per port and reason. */
export type SerialDropReason =
  | 'garbage' // bytes that are not text in a text framing
  | 'other_line' // readable text that is not part of a result (boot messages, debug prints)
  | 'partial_line' // a line or result cut off (port closed, next header before the end)
  | 'oversize' // a line or frame longer than the framing allows
  | 'bad_json'
  | 'bad_cobs'
  | 'bad_crc'
  | 'bad_frame'; // a binary frame of the wrong version or length

export const SERIAL_DROP_REASONS: readonly SerialDropReason[] = [
  'garbage',
  'other_line',
  'partial_line',
  'oversize',
  'bad_json',
  'bad_cobs',
  'bad_crc',
  'bad_frame',
];

export type SerialOutput = { ok: true; json: Record<string, unknown> } | { ok: false; reason: SerialDropReason; detail: string };

/**
 * Turns a serial port's byte stream into event objects (validated later like every other source)
 * or drop reasons. Stateful: a frame may arrive in pieces.
 */
export interface SerialDecoder {
  push(chunk: Buffer): SerialOutput[];
  /** The port fell silent: a result still open is complete (text) or cut off. */
  flush(): SerialOutput[];
  /** The port closed: whatever is half-read is dropped as cut off. */
  reset(): SerialOutput[];
}
