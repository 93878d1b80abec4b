'use strict';
const { answerInto, gatewayOf } = require('./lib/support.js');

/** On each input, reads one device's status and model (or every device's) from the gateway. */
module.exports = function register(RED) {
  function TinymlDeviceNode(config) {
    RED.nodes.createNode(this, config);
    const node = this;
    const gateway = gatewayOf(RED, node, config);
    if (!gateway) return;
    node.on('input', (msg, send, done) => {
      const fromMsg = typeof msg.device === 'string' ? msg.device : typeof msg.payload === 'string' ? msg.payload : undefined;
      const device = config.device || fromMsg || '';
      const path = device === '' ? 'devices' : `devices/${encodeURIComponent(device)}`;
      if (device !== '') msg.topic = device;
      answerInto(node, gateway.connection.request('GET', path), msg, send, done);
    });
  }
  RED.nodes.registerType('tinyml-device', TinymlDeviceNode);
};
