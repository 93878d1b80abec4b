// The floor of the gateway's start → ready: node-opcua's server and nothing else, as the gateway
// starts it (the standard nodeset, a new PKI in an empty folder, node-opcua loaded without its
// PKCS#1 probe), with one unsecured endpoint. The benchmark times it from spawn to its port
// accepting a connection, as it times the gateway.
//
//   node opcua-start.js <port> <pki folder>
import { join } from 'node:path';
import { MessageSecurityMode, OPCUACertificateManager, OPCUAServer, SecurityPolicy } from '../../servers/opcua/ua.js';

const [portText, folder] = process.argv.slice(2);
const server = new OPCUAServer({
  port: Number(portText),
  hostname: '127.0.0.1',
  securityModes: [MessageSecurityMode.None],
  securityPolicies: [SecurityPolicy.None],
  allowAnonymous: true,
  serverCertificateManager: new OPCUACertificateManager({ rootFolder: join(folder!, 'pki') }),
  userCertificateManager: new OPCUACertificateManager({ rootFolder: join(folder!, 'user') }),
});
await server.initialize();
await server.start();
process.once('SIGTERM', () => void server.shutdown(0).then(() => process.exit(0)));
