import type { SerialPortConfig } from '../../config/serial-schema.js';
import { BinaryFrameDecoder } from '../../normalise/serial/binary-decoder.js';
import { EdgeImpulseDecoder } from '../../normalise/serial/edge-impulse-text.js';
import { JsonLinesDecoder } from '../../normalise/serial/json-lines.js';
import type { SerialDecoder } from '../../normalise/serial/serial-decoder.js';

/** The decoder for a port's framing, named from its config. */
export function decoderFor(port: SerialPortConfig): SerialDecoder {
  switch (port.framing) {
    case 'json-lines':
      return new JsonLinesDecoder(port.device, port.maxLineBytes);
    case 'edge-impulse':
      // The schema requires device and model for this framing.
      return new EdgeImpulseDecoder({ device: port.device!, model: port.model!, maxLineBytes: port.maxLineBytes });
    case 'binary':
      return new BinaryFrameDecoder({ ...port.binary, device: port.device });
  }
}
