#include "tinyml_frame.h"

#include <string.h>

uint16_t tinyml_crc16(const uint8_t *data, size_t len) {
  uint16_t crc = 0xFFFF;
  for (size_t i = 0; i < len; i++) {
    crc ^= (uint16_t)((uint16_t)data[i] << 8);
    for (int bit = 0; bit < 8; bit++) {
      crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
  }
  return crc;
}

uint16_t tinyml_float16(float value) {
  uint32_t x;
  memcpy(&x, &value, sizeof x);
  uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
  int32_t exponent = (int32_t)((x >> 23) & 0xFF);
  uint32_t mantissa = x & 0x7FFFFF;
  if (exponent == 0xFF) return (uint16_t)(sign | 0x7C00 | (mantissa ? 0x200 : 0));
  int32_t e = exponent - 127 + 15;
  if (e >= 0x1F) return (uint16_t)(sign | 0x7C00);
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    int32_t shift = 14 - e;
    uint32_t half = mantissa >> shift;
    uint32_t rest = mantissa & ((1u << shift) - 1);
    uint32_t mid = 1u << (shift - 1);
    if (rest > mid || (rest == mid && (half & 1))) half++;
    return (uint16_t)(sign | half);
  }
  uint32_t half = ((uint32_t)e << 10) | (mantissa >> 13);
  uint32_t rest = mantissa & 0x1FFF;
  if (rest > 0x1000 || (rest == 0x1000 && (half & 1))) half++;
  if ((half >> 10) >= 0x1F) return (uint16_t)(sign | 0x7C00);
  return (uint16_t)(sign | half);
}

static void put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v & 0xFF);
  p[1] = (uint8_t)(v >> 8);
}

static uint8_t score_byte(float s) {
  if (!(s > 0.0f)) return 0; /* also NaN */
  if (s >= 1.0f) return 255;
  return (uint8_t)((double)s * 255.0 + 0.5);
}

size_t tinyml_frame_encode(const tinyml_result_t *r, uint8_t *out, size_t capacity) {
  uint8_t body[16 + 2 * TINYML_MAX_SCORES + 2];
  if (r->score_count > TINYML_MAX_SCORES || capacity < TINYML_FRAME_MAX_BYTES) return 0;
  size_t width = r->float16_scores ? 2 : 1;
  size_t len = 16 + (size_t)r->score_count * width;
  body[0] = TINYML_FRAME_VERSION;
  body[1] = (uint8_t)((r->float16_scores ? 1 : 0) | (r->has_anomaly ? 2 : 0));
  put16(body + 2, r->device);
  put16(body + 4, (uint16_t)(r->seq & 0xFFFF));
  put16(body + 6, (uint16_t)(r->seq >> 16));
  put16(body + 8, r->model);
  body[10] = r->version_major;
  body[11] = r->version_minor;
  body[12] = r->label;
  body[13] = r->score_count;
  put16(body + 14, tinyml_float16(r->has_anomaly ? r->anomaly : 0.0f));
  for (uint8_t i = 0; i < r->score_count; i++) {
    if (r->float16_scores) put16(body + 16 + 2 * i, tinyml_float16(r->scores[i]));
    else body[16 + i] = score_byte(r->scores[i]);
  }
  put16(body + len, tinyml_crc16(body, len));
  len += 2;

  /* COBS: each run of non-zero bytes is prefixed by its length + 1; the frame ends with 0x00. */
  size_t code_at = 0, o = 1;
  uint8_t code = 1;
  for (size_t i = 0; i < len; i++) {
    if (body[i] != 0) {
      out[o++] = body[i];
      code++;
    }
    if (body[i] == 0 || code == 0xFF) {
      out[code_at] = code;
      code_at = o++;
      code = 1;
    }
  }
  out[code_at] = code;
  out[o++] = 0;
  return o;
}
