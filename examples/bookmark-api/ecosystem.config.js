'use strict';

// PM2 ecosystem for bookmark-api. Everything is configured through the environment of
// `pm2 start ecosystem.config.js` (see README.md). PM2 stores this env at start time:
// after changing a variable use `pm2 delete` + `pm2 start`, or `pm2 restart ... --update-env`.

const layout = process.env.METRICS_LAYOUT || 'worker-ports';

// Pass through only what is set, so server.js applies its own defaults otherwise.
function pick(names) {
  const env = {};
  for (const name of names) {
    if (process.env[name] !== undefined) env[name] = process.env[name];
  }
  return env;
}

const apps = [
  {
    name: 'bookmark-api',
    script: 'server.js',
    cwd: __dirname,
    instances: process.env.WORKERS || 'max',
    exec_mode: 'cluster',
    max_memory_restart: '500M',
    env: {
      ...pick(['PORT', 'DATABASE_URL', 'REDIS_URL', 'METRICS_PORT_BASE', 'WORKER_LABEL']),
      METRICS_LAYOUT: layout,
    },
  },
];

if (layout === 'aggregated') {
  apps.push({
    name: 'metrics-aggregator',
    script: 'metrics-aggregator.js',
    cwd: __dirname,
    exec_mode: 'fork',
    instances: 1,
    env: {
      ...pick(['METRICS_PORT_BASE', 'PM2_HOME']),
      METRICS_LAYOUT: layout,
      PM2_APP_NAME: 'bookmark-api',
    },
  });
}

module.exports = { apps };
