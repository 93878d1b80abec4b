'use strict';
const { gatewayLibrary } = require('./lib/support.js');

/**
 * Runs CEP rules (the gateway's YAML rule language) over the msgs flowing in, inside Node-RED.
 * Output 1: alarm transitions; output 2: derived events and actions.
 */
module.exports = function register(RED) {
  const { CepRunner, checkRuleText } = gatewayLibrary();

  function TinymlCepNode(config) {
    RED.nodes.createNode(this, config);
    const node = this;
    let current; // the msg being pushed, so a rule failing on it reaches Catch with it
    let runner;
    try {
      runner = new CepRunner(config.rule || '', {
        output: (o) => {
          const base = current ? RED.util.cloneMessage(current) : {};
          if (o.type === 'alarm') node.send([{ ...base, topic: o.alarm.device, kind: 'alarm', payload: o.alarm }, null]);
          else if (o.type === 'derived') node.send([null, { ...base, topic: o.event.device, kind: 'derived', payload: o.event }]);
          else node.send([null, { ...base, topic: o.action.device, kind: 'action', payload: o.action }]);
        },
        failed: (rule, err) => {
          node.status({ fill: 'red', shape: 'dot', text: `rule ${rule} stopped` });
          node.error(new Error(`rule ${rule} stopped: ${err instanceof Error ? err.message : String(err)}`), current);
        },
      });
      const ids = runner.status().map((r) => r.id);
      node.status({ fill: 'green', shape: 'dot', text: ids.join(', ') });
    } catch (err) {
      node.status({ fill: 'red', shape: 'ring', text: 'rule invalid' });
      node.error(new Error(`rule invalid: ${err.message}`));
    }

    node.on('input', (msg, send, done) => {
      if (!runner) {
        node.error(new Error('rule invalid: fix it in the node and deploy'), msg);
        return done();
      }
      current = msg;
      try {
        const pushed = runner.push(msg.payload, msg.topic);
        if (!pushed.ok) node.error(new Error(pushed.error), msg);
      } finally {
        current = undefined;
      }
      done();
    });
    node.on('close', (done) => {
      if (runner) runner.close();
      done();
    });
  }
  RED.nodes.registerType('tinyml-cep', TinymlCepNode);

  // The editor checks the rule before deploy with the same parser the runtime uses.
  RED.httpAdmin.post('/tinyml-cep/check', RED.auth.needsPermission('tinyml-cep.write'), (req, res) => {
    const text = req.body && typeof req.body.rule === 'string' ? req.body.rule : '';
    res.json(checkRuleText(text));
  });
};
