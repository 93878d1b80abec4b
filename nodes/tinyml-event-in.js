'use strict';
const { filtersValid, gatewayLibrary, gatewayOf, optionalNumber, showConnectionStatus } = require('./lib/support.js');

/** One msg per inference event the gateway accepted, filtered by device, model, label and anomaly. */
module.exports = function register(RED) {
  function TinymlEventInNode(config) {
    RED.nodes.createNode(this, config);
    const node = this;
    const gateway = gatewayOf(RED, node, config);
    if (!gateway || !filtersValid(node, config, ['devices', 'models', 'labels'])) return;
    const { deviceTopicLevel, eventFilter, gatewayTopic, parseGatewayMessage } = gatewayLibrary();
    const accept = eventFilter({
      devices: config.devices,
      models: config.models,
      labels: config.labels,
      minAnomaly: optionalNumber(config.minAnomaly),
    });
    const stopStatus = showConnectionStatus(node, gateway.connection);
    const unsubscribe = gateway.connection.subscribe(gatewayTopic(deviceTopicLevel(config.devices), 'inference'), (topic, payload) => {
      const message = parseGatewayMessage(topic, payload);
      if (!message.ok) return node.warn(message.error);
      if (accept(message.payload)) node.send({ topic: message.device, kind: 'inference', payload: message.payload });
    });
    node.on('close', (done) => {
      unsubscribe();
      stopStatus();
      done();
    });
  }
  RED.nodes.registerType('tinyml-event-in', TinymlEventInNode);
};
