'use strict';

// metrics-aggregator: a PM2 app in fork mode (METRICS_LAYOUT=aggregated).
// On each GET /metrics it asks every online worker of the `bookmark-api` PM2 app for
// register.getMetricsAsJSON() through PM2 (pm2.sendDataToProcessId -> worker's
// process.on('message'); worker's process.send({type: 'process:msg'}) -> PM2 bus),
// waits for all answers (2 s at most), merges them with prom-client's
// AggregatorRegistry.aggregate() and serves the text on 127.0.0.1:METRICS_PORT_BASE.

// Keep pm2's programmatic API from printing "successfully sent data to process" per call.
process.env.PM2_PROGRAMMATIC = 'true';

const http = require('http');
const pm2 = require('pm2');
const client = require('prom-client');
const { AggregatorRegistry, Registry } = client;
const { METRICS_REQUEST_TOPIC, METRICS_RESPONSE_TOPIC } = require('./lib/config');

const APP_NAME = process.env.PM2_APP_NAME || 'bookmark-api';
const PORT = Number(process.env.METRICS_PORT_BASE || 9400);
const TIMEOUT_MS = 2000;

function log(msg, err) {
  const prefix = `[metrics-aggregator pid ${process.pid}]`;
  if (err) console.error(`${prefix} ${msg}: ${err && err.message ? err.message : err}`);
  else console.log(`${prefix} ${msg}`);
}

// The aggregator's own view of one scrape, rendered after the aggregated workers' metrics.
async function ownMetrics(expected, answered) {
  const registry = new Registry(); // per scrape, so concurrent scrapes do not mix their counts
  new client.Gauge({
    name: 'metrics_aggregator_workers_expected',
    help: `Online ${APP_NAME} workers asked for metrics in this scrape.`,
    registers: [registry],
  }).set(expected);
  new client.Gauge({
    name: 'metrics_aggregator_workers_answered',
    help: `${APP_NAME} workers that answered within ${TIMEOUT_MS} ms in this scrape.`,
    registers: [registry],
  }).set(answered);
  return registry.metrics();
}

const pending = new Map(); // request_id -> { expected: Set<pm_id>, answers: Map<pm_id, data>, finish }
let requestCounter = 0;

function onBusMessage(packet) {
  const data = packet && packet.data;
  if (!data || data.topic !== METRICS_RESPONSE_TOPIC) return;
  const req = pending.get(data.request_id);
  if (!req) return; // late answer to a scrape that already timed out
  const pmId = packet.process && packet.process.pm_id;
  if (!req.expected.has(pmId)) return;
  req.answers.set(pmId, data);
  if (req.answers.size === req.expected.size) req.finish();
}

function pm2Call(fn, ...args) {
  return new Promise((resolve, reject) => {
    fn.call(pm2, ...args, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

async function collect() {
  const list = await pm2Call(pm2.list);
  const workers = list.filter((p) => p.name === APP_NAME && p.pm2_env && p.pm2_env.status === 'online');
  const requestId = `${process.pid}-${++requestCounter}`;
  const req = { expected: new Set(workers.map((w) => w.pm_id)), answers: new Map() };
  const done = new Promise((resolve) => {
    const timer = setTimeout(resolve, TIMEOUT_MS);
    req.finish = () => {
      clearTimeout(timer);
      resolve();
    };
  });
  pending.set(requestId, req);
  try {
    if (workers.length === 0) req.finish();
    await Promise.all(
      workers.map((w) =>
        pm2Call(pm2.sendDataToProcessId, w.pm_id, {
          type: 'process:msg',
          topic: METRICS_REQUEST_TOPIC,
          data: { request_id: requestId },
        }).catch((err) => {
          // e.g. the worker went offline between list and send: do not wait for it
          log(`asking pm_id ${w.pm_id} failed`, err);
          req.expected.delete(w.pm_id);
          if (req.answers.size === req.expected.size) req.finish();
        }),
      ),
    );
    await done;
  } finally {
    pending.delete(requestId);
  }
  const answered = [...req.answers.values()];
  for (const a of answered) if (a.error) log(`worker ${a.instance} answered with an error: ${a.error}`);
  return { expected: workers.length, answered: answered.filter((a) => !a.error) };
}

async function handleMetrics(res) {
  const { expected, answered } = await collect();
  if (answered.length < expected) log(`only ${answered.length} of ${expected} workers answered within ${TIMEOUT_MS} ms`);
  if (answered.length === 0) {
    res.writeHead(503, { 'Content-Type': 'text/plain' });
    res.end(`no ${APP_NAME} worker answered (${expected} online)\n`);
    return;
  }
  const aggregated = AggregatorRegistry.aggregate(answered.map((a) => a.metrics));
  const body = (await aggregated.metrics()) + (await ownMetrics(expected, answered.length));
  res.writeHead(200, { 'Content-Type': aggregated.contentType });
  res.end(body);
}

function start() {
  pm2.connect((err) => {
    if (err) {
      log('pm2.connect failed', err);
      process.exit(1);
    }
    pm2.launchBus((busErr, bus) => {
      if (busErr) {
        log('pm2.launchBus failed', busErr);
        process.exit(1);
      }
      bus.on('process:msg', onBusMessage);

      const server = http.createServer((req, res) => {
        const path = (req.url || '/').split('?')[0];
        if (req.method !== 'GET' || path !== '/metrics') {
          res.writeHead(404, { 'Content-Type': 'text/plain' });
          res.end('not found; try GET /metrics\n');
          return;
        }
        handleMetrics(res).catch((e) => {
          log('aggregation failed', e);
          res.writeHead(500, { 'Content-Type': 'text/plain' });
          res.end(`aggregation failed: ${e.message}\n`);
        });
      });
      server.listen(PORT, '127.0.0.1', () => log(`aggregated metrics of ${APP_NAME} on http://127.0.0.1:${PORT}/metrics`));

      const shutdown = () => {
        server.close();
        pm2.disconnect(() => process.exit(0)); // closes the RPC socket and the bus
        setTimeout(() => process.exit(0), 1000).unref();
      };
      process.on('SIGINT', shutdown);
      process.on('SIGTERM', shutdown);
    });
  });
}

start();
