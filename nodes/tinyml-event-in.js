'use strict';
const mqtt = require('mqtt');
const { parseGatewayMessage, subscriptionTopics } = require('./lib/gateway-messages.js');

/** Emits one msg per inference event and per alarm transition published through the gateway's broker. */
module.exports = function register(RED) {
  function TinymlEventInNode(config) {
    RED.nodes.createNode(this, config);
    const node = this;
    const topics = subscriptionTopics(config.device || '+', config.kinds || 'both');
    node.status({ fill: 'yellow', shape: 'ring', text: 'connecting' });
    const client = mqtt.connect(config.broker || 'mqtt://127.0.0.1:1883', {
      clientId: `nodered-tinyml-${node.id}-${Math.random().toString(16).slice(2, 8)}`,
      reconnectPeriod: 2000,
    });
    client.on('connect', () => {
      client.subscribe(topics, { qos: 1 }, (err) => {
        if (err) node.error(`subscribe failed: ${err.message}`);
        else node.status({ fill: 'green', shape: 'dot', text: 'connected' });
      });
    });
    client.on('reconnect', () => node.status({ fill: 'yellow', shape: 'ring', text: 'reconnecting' }));
    client.on('error', (err) => node.status({ fill: 'red', shape: 'ring', text: err.message }));
    client.on('message', (topic, payload) => {
      const msg = parseGatewayMessage(topic, payload);
      if (msg.error) node.warn(msg.error);
      else node.send(msg);
    });
    node.on('close', (done) => {
      client.end(true, {}, () => done());
    });
  }
  RED.nodes.registerType('tinyml-event-in', TinymlEventInNode);
};
