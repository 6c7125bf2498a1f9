/**
 * The job queue: one BullMQ queue per installation and one worker with concurrency 1, so an
 * export never races a restore of the same installation. Exports are retried (3 attempts,
 * exponential backoff); a restore is never retried automatically.
 *
 * Stalled jobs (the worker died; BullMQ re-runs a job whose lock lapsed — the lock is long, ≥ 60 s,
 * and the event loop is never blocked):
 * - an export restarts cleanly: its unfinished bundle was only ever a temporary file;
 * - a restore resumes only from a state known to be safe. Every restore first runs the engine's
 *   recovery (the switch journal): the installation is then fully old or fully new. A restore that
 *   had started switching (`data.switching`, recorded when its journal was written) is therefore
 *   NOT run again: the re-run only recovers and reports what recovery found. One that had not is
 *   simply run again from the start — nothing live had changed.
 *
 * Progress goes to `job.updateProgress` on every phase change and at least once a second.
 * Cancel: a waiting job is removed; a running one sees the request within a second and stops with
 * `UnrecoverableError` (an export removes its partial file; a restore only before it switches).
 */
import { join } from 'node:path';
import { verifyBundle } from '@sam-backup/bundle';
import {
  COMPONENTS,
  type Component,
  type EngineProgress,
  type ExportInstallationOptions,
  exportInstallation,
  recoverSwitch,
  restoreInstallation,
  verifyProgress,
} from '@sam-backup/engine';
import { type Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { z } from 'zod';
import { bundlePath, enforceRetention } from './bundles.js';
import { configuredComponents, type SidecarConfig } from './config.js';

export const JOB_TYPES = ['export', 'restore', 'verify', 'dry-run'] as const;
export type JobType = (typeof JOB_TYPES)[number];

export const JobRequest = z.strictObject({
  type: z.enum(JOB_TYPES),
  options: z
    .strictObject({
      components: z.array(z.enum(COMPONENTS)).min(1).optional(),
      bundle: z.string().min(1).optional(),
      modules: z.array(z.string().min(1)).optional(),
      safetyBackup: z.boolean().optional(),
    })
    .default({}),
});
export type JobRequest = z.infer<typeof JobRequest>;

export interface JobData extends JobRequest {
  /** Set once a restore has written its switch journal (see above). */
  switching?: boolean;
}

export interface JobProgress {
  phase: string;
  component: string;
  item?: string;
  done: number;
  total: number;
  unit: 'items' | 'bytes';
  percent: number | null;
  ratePerSecond: number;
  etaMs: number | null;
  log: string[];
  at: number;
}

const TOOL = { name: 'sam-backup-sidecar', version: '0.1.0' };

export class CancelledError extends UnrecoverableError {
  constructor(what: string) {
    super(`cancelled: ${what}`);
    this.name = 'CancelledError';
  }
}

export function cancelKey(queue: string, id: string): string {
  return `${queue}:cancel:${id}`;
}

interface Stores {
  odoo?: { databaseUrl: string; filestoreDir: string; modules?: string[] };
  graph?: { databaseUrl: string };
  vectors?: NonNullable<ExportInstallationOptions['vectors']>;
}

function settings(cfg: SidecarConfig): Stores {
  return {
    ...(cfg.SAM_ODOO_DB_URL
      ? {
          odoo: {
            databaseUrl: cfg.SAM_ODOO_DB_URL,
            filestoreDir: cfg.SAM_ODOO_FILESTORE as string,
            ...(cfg.SAM_ODOO_MODULES
              ? { modules: cfg.SAM_ODOO_MODULES.split(',').map((s) => s.trim()) }
              : {}),
          },
        }
      : {}),
    ...(cfg.SAM_GRAPH_DB_URL ? { graph: { databaseUrl: cfg.SAM_GRAPH_DB_URL } } : {}),
    ...(cfg.SAM_CHROMA_URL
      ? {
          vectors: {
            settings: {
              mode: 'server' as const,
              url: cfg.SAM_CHROMA_URL,
              ...(cfg.SAM_CHROMA_TOKEN ? { token: cfg.SAM_CHROMA_TOKEN } : {}),
            },
          },
        }
      : cfg.SAM_CHROMA_PATH
        ? { vectors: { settings: { mode: 'directory' as const, path: cfg.SAM_CHROMA_PATH } } }
        : {}),
  };
}

/** Tracks the engine's progress for one job and publishes it (phase changes at once, else every second). */
class ProgressPump {
  private state: JobProgress = {
    phase: 'waiting for the worker',
    component: 'job',
    done: 0,
    total: 0,
    unit: 'items',
    percent: null,
    ratePerSecond: 0,
    etaMs: null,
    log: [],
    at: Date.now(),
  };
  private phaseStarted = Date.now();
  private timer: NodeJS.Timeout;
  private cancelRequested = false;
  private publishing: Promise<void> = Promise.resolve();

  constructor(
    private readonly job: Job,
    private readonly redis: Redis,
    private readonly key: string,
  ) {
    this.timer = setInterval(() => {
      this.publish();
      void this.redis.exists(this.key).then(
        (n) => {
          if (n > 0) this.cancelRequested = true;
        },
        () => undefined,
      );
    }, 1000);
  }

  get cancelled(): boolean {
    return this.cancelRequested;
  }

  note(line: string): void {
    this.state.log = [...this.state.log, `${new Date().toISOString()} ${line}`].slice(-20);
  }

  update(p: EngineProgress): void {
    const phase = `${p.component} ${p.phase}`;
    const changed = phase !== `${this.state.component} ${this.state.phase}`;
    const now = Date.now();
    if (changed) {
      this.phaseStarted = now;
      this.note(`${phase}${p.item ? ` (${p.item})` : ''}`);
    }
    const elapsed = (now - this.phaseStarted) / 1000;
    const rate = elapsed > 0 ? p.done / elapsed : 0;
    this.state = {
      ...this.state,
      phase: p.phase,
      component: p.component,
      ...(p.item === undefined ? { item: undefined } : { item: p.item }),
      done: p.done,
      total: p.total,
      unit: p.unit,
      percent: p.total > 0 ? Math.min(100, Math.round((p.done / p.total) * 1000) / 10) : null,
      ratePerSecond: Math.round(rate),
      etaMs: rate > 0 && p.total > p.done ? Math.round(((p.total - p.done) / rate) * 1000) : null,
      at: now,
    };
    if (changed) this.publish();
  }

  publish(): void {
    const snapshot = { ...this.state, at: Date.now() };
    this.publishing = this.publishing
      .then(() => this.job.updateProgress(snapshot as unknown as object))
      .catch(() => undefined);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.publish();
    await this.publishing;
  }
}

function componentsFor(cfg: SidecarConfig, asked?: Component[]): Component[] {
  const have = configuredComponents(cfg);
  const want = asked ?? have;
  const missing = want.filter((c) => !have.includes(c));
  if (missing.length > 0) {
    throw new UnrecoverableError(
      `${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not configured in the sidecar (SAM_ODOO_DB_URL, SAM_GRAPH_DB_URL, SAM_CHROMA_PATH or SAM_CHROMA_URL)`,
    );
  }
  if (want.length === 0)
    throw new UnrecoverableError('no store is configured in the sidecar: nothing to back up');
  return want;
}

export async function runJob(
  job: Job<JobData>,
  cfg: SidecarConfig,
  redis: Redis,
  log: Logger,
): Promise<unknown> {
  const pump = new ProgressPump(job, redis, cancelKey(cfg.SAM_SIDECAR_QUEUE, String(job.id)));
  const data = job.data;
  log.info({ job: job.id, type: data.type, attempt: job.attemptsMade + 1 }, 'job started');
  const onProgress = (p: EngineProgress) => {
    if (pump.cancelled && !data.switching)
      throw new CancelledError(`${data.type} stopped at ${p.component} ${p.phase}`);
    pump.update(p);
  };
  try {
    if (data.type === 'export') {
      const stores = settings(cfg);
      if (stores.odoo && data.options.modules)
        stores.odoo = { ...stores.odoo, modules: data.options.modules };
      const r = await exportInstallation({
        components: componentsFor(cfg, data.options.components),
        backupDir: cfg.SAM_BACKUP_DIR,
        tool: TOOL,
        ...stores,
        onProgress,
      });
      pump.note(`bundle ${r.bundle.path} written, ${r.bundle.size} bytes`);
      const removed = await enforceRetention(
        cfg.SAM_BACKUP_DIR,
        cfg.SAM_SIDECAR_KEEP_BUNDLES,
        cfg.SAM_SIDECAR_KEEP_DAYS,
      );
      for (const name of removed) pump.note(`retention: removed ${name}`);
      return {
        bundle: r.bundle.path.split('/').pop(),
        bytes: r.bundle.size,
        sha256: r.bundle.sha256,
        counts: Object.fromEntries(
          Object.entries(r.bundle.metadata.components).map(([k, c]) => [k, c.counts]),
        ),
        cut: r.cut,
        durationMs: r.durationMs,
      };
    }
    const name = data.options.bundle;
    if (!name)
      throw new UnrecoverableError(
        `a ${data.type} job needs options.bundle (a bundle name from GET /bundles)`,
      );
    const path = await bundlePath(cfg.SAM_BACKUP_DIR, name);
    if (data.type === 'verify') {
      const r = await verifyBundle(path, { onProgress: verifyProgress(onProgress) });
      if (!r.ok)
        throw new UnrecoverableError(
          `bundle ${name} does not verify: ${r.problems.map((p) => `[${p.code}] ${p.message}`).join('; ')}`,
        );
      return { ok: true, entries: r.entriesChecked, bytes: r.bytesChecked };
    }
    if (data.type === 'restore' && data.switching) {
      // This restore had started switching when its worker died: never run it again; finish it.
      const stores = settings(cfg);
      const recovery = await recoverSwitch(cfg.SAM_BACKUP_DIR, {
        ...(stores.odoo
          ? { odooDatabaseUrl: stores.odoo.databaseUrl, odooFilestore: stores.odoo.filestoreDir }
          : {}),
        ...(stores.graph ? { graphDatabaseUrl: stores.graph.databaseUrl } : {}),
        ...(stores.vectors ? { vectors: stores.vectors.settings } : {}),
      });
      throw new UnrecoverableError(
        `the worker running this restore stopped while switching; recovery ${recovery.found ? (recovery.outcome === 'kept-new' ? 'found it committed: the restored data stays' : 'put the installation back as it was') : 'found nothing to do'} — start a new restore if needed`,
      );
    }
    const report = await restoreInstallation({
      bundlePath: path,
      components: componentsFor(cfg, data.options.components),
      dryRun: data.type === 'dry-run',
      ...settings(cfg),
      stateDir: cfg.SAM_BACKUP_DIR,
      // A dry run makes no safety export; given the setting, its report says the disk one needs.
      ...(data.options.safetyBackup !== false
        ? { safety: { dir: join(cfg.SAM_BACKUP_DIR, 'safety'), tool: TOOL } }
        : {}),
      onProgress,
      onStage: (stage) => {
        if (stage === 'journal written') {
          data.switching = true;
          void job.updateData({ ...data, switching: true }).catch(() => undefined);
          pump.note('switching (cannot be cancelled from here on)');
        }
      },
    });
    return { report };
  } catch (err) {
    // The engine wraps what the progress callback threw: a cancel must still end the job, not retry it.
    const cancelled = pump.cancelled && !data.switching;
    pump.note(cancelled ? 'cancelled' : `failed: ${(err as Error).message}`);
    log.warn(
      { job: job.id, type: data.type, err: (err as Error).message },
      cancelled ? 'job cancelled' : 'job failed',
    );
    if (cancelled && !(err instanceof CancelledError))
      throw new CancelledError(`${data.type}: ${(err as Error).message}`);
    throw err;
  } finally {
    await pump.stop();
    await redis.del(cancelKey(cfg.SAM_SIDECAR_QUEUE, String(job.id))).catch(() => undefined);
  }
}

export interface JobSystem {
  queue: Queue<JobData>;
  worker: Worker<JobData> | null;
  redis: Redis;
  /** Stops the worker (waiting for its job, unless `force`) and the connections. */
  close(force?: boolean): Promise<void>;
}

/** The queue (and, unless `worker: false`, the worker). */
export function startJobs(cfg: SidecarConfig, log: Logger, opts: { worker?: boolean } = {}): JobSystem {
  const connection = { url: cfg.SAM_SIDECAR_REDIS_URL, maxRetriesPerRequest: null } as const;
  const redis = new Redis(cfg.SAM_SIDECAR_REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue<JobData>(cfg.SAM_SIDECAR_QUEUE, { connection });
  const worker =
    opts.worker === false
      ? null
      : new Worker<JobData>(cfg.SAM_SIDECAR_QUEUE, (job) => runJob(job, cfg, redis, log), {
          connection,
          concurrency: 1,
          lockDuration: cfg.SAM_SIDECAR_LOCK_MS,
          stalledInterval: Math.max(1000, Math.floor(cfg.SAM_SIDECAR_LOCK_MS / 2)),
          maxStalledCount: 1,
        });
  worker?.on('error', (err) => log.error({ err: err.message }, 'worker error'));
  return {
    queue,
    worker,
    redis,
    async close(force = false) {
      await worker?.close(force);
      if (force) await queue.obliterate({ force: true }).catch(() => undefined);
      await queue.close();
      redis.disconnect();
    },
  };
}

/** Adds a job with the retry policy of its type. */
export async function addJob(
  queue: Queue<JobData>,
  req: JobRequest,
  backoffMs = 5_000,
): Promise<Job<JobData>> {
  return queue.add(req.type, req, {
    attempts: req.type === 'export' ? 3 : 1,
    backoff: { type: 'exponential', delay: backoffMs },
    removeOnComplete: { count: 200 },
    removeOnFail: { count: 200 },
  });
}

/** A job as the API shows it. */
export async function describeJob(
  read: Job<JobData>,
  queue?: Queue<JobData>,
): Promise<Record<string, unknown>> {
  let job = read;
  const state = await job.getState();
  // The job was read, then its state: if it finished in between, the job as read has no result
  // yet while its state says it is done — a caller (Odoo's model) would then record a completed
  // export without its bundle, and never ask again. Read it again so the two agree.
  if ((state === 'completed' || state === 'failed') && !job.finishedOn && queue)
    job = ((await queue.getJob(String(job.id))) as Job<JobData> | undefined) ?? job;
  const progress = (typeof job.progress === 'object' ? job.progress : null) as JobProgress | null;
  return {
    id: job.id,
    type: job.data.type,
    options: job.data.options,
    state: state === 'failed' && /^cancelled/.test(job.failedReason ?? '') ? 'cancelled' : state,
    attemptsMade: job.attemptsMade,
    phase: progress ? `${progress.component} ${progress.phase}` : null,
    progress: progress
      ? {
          done: progress.done,
          total: progress.total,
          unit: progress.unit,
          percent: progress.percent,
          item: progress.item ?? null,
        }
      : null,
    ratePerSecond: progress?.ratePerSecond ?? null,
    etaMs: progress?.etaMs ?? null,
    log: progress?.log ?? [],
    progressAt: progress?.at ?? null,
    result: job.returnvalue ?? null,
    error: job.failedReason ?? null,
    createdAt: new Date(job.timestamp).toISOString(),
    startedAt: job.processedOn ? new Date(job.processedOn).toISOString() : null,
    finishedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
  };
}
