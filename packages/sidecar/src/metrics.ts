/** `/metrics` in Prometheus' text format (prom-client): jobs by state, job durations, last successful export, bundles. */
import type { Queue } from 'bullmq';
import { Gauge, Histogram, Registry } from 'prom-client';
import { listBundles } from './bundles.js';
import type { JobData } from './jobs.js';

export function createMetrics(queue: Queue<JobData>, backupDir: string) {
  const registry = new Registry();
  const jobs = new Gauge({
    name: 'sam_backup_jobs',
    help: 'Jobs in the queue by state',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const counts = await queue.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed');
      for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
    },
  });
  const duration = new Histogram({
    name: 'sam_backup_job_duration_seconds',
    help: 'How long finished jobs ran, by type and outcome',
    labelNames: ['type', 'outcome'],
    buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
    registers: [registry],
  });
  const lastExport = new Gauge({
    name: 'sam_backup_last_successful_export_timestamp_seconds',
    help: 'When the last export that succeeded finished (Unix time)',
    registers: [registry],
  });
  new Gauge({
    name: 'sam_backup_bundle_bytes',
    help: 'Size of each bundle in the backup folder',
    labelNames: ['bundle'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const b of await listBundles(backupDir)) this.set({ bundle: b.name }, b.size);
    },
  });
  return {
    registry,
    jobs,
    finished(type: string, outcome: 'completed' | 'failed', seconds: number, at: number) {
      duration.observe({ type, outcome }, seconds);
      if (type === 'export' && outcome === 'completed') lastExport.set(Math.floor(at / 1000));
    },
  };
}
