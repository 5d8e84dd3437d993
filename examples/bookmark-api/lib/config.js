'use strict';

// All configuration comes from the environment; nothing is read from files.

const LAYOUTS = ['worker-ports', 'app-port', 'aggregated'];

function intFromEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new Error(`${name} must be an integer port number, got ${JSON.stringify(raw)}`);
  }
  return n;
}

function load() {
  const layout = process.env.METRICS_LAYOUT || 'worker-ports';
  if (!LAYOUTS.includes(layout)) {
    throw new Error(`METRICS_LAYOUT must be one of ${LAYOUTS.join(', ')}, got ${JSON.stringify(layout)}`);
  }
  return {
    port: intFromEnv('PORT', 3000),
    databaseUrl: process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres',
    redisUrl: process.env.REDIS_URL || 'redis://127.0.0.1:6379',
    metricsLayout: layout,
    metricsPortBase: intFromEnv('METRICS_PORT_BASE', 9400),
    workerLabel: process.env.WORKER_LABEL || 'worker',
    // PM2 sets NODE_APP_INSTANCE (0..n-1) in each cluster worker; outside PM2 it is absent.
    instance: process.env.NODE_APP_INSTANCE !== undefined ? String(process.env.NODE_APP_INSTANCE) : '0',
  };
}

// Topics of the IPC exchange between metrics-aggregator.js and the workers (aggregated layout).
const METRICS_REQUEST_TOPIC = 'bookmark-api:metrics-request';
const METRICS_RESPONSE_TOPIC = 'bookmark-api:metrics-response';

module.exports = { load, LAYOUTS, METRICS_REQUEST_TOPIC, METRICS_RESPONSE_TOPIC };
