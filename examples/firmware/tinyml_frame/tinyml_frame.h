/*
 * tinyml_frame: the gateway's compact binary result frame (docs/serial.md#binary-frames).
 * Portable C99, no allocation: fill a tinyml_result_t, encode it, write the bytes to the UART.
 */
#ifndef TINYML_FRAME_H
#define TINYML_FRAME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TINYML_FRAME_VERSION 1
#define TINYML_MAX_SCORES 16
#define TINYML_NO_LABEL 255
/* 16 header + 32 scores + 2 CRC, plus COBS overhead and the 0x00 delimiter. */
#define TINYML_FRAME_MAX_BYTES 53

typedef struct {
  uint16_t device;       /* device number; the gateway maps it to an id */
  uint32_t seq;          /* incremented per inference */
  uint16_t model;        /* model number; the gateway maps it to a name and labels */
  uint8_t version_major;
  uint8_t version_minor;
  uint8_t label;         /* index of the predicted class, TINYML_NO_LABEL for none */
  uint8_t score_count;   /* 0..TINYML_MAX_SCORES */
  uint8_t float16_scores; /* 1: scores as float16 (2 bytes each), 0: as uint8 (score * 255) */
  uint8_t has_anomaly;
  float anomaly;
  float scores[TINYML_MAX_SCORES];
} tinyml_result_t;

/* CRC-16/CCITT-FALSE: polynomial 0x1021, initial 0xFFFF. */
uint16_t tinyml_crc16(const uint8_t *data, size_t len);

/* IEEE 754 binary16 nearest to `value` (round to nearest, ties to even). */
uint16_t tinyml_float16(float value);

/*
 * Encodes `r` as one COBS frame ending in 0x00 into `out` (at least TINYML_FRAME_MAX_BYTES).
 * Returns the number of bytes to send, or 0 when `r` is invalid or `capacity` too small.
 */
size_t tinyml_frame_encode(const tinyml_result_t *r, uint8_t *out, size_t capacity);

#ifdef __cplusplus
}
#endif

#endif
