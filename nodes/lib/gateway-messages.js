'use strict';

// The gateway republishes what it accepted: events on tinyml/<device>/event, alarms on …/alarm.
const TOPIC = /^tinyml\/([^/]+)\/(event|alarm)$/;
const TOPIC_OF_KIND = { inference: 'event', alarm: 'alarm' };
const KIND_OF_TOPIC = { event: 'inference', alarm: 'alarm' };

/** MQTT topics for a device filter ('+' = all) and the kinds wanted: 'both', 'inference' or 'alarm'. */
function subscriptionTopics(device, kinds) {
  const wanted = kinds === 'both' ? ['inference', 'alarm'] : [kinds];
  return wanted.map((kind) => `tinyml/${device}/${TOPIC_OF_KIND[kind]}`);
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
  return { topic: match[1], kind: KIND_OF_TOPIC[match[2]], payload: body, mqttTopic: topic };
}

module.exports = { parseGatewayMessage, subscriptionTopics };
