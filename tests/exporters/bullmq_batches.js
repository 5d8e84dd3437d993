// Adds and processes BullMQ jobs in batches, with the real bullmq (resolved through NODE_PATH from
// examples/bookmark-api/node_modules), for tests/exporters/test_queue_counters.py.
//
//   node bullmq_batches.js <redis host> <redis port> <prefix> <queue> metrics|plain
//
// Reads one batch per stdin line, "<jobs> <fail always> <fail once>": adds <jobs> jobs in one
// addBulk with removeOnComplete: 1000 and removeOnFail: 1000 (as the bookmark API does); the
// first <fail always> of them throw on every attempt (attempts: 1), the next <fail once> throw on
// their first attempt and succeed on the retry (attempts: 2). One Worker processes them, with
// the metrics option (metrics) or without it (plain); once every job of the batch has finished for good it prints one JSON line:
// what it added, completed and failed so far, and BullMQ's own view (getMetrics counts, set sizes).
'use strict';

const readline = require('node:readline');
const { Queue, Worker } = require('bullmq');

const [host, port, prefix, name, mode] = process.argv.slice(2);
const connection = { host, port: Number(port), maxRetriesPerRequest: null };
const keep = { removeOnComplete: 1000, removeOnFail: 1000 };

const queue = new Queue(name, { connection, prefix });
const totals = { added: 0, completed: 0, failed: 0 };
let waiting = null; // resolves when the batch's last job has finished for good

const worker = new Worker(name, async (job) => {
  if (job.data.fail === 'always' || (job.data.fail === 'once' && job.attemptsMade === 0)) {
    throw new Error(`planned failure of job ${job.id}`);
  }
}, { connection, prefix, concurrency: 20, ...(mode === 'metrics' ? { metrics: { maxDataPoints: 60 } } : {}) });

function finished() {
  if (waiting && totals.completed + totals.failed === totals.added) waiting();
}
worker.on('completed', () => { totals.completed += 1; finished(); });
worker.on('failed', (job) => {
  // 'failed' comes for every failed attempt; only the last one finishes the job.
  if (job && job.attemptsMade >= job.opts.attempts) { totals.failed += 1; finished(); }
});
worker.on('error', (error) => { console.error(error); process.exit(1); });

async function batch(jobs, failAlways, failOnce) {
  const done = new Promise((resolve) => { waiting = resolve; });
  const specs = Array.from({ length: jobs }, (_, i) => {
    const fail = i < failAlways ? 'always' : i < failAlways + failOnce ? 'once' : null;
    return { name: 'work', data: { fail }, opts: { ...keep, attempts: fail === 'once' ? 2 : 1 } };
  });
  await queue.addBulk(specs);
  totals.added += jobs;
  finished();
  await done;
  waiting = null;
  const [completed, failed, counts] = await Promise.all([
    queue.getMetrics('completed', 0, 0), queue.getMetrics('failed', 0, 0),
    queue.getJobCounts('completed', 'failed')]);
  return { ...totals, metricsCompleted: completed.meta.count, metricsFailed: failed.meta.count,
           completedSet: counts.completed, failedSet: counts.failed };
}

async function main() {
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (!line.trim()) continue;
    const [jobs, failAlways, failOnce] = line.trim().split(/\s+/).map(Number);
    process.stdout.write(JSON.stringify(await batch(jobs, failAlways, failOnce)) + '\n');
  }
  await worker.close();
  await queue.close();
}

main().catch((error) => { console.error(error); process.exit(1); });
