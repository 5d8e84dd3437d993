'use strict';

// Admin fault switch shared by all workers through one Redis key.
// Each worker reads the key at most once per second and caches it.

const FAULTS_KEY = 'bookmark-api:faults';
const CACHE_MS = 1000;
const MAX_LATENCY_MS = 60000;
const NO_FAULTS = Object.freeze({ error_ratio: 0, added_latency_ms: 0 });

function parseStored(raw) {
  if (!raw) return NO_FAULTS;
  try {
    const v = JSON.parse(raw);
    return {
      error_ratio: Number(v.error_ratio) || 0,
      added_latency_ms: Number(v.added_latency_ms) || 0,
      updated_at: v.updated_at,
    };
  } catch {
    return NO_FAULTS;
  }
}

// Returns { value } or { error } for a POST /admin/faults body.
function validate(body) {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    return { error: 'expected a JSON object {"error_ratio": 0..1, "added_latency_ms": N}' };
  }
  const ratio = body.error_ratio === undefined ? 0 : body.error_ratio;
  const latency = body.added_latency_ms === undefined ? 0 : body.added_latency_ms;
  if (typeof ratio !== 'number' || !Number.isFinite(ratio) || ratio < 0 || ratio > 1) {
    return { error: 'error_ratio must be a number between 0 and 1' };
  }
  if (typeof latency !== 'number' || !Number.isInteger(latency) || latency < 0 || latency > MAX_LATENCY_MS) {
    return { error: `added_latency_ms must be an integer between 0 and ${MAX_LATENCY_MS}` };
  }
  return { value: { error_ratio: ratio, added_latency_ms: latency, updated_at: new Date().toISOString() } };
}

function createFaults(redis, log) {
  let cached = NO_FAULTS;
  let fetchedAt = 0;
  let inflight = null;

  async function current() {
    if (Date.now() - fetchedAt < CACHE_MS) return cached;
    if (!inflight) {
      inflight = redis
        .get(FAULTS_KEY)
        .then(
          (raw) => {
            cached = parseStored(raw);
          },
          (err) => {
            // Keep the last known value; try again after CACHE_MS.
            log('reading fault switch failed', err);
          },
        )
        .finally(() => {
          fetchedAt = Date.now();
          inflight = null;
        });
    }
    await inflight;
    return cached;
  }

  async function set(value) {
    await redis.set(FAULTS_KEY, JSON.stringify(value));
    cached = value;
    fetchedAt = Date.now();
    return value;
  }

  async function clear() {
    await redis.del(FAULTS_KEY);
    cached = NO_FAULTS;
    fetchedAt = Date.now();
  }

  async function read() {
    return parseStored(await redis.get(FAULTS_KEY));
  }

  // Express middleware, used as the first handler of every /bookmarks route
  // (so req.route is already set and the 500 is labelled with the route pattern).
  async function inject(req, res, next) {
    const f = await current();
    if (f.added_latency_ms > 0) {
      await new Promise((resolve) => setTimeout(resolve, f.added_latency_ms));
    }
    if (f.error_ratio > 0 && Math.random() < f.error_ratio) {
      return res.status(500).json({ error: 'injected fault' });
    }
    return next();
  }

  return { current, set, clear, read, inject };
}

module.exports = { createFaults, validate, FAULTS_KEY, NO_FAULTS };
