'use strict';
const { filtersValid, gatewayLibrary, gatewayOf, optionalNumber } = require('./lib/support.js');

/** One msg per inference event the gateway accepted, filtered by device, model, label and anomaly. */
module.exports = function register(RED) {
  function TinymlEventInNode(config) {
    RED.nodes.createNode(this, config);
    const node = this;
    // Before the gateway: a bad filter's red status must not be overwritten by the connection's.
    if (!filtersValid(node, config, ['devices', 'models', 'labels'])) return;
    const gateway = gatewayOf(RED, node, config);
    if (!gateway) return;
    const { deviceTopicLevel, eventFilter, gatewayTopic, parseGatewayMessage } = gatewayLibrary();
    const accept = eventFilter({
      devices: config.devices,
      models: config.models,
      labels: config.labels,
      minAnomaly: optionalNumber(config.minAnomaly),
    });
    const unsubscribe = gateway.connection.subscribe(gatewayTopic(deviceTopicLevel(config.devices), 'inference'), (topic, payload) => {
      const message = parseGatewayMessage(topic, payload);
      if (!message.ok) return node.warn(message.error);
      if (accept(message.payload)) node.send({ topic: message.device, kind: 'inference', payload: message.payload });
    });
    node.on('close', (done) => {
      unsubscribe();
      done();
    });
  }
  RED.nodes.registerType('tinyml-event-in', TinymlEventInNode);
};
