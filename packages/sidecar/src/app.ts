/**
 * The HTTP API (express 5). Every route needs the token; bull-board at /admin/queues also accepts
 * HTTP Basic with the token as the password (a browser cannot send a bearer token by itself).
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Job } from 'bullmq';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { ZodError, z } from 'zod';
import { requireToken } from './auth.js';
import { bundlePath, deleteBundle, listBundles, NotFoundError } from './bundles.js';
import type { SidecarConfig } from './config.js';
import { addJob, cancelKey, describeJob, type JobData, JobRequest, type JobSystem } from './jobs.js';
import { createMetrics } from './metrics.js';
import { completeUpload, putChunk, startUpload, UploadError, uploadStatus } from './uploads.js';

/**
 * bull-board's retry keeps the attempts a job already used, so a job that failed its 3 attempts
 * and is retried gets no second try. This adapter's jobs retry with a fresh set of attempts.
 */
class FreshRetryAdapter extends BullMQAdapter {
  override async getJob(id: string) {
    const job = (await super.getJob(id)) as Job | undefined;
    if (job) {
      const retry = job.retry.bind(job);
      job.retry = (state) => retry(state, { resetAttemptsMade: true, resetAttemptsStarted: true });
    }
    return job as never;
  }
}

export function createApp(cfg: SidecarConfig, jobs: JobSystem, log: Logger): Express {
  const app = express();
  app.disable('x-powered-by');
  const metrics = createMetrics(jobs.queue, cfg.SAM_BACKUP_DIR);
  jobs.worker?.on('completed', (job) =>
    metrics.finished(
      job.data.type,
      'completed',
      ((job.finishedOn ?? Date.now()) - (job.processedOn ?? Date.now())) / 1000,
      job.finishedOn ?? Date.now(),
    ),
  );
  jobs.worker?.on('failed', (job) => {
    if (job)
      metrics.finished(
        job.data.type,
        'failed',
        ((job.finishedOn ?? Date.now()) - (job.processedOn ?? Date.now())) / 1000,
        Date.now(),
      );
  });

  const board = new ExpressAdapter();
  board.setBasePath('/admin/queues');
  createBullBoard({ queues: [new FreshRetryAdapter(jobs.queue)], serverAdapter: board });
  app.use('/admin/queues', requireToken(cfg.SAM_SIDECAR_TOKEN, { basic: true }), board.getRouter());

  app.use(requireToken(cfg.SAM_SIDECAR_TOKEN));
  const json = express.json({ limit: '1mb' });

  app.get('/healthz', async (_req, res) => {
    await jobs.redis.ping();
    res.json({ ok: true });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  app.post('/jobs', json, async (req, res) => {
    const body = JobRequest.parse(req.body);
    const job = await addJob(jobs.queue, body, cfg.SAM_SIDECAR_BACKOFF_MS);
    log.info({ job: job.id, type: body.type }, 'job queued');
    res.status(201).json({ id: job.id });
  });
  app.get('/jobs', async (_req, res) => {
    const list = await jobs.queue.getJobs(['active', 'waiting', 'delayed', 'completed', 'failed'], 0, 99);
    res.json(await Promise.all(list.filter(Boolean).map((j) => describeJob(j as Job<JobData>, jobs.queue))));
  });
  const jobOr404 = async (id: string): Promise<Job<JobData>> => {
    const job = await jobs.queue.getJob(id);
    if (!job) throw new NotFoundError(`job ${id} does not exist (finished jobs are kept for the last 200)`);
    return job;
  };
  app.get('/jobs/:id', async (req, res) => {
    res.json(await describeJob(await jobOr404(req.params.id as string), jobs.queue));
  });
  app.delete('/jobs/:id', async (req, res) => {
    const job = await jobOr404(req.params.id as string);
    const state = await job.getState();
    if (state === 'waiting' || state === 'delayed' || state === 'prioritized') {
      await job.remove();
      res.json({ id: job.id, cancelled: true, state: 'removed' });
      return;
    }
    if (state !== 'active') {
      res
        .status(409)
        .json({ error: `job ${job.id} is ${state}: only a waiting or running job can be cancelled` });
      return;
    }
    if (job.data.switching) {
      res.status(409).json({
        error: `restore ${job.id} is switching stores: it can no longer be cancelled, it ends fully old or fully new`,
      });
      return;
    }
    await jobs.redis.set(cancelKey(cfg.SAM_SIDECAR_QUEUE, String(job.id)), '1', 'EX', 3600);
    res.status(202).json({ id: job.id, cancelled: true, state: 'stopping' });
  });

  app.get('/bundles', async (_req, res) => {
    res.json(await listBundles(cfg.SAM_BACKUP_DIR));
  });
  app.get('/bundles/:name', async (req, res, next) => {
    const path = await bundlePath(cfg.SAM_BACKUP_DIR, req.params.name as string);
    // sendFile answers Range requests (206) and HEAD.
    res.sendFile(path, { dotfiles: 'deny', headers: { 'Content-Type': 'application/zip' } }, (err) => {
      if (err && !res.headersSent) next(err);
    });
  });
  app.delete('/bundles/:name', async (req, res) => {
    await deleteBundle(cfg.SAM_BACKUP_DIR, req.params.name as string);
    res.status(204).end();
  });

  app.post('/uploads', json, async (req, res) => {
    const body = z.strictObject({ name: z.string(), size: z.number().int() }).parse(req.body);
    res.status(201).json({
      id: await startUpload(cfg.SAM_BACKUP_DIR, body.name, body.size, cfg.SAM_SIDECAR_MAX_UPLOAD_BYTES),
    });
  });
  app.get('/uploads/:id', async (req, res) => {
    res.json(await uploadStatus(cfg.SAM_BACKUP_DIR, req.params.id as string));
  });
  app.put('/uploads/:id/chunks/:n', async (req, res) => {
    await putChunk(
      cfg.SAM_BACKUP_DIR,
      req.params.id as string,
      Number(req.params.n),
      req.header('x-chunk-sha256'),
      req,
    );
    res.status(204).end();
  });
  app.post('/uploads/:id/complete', async (req, res) => {
    res.json(await completeUpload(cfg.SAM_BACKUP_DIR, req.params.id as string));
  });

  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof ZodError) {
      const i = err.issues[0];
      res.status(400).json({ error: `${i?.path.join('.') || 'body'}: ${i?.message}` });
    } else if (err instanceof NotFoundError) {
      res.status(404).json({ error: err.message });
    } else if (err instanceof UploadError) {
      res.status(err.status).json({ error: err.message });
    } else {
      log.error({ err: (err as Error).message }, 'request failed');
      res.status(500).json({ error: (err as Error).message });
    }
  });
  return app;
}
