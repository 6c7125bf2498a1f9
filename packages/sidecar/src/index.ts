/**
 * @sam-backup/sidecar — the HTTP service beside Odoo: jobs of the engine on a BullMQ queue
 * (export, restore, verify, dry-run), bundles, chunked uploads, metrics, bull-board.
 */
export { createApp } from './app.js';
export { ConfigError, configuredComponents, loadConfig, type SidecarConfig } from './config.js';
export {
  addJob,
  describeJob,
  type JobData,
  type JobProgress,
  JobRequest,
  type JobSystem,
  runJob,
  startJobs,
} from './jobs.js';
export { createLogger } from './log.js';
