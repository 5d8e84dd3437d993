'use strict';

// bookmark-api: one PM2 cluster worker. See README.md.

const express = require('express');
const { Pool } = require('pg');
const IORedis = require('ioredis');
const { Queue, Worker } = require('bullmq');

const { load } = require('./lib/config');
const { setupMetrics } = require('./lib/metrics');
const { createFaults, validate: validateFaults } = require('./lib/faults');

const config = load();
const QUEUE_NAME = 'link-check';
const HEALTH_TIMEOUT_MS = 1000;
const ENQUEUE_TIMEOUT_MS = 2000;

function log(msg, err) {
  const prefix = `[bookmark-api ${config.instance} pid ${process.pid}]`;
  if (err) console.error(`${prefix} ${msg}: ${err && err.message ? err.message : err}`);
  else console.log(`${prefix} ${msg}`);
}

// Log a recurring connection error at most once per 10 s per source.
function throttledErrorLogger(source) {
  let last = 0;
  return (err) => {
    if (Date.now() - last < 10000) return;
    last = Date.now();
    log(`${source} error`, err);
  };
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// --- clients -----------------------------------------------------------------

const pool = new Pool({ connectionString: config.databaseUrl, max: 5, connectionTimeoutMillis: HEALTH_TIMEOUT_MS });
pool.on('error', throttledErrorLogger('postgres pool'));

// For the fault switch and /health: give up on a command after one failed reconnect.
const redis = new IORedis(config.redisUrl, { maxRetriesPerRequest: 1 });
redis.on('error', throttledErrorLogger('redis'));

// BullMQ: the Queue (producer) and the Worker (blocking consumer) get their own connections;
// a Worker connection must have maxRetriesPerRequest: null.
const queueConnection = new IORedis(config.redisUrl, { maxRetriesPerRequest: 1 });
queueConnection.on('error', throttledErrorLogger('bullmq queue connection'));
const workerConnection = new IORedis(config.redisUrl, { maxRetriesPerRequest: null });
workerConnection.on('error', throttledErrorLogger('bullmq worker connection'));

const linkCheckQueue = new Queue(QUEUE_NAME, { connection: queueConnection });
linkCheckQueue.on('error', throttledErrorLogger('bullmq queue'));

// Every worker also consumes the queue; a link check here just marks the job done. The metrics
// option makes BullMQ count finished jobs (metrics:completed/failed count), which the obstack
// exporter reads as its completion counters; 60 one-minute points is BullMQ's own history.
const linkCheckWorker = new Worker(
  QUEUE_NAME,
  async (job) => {
    await new Promise((resolve) => setTimeout(resolve, 5));
    return { bookmark_id: job.data.bookmark_id, checked: true };
  },
  { connection: workerConnection, concurrency: 5, metrics: { maxDataPoints: 60 } },
);
linkCheckWorker.on('error', throttledErrorLogger('bullmq worker'));
linkCheckWorker.on('failed', (job, err) => log(`link-check job ${job && job.id} failed`, err));

const faults = createFaults(redis, log);
const metrics = setupMetrics(config, log);

// --- schema ------------------------------------------------------------------

const SCHEMA_LOCK_KEY = 727274; // any constant; serialises CREATE TABLE across workers

async function ensureSchema() {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    await c.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK_KEY]);
    await c.query(`CREATE TABLE IF NOT EXISTS bookmarks (
      id serial PRIMARY KEY,
      url text NOT NULL,
      title text,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    c.release();
  }
}

// Retry in the background so /health can report a database that is down at startup.
function ensureSchemaWithRetry() {
  ensureSchema().then(
    () => log('table bookmarks ready'),
    (err) => {
      log('creating table bookmarks failed, retrying in 2 s', err);
      setTimeout(ensureSchemaWithRetry, 2000).unref();
    },
  );
}

// --- app ---------------------------------------------------------------------

const app = express();
app.disable('x-powered-by');
app.use(metrics.requestMetrics);
app.use(express.json({ limit: '16kb' }));

// Express 5 forwards rejected promises from async handlers to the error handler.

app.get('/bookmarks', faults.inject, async (req, res) => {
  const { rows } = await pool.query(
    'SELECT id, url, title, created_at FROM bookmarks ORDER BY created_at DESC, id DESC LIMIT 50',
  );
  res.json(rows);
});

app.get('/bookmarks/:id', faults.inject, async (req, res) => {
  const id = req.params.id;
  // Not a positive int4: cannot be a row id.
  if (!/^[0-9]{1,10}$/.test(id) || Number(id) < 1 || Number(id) > 2147483647) {
    return res.status(404).json({ error: 'not found' });
  }
  const { rows } = await pool.query('SELECT id, url, title, created_at FROM bookmarks WHERE id = $1', [Number(id)]);
  if (rows.length === 0) return res.status(404).json({ error: 'not found' });
  return res.json(rows[0]);
});

app.post('/bookmarks', faults.inject, async (req, res) => {
  const body = req.body || {};
  const { url } = body;
  const title = body.title === undefined || body.title === null ? null : body.title;
  if (typeof url !== 'string' || url.trim() === '') {
    return res.status(400).json({ error: 'url (non-empty string) is required' });
  }
  if (title !== null && typeof title !== 'string') {
    return res.status(400).json({ error: 'title must be a string' });
  }
  const { rows } = await pool.query(
    'INSERT INTO bookmarks (url, title) VALUES ($1, $2) RETURNING id, url, title, created_at',
    [url, title],
  );
  const row = rows[0];
  try {
    await withTimeout(
      linkCheckQueue.add('check', { bookmark_id: row.id }, { removeOnComplete: 1000, removeOnFail: 1000 }),
      ENQUEUE_TIMEOUT_MS,
      'enqueue',
    );
  } catch (err) {
    // The row is stored; only the link check could not be queued.
    log(`enqueueing link-check for bookmark ${row.id} failed`, err);
    return res.status(500).json({ error: 'bookmark stored but link check could not be queued', id: row.id });
  }
  return res.status(201).json(row);
});

async function check(name, fn) {
  const started = Date.now();
  try {
    await withTimeout(fn(), HEALTH_TIMEOUT_MS, name);
    return { status: 'pass', duration_ms: Date.now() - started };
  } catch (err) {
    return { status: 'fail', duration_ms: Date.now() - started, error: err.message };
  }
}

app.get('/health', async (req, res) => {
  const [postgres, redisCheck] = await Promise.all([
    check('postgres', () => pool.query('SELECT 1')),
    check('redis', () => redis.ping()),
  ]);
  if (postgres.status === 'pass' && redisCheck.status === 'pass') {
    return res.status(200).json({ status: 'pass' });
  }
  return res.status(503).json({ status: 'fail', checks: { postgres, redis: redisCheck } });
});

app.get('/admin/faults', async (req, res) => {
  res.json(await faults.read());
});

app.post('/admin/faults', async (req, res) => {
  const { value, error } = validateFaults(req.body);
  if (error) return res.status(400).json({ error });
  return res.json(await faults.set(value));
});

app.delete('/admin/faults', async (req, res) => {
  await faults.clear();
  res.status(204).end();
});

if (config.metricsLayout === 'app-port') {
  // The naive layout: whichever worker PM2 hands the scrape to answers with its own registry.
  app.get('/metrics', metrics.serveMetrics);
} else {
  app.get('/metrics', (req, res) => {
    const where =
      config.metricsLayout === 'worker-ports'
        ? `each worker on 127.0.0.1:${config.metricsPortBase}+NODE_APP_INSTANCE`
        : `metrics-aggregator on 127.0.0.1:${config.metricsPortBase}`;
    res.status(404).json({ error: `METRICS_LAYOUT=${config.metricsLayout}: metrics are served by ${where}` });
  });
}

app.use((req, res) => {
  res.status(404).json({ error: 'not found' });
});

// eslint-disable-next-line no-unused-vars
app.use((err, req, res, next) => {
  if (err.type === 'entity.parse.failed' || err.type === 'entity.too.large') {
    return res.status(err.status || 400).json({ error: err.message });
  }
  log(`${req.method} ${req.originalUrl} failed`, err);
  if (res.headersSent) return res.end();
  return res.status(500).json({ error: 'internal error' });
});

// --- start / stop --------------------------------------------------------------

ensureSchemaWithRetry();

const servers = [];
const appServer = app.listen(config.port, () => {
  log(`listening on :${config.port} (METRICS_LAYOUT=${config.metricsLayout})`);
});
servers.push(appServer);

if (config.metricsLayout === 'worker-ports') servers.push(metrics.startWorkerMetricsServer());
if (config.metricsLayout === 'aggregated') metrics.listenForAggregator();

let stopping = false;
async function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  log(`${signal}: shutting down`);
  setTimeout(() => process.exit(process.exitCode || 0), 1400).unref(); // PM2 kill_timeout is 1600 ms
  await Promise.allSettled(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  await Promise.allSettled([linkCheckWorker.close(), linkCheckQueue.close()]);
  await Promise.allSettled([pool.end(), redis.quit(), queueConnection.quit(), workerConnection.quit()]);
  process.exit(process.exitCode || 0);
}
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));
