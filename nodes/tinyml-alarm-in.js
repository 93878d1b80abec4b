'use strict';
const { filtersValid, gatewayLibrary, gatewayOf, optionalNumber } = require('./lib/support.js');

/**
 * Alarm transitions (raised, acknowledged, confirmed, cleared) filtered by device, rule and
 * severity; or, in list mode, the whole list of alarms needing attention after every change.
 */
module.exports = function register(RED) {
  function TinymlAlarmInNode(config) {
    RED.nodes.createNode(this, config);
    const node = this;
    // Before the gateway: a bad filter's red status must not be overwritten by the connection's.
    if (!filtersValid(node, config, ['devices', 'rules'])) return;
    const gateway = gatewayOf(RED, node, config);
    if (!gateway) return;
    const { AlarmList, alarmFilter, deviceTopicLevel, gatewayTopic, parseGatewayMessage } = gatewayLibrary();
    const filter = {
      devices: config.devices,
      rules: config.rules,
      minSeverity: optionalNumber(config.minSeverity),
      states: ['raised', 'acknowledged', 'confirmed', 'cleared'].filter((s) => config[s] !== false),
    };
    const accept = alarmFilter(filter);
    const list = config.output === 'list' ? new AlarmList(filter) : undefined;
    let closed = false;
    const sendList = () => node.send({ topic: 'alarms', kind: 'alarm-list', payload: list.list() });

    // The list is loaded again on every (re)connection, so transitions missed while away cannot leave it stale.
    const reload = () =>
      gateway.connection.request('GET', 'alarms').then(
        (answer) => {
          if (closed) return;
          list.reset(Array.isArray(answer.body) ? answer.body : []);
          sendList();
        },
        (err) => !closed && node.error(err),
      );
    const stopReload = list ? gateway.connection.onStatus((s) => s.state === 'connected' && reload()) : () => {};
    const unsubscribe = gateway.connection.subscribe(gatewayTopic(deviceTopicLevel(config.devices), 'alarm'), (topic, payload) => {
      const message = parseGatewayMessage(topic, payload);
      if (!message.ok) return node.warn(message.error);
      if (list) {
        if (list.apply(message.payload)) sendList();
      } else if (accept(message.payload)) {
        node.send({ topic: message.device, kind: 'alarm', payload: message.payload });
      }
    });
    node.on('close', (done) => {
      closed = true;
      unsubscribe();
      stopReload();
      done();
    });
  }
  RED.nodes.registerType('tinyml-alarm-in', TinymlAlarmInNode);
};
