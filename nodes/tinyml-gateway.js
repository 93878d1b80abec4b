'use strict';
const { gatewayLibrary } = require('./lib/support.js');

/** Config node: where the gateway is, its credentials, and the one connection its nodes share. */
module.exports = function register(RED) {
  function TinymlGatewayNode(config) {
    RED.nodes.createNode(this, config);
    const { GatewayConnection } = gatewayLibrary();
    const credentials = this.credentials || {};
    this.mqttUrl = config.mqttUrl;
    this.httpUrl = config.httpUrl;
    this.connection = new GatewayConnection({
      mqttUrl: config.mqttUrl,
      httpUrl: config.httpUrl,
      username: credentials.username,
      password: credentials.password,
      token: credentials.token,
      clientId: `nodered-tinyml-${this.id}-${Math.random().toString(16).slice(2, 8)}`,
    });
    this.on('close', (done) => {
      this.connection.close().then(
        () => done(),
        () => done(),
      );
    });
  }
  RED.nodes.registerType('tinyml-gateway', TinymlGatewayNode, {
    credentials: { username: { type: 'text' }, password: { type: 'password' }, token: { type: 'password' } },
  });
};
