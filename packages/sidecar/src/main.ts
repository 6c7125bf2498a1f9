#!/usr/bin/env node
/** `sam-backup-sidecar`: the HTTP API and the worker, configured from the environment. */
import { createApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { startJobs } from './jobs.js';
import { createLogger } from './log.js';

const log = createLogger();
let cfg: ReturnType<typeof loadConfig>;
try {
  cfg = loadConfig();
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`sam-backup-sidecar: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}
const jobs = startJobs(cfg, log, { worker: process.env.SAM_SIDECAR_WORKER !== '0' });
const app = createApp(cfg, jobs, log);
const server = app.listen(cfg.SAM_SIDECAR_PORT, cfg.SAM_SIDECAR_HOST, () => {
  const a = server.address();
  log.info({ address: typeof a === 'object' && a ? `${a.address}:${a.port}` : a }, 'listening');
});
const stop = async () => {
  log.info('stopping');
  server.close();
  await jobs.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
