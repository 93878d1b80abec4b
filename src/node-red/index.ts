/** What the Node-RED nodes in nodes/ use: they are thin CommonJS shells over this (built to dist/node-red/). */
export { alarmFilter, eventFilter, type AlarmFilterOptions, type EventFilterOptions } from './filters.js';
export { deviceTopicLevel, globListProblem, globMatcher } from './match.js';
export { gatewayTopic, parseGatewayMessage } from './gateway-messages.js';
export { GatewayConnection, GatewayRequestError, type ConnectionStatus } from './gateway-connection.js';
export { CepRunner, checkRuleText } from './cep-runner.js';
export { AlarmList } from './alarm-list.js';
