'use strict';
const { answerInto, gatewayOf } = require('./lib/support.js');

const COMMANDS = ['acknowledge', 'confirm', 'reset'];

/** Acknowledges, confirms or resets a gateway alarm: the operator's answer from a dashboard button. */
module.exports = function register(RED) {
  function TinymlAlarmAckNode(config) {
    RED.nodes.createNode(this, config);
    const node = this;
    const gateway = gatewayOf(RED, node, config);
    if (!gateway) return;
    node.on('input', (msg, send, done) => {
      const p = msg.payload && typeof msg.payload === 'object' ? msg.payload : {};
      const command = p.command || msg.command || config.command || 'acknowledge';
      const device = p.device || msg.device || config.device || msg.topic;
      const rule = p.rule || msg.rule || config.rule || undefined;
      const comment = p.comment || msg.comment || config.comment || undefined;
      if (!COMMANDS.includes(command)) {
        node.error(new Error(`unknown command '${command}' (one of ${COMMANDS.join(', ')})`), msg);
        return done();
      }
      if (typeof device !== 'string' || device === '') {
        node.error(new Error('no device: set it in the node, msg.payload.device, msg.device or msg.topic'), msg);
        return done();
      }
      answerInto(node, gateway.connection.request('POST', `alarms/${command}`, { device, rule, comment }), msg, send, done);
    });
  }
  RED.nodes.registerType('tinyml-alarm-ack', TinymlAlarmAckNode);
};
