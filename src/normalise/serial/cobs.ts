/**
 * Consistent Overhead Byte Stuffing: the frame body carries no zero byte, so a single 0x00 marks
 * the end of every frame and a receiver that joins mid-stream resynchronises at the next zero.
 */
export function cobsEncode(data: Uint8Array): Buffer {
  const out = Buffer.alloc(data.length + Math.ceil(data.length / 254) + 1);
  let codeAt = 0;
  let code = 1;
  let o = 1;
  for (const byte of data) {
    if (byte !== 0) {
      out[o++] = byte;
      code++;
    }
    if (byte === 0 || code === 0xff) {
      out[codeAt] = code;
      codeAt = o++;
      code = 1;
    }
  }
  out[codeAt] = code;
  return out.subarray(0, o);
}

/** The decoded bytes, or undefined when `data` is not valid COBS (a zero inside, or a code past the end). */
export function cobsDecode(data: Uint8Array): Buffer | undefined {
  const out = Buffer.alloc(data.length);
  let o = 0;
  let i = 0;
  while (i < data.length) {
    const code = data[i]!;
    if (code === 0 || i + code > data.length) return undefined;
    for (let k = 1; k < code; k++) {
      const byte = data[i + k]!;
      if (byte === 0) return undefined;
      out[o++] = byte;
    }
    i += code;
    if (code !== 0xff && i < data.length) out[o++] = 0;
  }
  return out.subarray(0, o);
}
