'use strict';

const http = require('http');
const client = require('prom-client');
const { METRICS_REQUEST_TOPIC, METRICS_RESPONSE_TOPIC } = require('./config');

const register = client.register;

// Paths whose requests are not observed by the request histogram.
function isUnobservedPath(path) {
  return path === '/health' || path === '/metrics' || path === '/admin' || path.startsWith('/admin/');
}

function setupMetrics(config, log) {
  if (config.metricsLayout === 'aggregated') {
    // Must come before any metric is collected so every series carries the label.
    register.setDefaultLabels({ [config.workerLabel]: config.instance });
  }

  client.collectDefaultMetrics();

  const httpDuration = new client.Histogram({
    name: 'http_request_duration_seconds',
    help: 'Duration of HTTP requests in seconds',
    labelNames: ['method', 'route', 'status_code'],
    // prom-client's default buckets plus 2 s, where the plan's p95 page sits: a p95 between two
    // bounds is interpolated, so the threshold must be a bound (obstack's spec declares the same).
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 2.5, 5, 10],
  });

  if (config.metricsLayout === 'aggregated') {
    // process_start_time_seconds has aggregator 'omit', so AggregatorRegistry drops it.
    // This gauge carries the same value and survives aggregation (one series per worker label).
    const startInSeconds = Math.round(Date.now() / 1000 - process.uptime());
    new client.Gauge({
      name: 'app_worker_start_time_seconds',
      help: 'Start time of this PM2 worker process since unix epoch in seconds.',
      aggregator: 'max',
      collect() {
        this.set(startInSeconds);
      },
    });
  }

  // Express middleware: observe every request except /health, /metrics and /admin/*.
  function requestMetrics(req, res, next) {
    if (isUnobservedPath(req.path)) return next();
    const end = httpDuration.startTimer();
    res.on('finish', () => {
      const route = req.route ? `${req.baseUrl || ''}${req.route.path}` : 'unmatched';
      end({ method: req.method, route, status_code: String(res.statusCode) });
    });
    return next();
  }

  async function serveMetrics(req, res) {
    try {
      const body = await register.metrics();
      res.writeHead(200, { 'Content-Type': register.contentType });
      res.end(body);
    } catch (err) {
      log('metrics collection failed', err);
      res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end(`metrics collection failed: ${err.message}\n`);
    }
  }

  // worker-ports layout: a per-worker HTTP server on METRICS_PORT_BASE + NODE_APP_INSTANCE.
  // `exclusive: true` makes this worker bind the port itself instead of asking the PM2
  // (cluster primary) process to share it, so the port lives and dies with this worker.
  function startWorkerMetricsServer() {
    const port = config.metricsPortBase + Number(config.instance);
    const server = http.createServer((req, res) => {
      const path = (req.url || '/').split('?')[0];
      if (req.method === 'GET' && path === '/metrics') return serveMetrics(req, res);
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not found; try GET /metrics\n');
    });
    server.on('error', (err) => {
      log(`metrics server on 127.0.0.1:${port} failed`, err);
      process.exitCode = 1;
      process.kill(process.pid, 'SIGINT');
    });
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => {
      log(`metrics on http://127.0.0.1:${port}/metrics`);
    });
    return server;
  }

  // aggregated layout: answer metrics-aggregator.js, which sends a packet through PM2
  // (pm2.sendDataToProcessId); the answer goes back through PM2's bus as 'process:msg'.
  function listenForAggregator() {
    process.on('message', (packet) => {
      if (!packet || packet.topic !== METRICS_REQUEST_TOPIC) return;
      const requestId = packet.data && packet.data.request_id;
      const reply = (data) => {
        if (typeof process.send !== 'function') return;
        process.send({
          type: 'process:msg',
          data: { topic: METRICS_RESPONSE_TOPIC, request_id: requestId, instance: config.instance, ...data },
        });
      };
      register.getMetricsAsJSON().then(
        (metrics) => reply({ metrics }),
        (err) => {
          log('getMetricsAsJSON failed', err);
          reply({ error: err.message });
        },
      );
    });
  }

  return { register, requestMetrics, serveMetrics, startWorkerMetricsServer, listenForAggregator };
}

module.exports = { setupMetrics, isUnobservedPath };
