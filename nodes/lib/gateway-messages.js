'use strict';

const TOPIC = /^tinyml\/([^/]+)\/(inference|alarm)$/;

/** MQTT topics for a device filter ('+' = all) and the kinds wanted: 'both', 'inference' or 'alarm'. */
function subscriptionTopics(device, kinds) {
  const wanted = kinds === 'both' ? ['inference', 'alarm'] : [kinds];
  return wanted.map((kind) => `tinyml/${device}/${kind}`);
}

/** Turns a gateway MQTT message into a Node-RED msg, or `{ error }` for a payload that is not JSON. */
function parseGatewayMessage(topic, payload) {
  const match = TOPIC.exec(topic);
  if (!match) return { error: `unexpected topic ${topic}` };
  let body;
  try {
    body = JSON.parse(payload.toString('utf8'));
  } catch (err) {
    return { error: `dropped non-JSON payload on ${topic}: ${err.message}` };
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return { error: `dropped non-object payload on ${topic}` };
  // The gateway rejects these too (device_mismatch): a flow must not act on an event the gateway refused.
  if (body.device !== match[1]) return { error: `dropped payload of device '${body.device}' on ${topic}` };
  return { topic: match[1], kind: match[2], payload: body, mqttTopic: topic };
}

module.exports = { parseGatewayMessage, subscriptionTopics };
