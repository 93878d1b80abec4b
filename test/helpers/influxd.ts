/** The tests start InfluxDB the way the benchmarks do. */
export { ensureInfluxd, startInfluxd, type InfluxServer } from '../../src/bench/influxd.js';
