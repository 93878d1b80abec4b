'use strict';
const path = require('node:path');

let library;
/** The tested TypeScript behind every node (src/node-red/), built to dist/ by `npm run build`. */
function gatewayLibrary() {
  if (!library) {
    const file = path.join(__dirname, '..', '..', 'dist', 'node-red', 'index.js');
    try {
      library = require(file);
    } catch (err) {
      throw new Error(`tinyml-gateway: cannot load ${file} (run npm run build in the package): ${err.message}`);
    }
  }
  return library;
}

const STATUS_LOOK = {
  connecting: { fill: 'yellow', shape: 'ring' },
  reconnecting: { fill: 'yellow', shape: 'ring' },
  connected: { fill: 'green', shape: 'dot' },
  error: { fill: 'red', shape: 'ring' },
};

/** Mirrors the shared connection's state on `node` until the node closes. */
function showConnectionStatus(node, connection) {
  const stop = connection.onStatus((s) => {
    const look = STATUS_LOOK[s.state];
    node.status(look ? { ...look, text: s.text.slice(0, 60) } : {});
  });
  node.on('close', () => stop());
}

/**
 * The config node a node names, its connection's state shown on the node; or undefined with a red
 * status and an error logged, and every msg a node with an input receives failed to Catch.
 */
function gatewayOf(RED, node, config) {
  const gateway = config.gateway ? RED.nodes.getNode(config.gateway) : null;
  if (gateway && gateway.connection) {
    showConnectionStatus(node, gateway.connection);
    return gateway;
  }
  node.status({ fill: 'red', shape: 'ring', text: 'no gateway configured' });
  node.error('no tinyml-gateway config node selected');
  node.on('input', (msg, send, done) => done(new Error('no tinyml-gateway config node selected')));
  return undefined;
}

/**
 * False (with a red status and the error logged) when a filter field is not a valid glob list:
 * flows deployed over the admin API skip the editor's validation.
 */
function filtersValid(node, config, keys) {
  const { globListProblem } = gatewayLibrary();
  for (const key of keys) {
    const problem = globListProblem(config[key]);
    if (problem === undefined) continue;
    node.status({ fill: 'red', shape: 'ring', text: `bad ${key} filter` });
    node.error(`${key}: ${problem}`);
    return false;
  }
  return true;
}

/**
 * Passes the gateway's answer on as msg.payload and msg.statusCode, or hands the failure to Catch
 * nodes with msg.statusCode set (0 when the gateway was unreachable). Calls done() either way.
 */
function answerInto(node, request, msg, send, done) {
  request.then(
    (answer) => {
      msg.payload = answer.body;
      msg.statusCode = answer.status;
      send(msg);
      done();
    },
    (err) => {
      msg.statusCode = err.status;
      node.error(err, msg);
      done();
    },
  );
}

/** A number typed into the editor, or undefined when the field is empty. */
function optionalNumber(text) {
  if (text === undefined || text === null || String(text).trim() === '') return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

module.exports = { answerInto, filtersValid, gatewayLibrary, gatewayOf, optionalNumber };
