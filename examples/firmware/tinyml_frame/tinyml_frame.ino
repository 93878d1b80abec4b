// tinyml-gateway binary result frames over the UART: one frame per inference.
// Put your model's result into `r` (e.g. from Edge Impulse's run_classifier) where marked.
// The gateway's serial port config names the device and model numbers used here (docs/serial.md).
#include "tinyml_frame.h"

static const uint16_t DEVICE_NUMBER = 7;
static const uint16_t MODEL_NUMBER = 3; // gateway: models: { 3: { name: motor-ad, labels: [normal, imbalance, wear] } }
static uint32_t seq = 0;

void setup() {
  Serial.begin(115200);
}

void loop() {
  tinyml_result_t r = {};
  r.device = DEVICE_NUMBER;
  r.seq = seq++;
  r.model = MODEL_NUMBER;
  r.version_major = 1;
  r.version_minor = 4;
  r.float16_scores = 1;
  r.score_count = 3;
  // --- your model's result goes here; a made-up one so the sketch runs on a bare board ---
  float wear = (float)(r.seq % 10) / 10.0f;
  r.scores[0] = 1.0f - wear;
  r.scores[1] = 0.0f;
  r.scores[2] = wear;
  r.label = wear >= 0.5f ? 2 : 0;
  r.has_anomaly = 1;
  r.anomaly = wear;
  // ---
  uint8_t frame[TINYML_FRAME_MAX_BYTES];
  size_t n = tinyml_frame_encode(&r, frame, sizeof frame);
  if (n > 0) Serial.write(frame, n);
  delay(500);
}
