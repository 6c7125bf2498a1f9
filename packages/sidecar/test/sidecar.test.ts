/**
 * The sidecar against the real Redis, PostgreSQL and Chroma: an export through the API with its
 * progress (at least one update a second), the bundle downloaded (with a Range request) and
 * verified by a job; a chunked upload with a damaged chunk refused, then resumed; cancel; a job
 * that fails (its database missing), is fixed, and is retried through bull-board's own API route
 * with a fresh set of attempts; a worker killed mid-export whose job another worker finishes;
 * no token → 401 everywhere.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { verifyBundle } from '@sam-backup/bundle';
import { createFixture, createVectorFixture, dropFixture } from '@sam-backup/fixtures';
import { type Job, Queue } from 'bullmq';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createApp,
  createLogger,
  describeJob,
  type JobData,
  type JobSystem,
  loadConfig,
  type SidecarConfig,
  startJobs,
} from '../src/index.js';

const PG = process.env.SAM_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:55432/postgres';
const REDIS = process.env.SAM_TEST_REDIS_URL ?? 'redis://127.0.0.1:56379';
const TOKEN = randomBytes(24).toString('hex');
const tag = randomBytes(3).toString('hex');
const odooDb = `sidecar_odoo_${tag}`;
const lateDb = `sidecar_late_${tag}`;
const urlOf = (db: string) => {
  const u = new URL(PG);
  u.pathname = `/${db}`;
  return u.toString();
};

let root = '';
let cfg: SidecarConfig;
let jobs: JobSystem;
let server: Server;
let base = '';
const log = createLogger('silent');

async function sql(url: string, text: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(text);
  } finally {
    await c.end();
  }
}

const api = (path: string, init: RequestInit = {}, token: string | null = TOKEN) =>
  fetch(`${base}${path}`, {
    ...init,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(init.body && typeof init.body === 'string' ? { 'content-type': 'application/json' } : {}),
      ...(init.headers ?? {}),
    },
  });

interface JobView {
  id: string;
  state: string;
  phase: string | null;
  progress: { done: number; total: number; percent: number | null } | null;
  progressAt: number | null;
  attemptsMade: number;
  result: Record<string, unknown> | null;
  error: string | null;
  log: string[];
}

/** Polls a job until it ends; returns every distinct view seen. */
async function follow(id: string, timeoutMs = 180_000): Promise<JobView[]> {
  const seen: JobView[] = [];
  const end = Date.now() + timeoutMs;
  for (;;) {
    const j = (await (await api(`/jobs/${id}`)).json()) as JobView;
    if (seen.at(-1)?.progressAt !== j.progressAt || seen.at(-1)?.state !== j.state) seen.push(j);
    if (j.state === 'completed' || j.state === 'failed' || j.state === 'cancelled') return seen;
    if (Date.now() > end) throw new Error(`job ${id} did not finish: ${JSON.stringify(j)}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

async function startJob(body: unknown): Promise<string> {
  const res = await api('/jobs', { method: 'POST', body: JSON.stringify(body) });
  expect(res.status, await res.clone().text()).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'sam-sidecar-'));
  await createFixture({
    adminUrl: PG,
    database: odooDb,
    filestoreDir: join(root, 'filestore'),
    scale: 0.2,
    seed: 5,
  });
  await createVectorFixture({ path: join(root, 'chroma_data'), scale: 0.2 });
  cfg = loadConfig({
    SAM_SIDECAR_TOKEN: TOKEN,
    SAM_SIDECAR_REDIS_URL: REDIS,
    SAM_SIDECAR_QUEUE: `sam-backup-test-${tag}`,
    SAM_SIDECAR_BACKOFF_MS: '200',
    SAM_SIDECAR_LOCK_MS: '4000',
    SAM_BACKUP_DIR: join(root, 'backups'),
    SAM_ODOO_DB_URL: urlOf(odooDb),
    SAM_ODOO_FILESTORE: join(root, 'filestore'),
    SAM_CHROMA_PATH: join(root, 'chroma_data'),
  });
  jobs = startJobs(cfg, log);
  const app = createApp(cfg, jobs, log);
  await new Promise<void>((resolve) => {
    server = app.listen(0, '127.0.0.1', () => resolve());
  });
  const a = server.address() as { port: number };
  base = `http://127.0.0.1:${a.port}`;
}, 300_000);

afterAll(async () => {
  server?.close();
  await jobs?.close(true);
  await jobs?.queue.obliterate({ force: true }).catch(() => undefined);
  await dropFixture({ adminUrl: PG, database: odooDb, filestoreDir: join(root, 'filestore') }).catch(
    () => undefined,
  );
  await sql(PG, `DROP DATABASE IF EXISTS ${lateDb} WITH (FORCE)`).catch(() => undefined);
  if (root) await rm(root, { recursive: true, force: true });
});

describe('sidecar API', () => {
  it('answers 401 without the token, on every route and on the dashboard', async () => {
    for (const path of ['/healthz', '/metrics', '/jobs', '/bundles', '/uploads/x']) {
      expect((await api(path, {}, null)).status, path).toBe(401);
      expect((await api(path, {}, 'wrong-token-wrong-token')).status, path).toBe(401);
    }
    expect((await api('/jobs', { method: 'POST', body: '{"type":"export"}' }, null)).status).toBe(401);
    expect((await fetch(`${base}/admin/queues`)).status).toBe(401);
    const basic = Buffer.from(`admin:${TOKEN}`).toString('base64');
    expect(
      (await fetch(`${base}/admin/queues`, { headers: { authorization: `Basic ${basic}` } })).status,
    ).toBe(200);
    expect((await api('/healthz')).status).toBe(200);
    expect((await api('/jobs', { method: 'POST', body: '{"type":"backup"}' })).status).toBe(400);
  });

  let bundle = '';
  let bytes: Buffer;

  it('exports through the API: progress at least once a second, the bundle listed, downloadable (Range too) and verified', async () => {
    const id = await startJob({ type: 'export' });
    const seen = await follow(id);
    const last = seen.at(-1) as JobView;
    expect(last.state, last.error ?? '').toBe('completed');
    // Progress: updates while active never more than ~1 s apart; done never goes back within a phase.
    const active = seen.filter((v) => v.state === 'active' && v.progressAt !== null);
    expect(active.length).toBeGreaterThan(3);
    for (let i = 1; i < active.length; i++) {
      const a = active[i - 1] as JobView;
      const b = active[i] as JobView;
      expect((b.progressAt as number) - (a.progressAt as number)).toBeLessThan(1_600);
      if (a.phase === b.phase) expect(b.progress?.done ?? 0).toBeGreaterThanOrEqual(a.progress?.done ?? 0);
    }
    expect(last.log.join('\n')).toMatch(/odoo export/);
    bundle = last.result?.bundle as string;
    expect(last.result?.counts).toMatchObject({ vectors: { collections: 3, records: 480 } });

    const list = (await (await api('/bundles')).json()) as Array<{
      name: string;
      sha256: string;
      components: string[];
    }>;
    const entry = list.find((b) => b.name === bundle);
    expect(entry?.components.sort()).toEqual(['odoo', 'vectors']);
    const res = await api(`/bundles/${bundle}`);
    expect(res.status).toBe(200);
    bytes = Buffer.from(await res.arrayBuffer());
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(entry?.sha256);
    const part = await api(`/bundles/${bundle}`, { headers: { range: 'bytes=100-199' } });
    expect(part.status).toBe(206);
    expect(Buffer.from(await part.arrayBuffer())).toEqual(bytes.subarray(100, 200));
    expect((await api('/bundles/..%2Fetc%2Fpasswd')).status).toBe(404);

    const v = await follow(await startJob({ type: 'verify', options: { bundle } }));
    expect(v.at(-1)?.state).toBe('completed');
    expect(v.at(-1)?.result).toMatchObject({ ok: true });

    const metrics = await (await api('/metrics')).text();
    expect(metrics).toMatch(/sam_backup_jobs\{state="completed"\} [1-9]/);
    expect(metrics).toMatch(/sam_backup_last_successful_export_timestamp_seconds [1-9]/);
    expect(metrics).toContain(`sam_backup_bundle_bytes{bundle="${bundle}"} ${bytes.length}`);
  }, 240_000);

  it('takes a chunked upload: a damaged chunk is refused, resent, and the completed bundle verified', async () => {
    const size = bytes.length;
    const start = await api('/uploads', {
      method: 'POST',
      body: JSON.stringify({ name: 'uploaded_copy.zip', size }),
    });
    expect(start.status).toBe(201);
    const { id } = (await start.json()) as { id: string };
    const chunk = 256 * 1024;
    const parts: Buffer[] = [];
    for (let o = 0; o < size; o += chunk) parts.push(bytes.subarray(o, Math.min(size, o + chunk)));
    const put = (n: number, body: Buffer, sha = createHash('sha256').update(body).digest('hex')) =>
      api(`/uploads/${id}/chunks/${n}`, { method: 'PUT', body, headers: { 'x-chunk-sha256': sha } });
    expect((await put(0, parts[0] as Buffer)).status).toBe(204);
    // Chunk 1 damaged in transit: refused, not kept.
    const damaged = Buffer.from(parts[1] as Buffer);
    damaged[10] = (damaged[10] as number) ^ 0xff;
    const bad = await put(
      1,
      damaged,
      createHash('sha256')
        .update(parts[1] as Buffer)
        .digest('hex'),
    );
    expect(bad.status).toBe(422);
    expect(((await bad.json()) as { error: string }).error).toMatch(
      /chunk 1 arrived damaged .* send it again/,
    );
    // Completing early says what is missing; the status says what arrived (resume from there).
    expect((await api(`/uploads/${id}/complete`, { method: 'POST' })).status).toBe(409);
    expect(((await (await api(`/uploads/${id}`)).json()) as { chunks: number[] }).chunks).toEqual([0]);
    for (let n = 1; n < parts.length; n++) expect((await put(n, parts[n] as Buffer)).status).toBe(204);
    const done = await api(`/uploads/${id}/complete`, { method: 'POST' });
    expect(done.status, await done.clone().text()).toBe(200);
    expect(await done.json()).toMatchObject({
      bundle: 'uploaded_copy.zip',
      sha256: createHash('sha256').update(bytes).digest('hex'),
    });
    const names = ((await (await api('/bundles')).json()) as Array<{ name: string }>).map((b) => b.name);
    expect(names).toContain('uploaded_copy.zip');
    expect(existsSync(join(root, 'backups', '.uploads', id))).toBe(false);
  }, 60_000);

  it('describes a job read while running and finished since with its result, never "completed" without one', async () => {
    const id = await startJob({ type: 'export', options: { components: ['odoo'] } });
    let stale: Job<JobData> | undefined;
    for (const end = Date.now() + 60_000; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) {
      stale = (await jobs.queue.getJob(id)) as Job<JobData> | undefined;
      if (stale?.processedOn) break;
    }
    expect(stale?.processedOn, 'the export started').toBeTruthy();
    expect(stale?.finishedOn).toBeFalsy();
    await follow(id);
    // The job object is the one read while it ran; its state now says completed.
    const view = (await describeJob(stale as Job<JobData>, jobs.queue)) as {
      state: string;
      result: { bundle?: string };
    };
    expect(view.state).toBe('completed');
    expect(view.result?.bundle).toMatch(/\.zip$/);
  });

  it('cancels a running export: it stops, and no bundle is left of it', async () => {
    const before = (await readdir(join(root, 'backups'))).filter((n) => n.endsWith('.zip')).sort();
    const id = await startJob({ type: 'export' });
    for (;;) {
      const j = (await (await api(`/jobs/${id}`)).json()) as JobView;
      if (j.state === 'active') break;
      if (j.state !== 'waiting') throw new Error(`the export ended before it could be cancelled: ${j.state}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const del = await api(`/jobs/${id}`, { method: 'DELETE' });
    expect(del.status).toBe(202);
    const last = (await follow(id)).at(-1) as JobView;
    expect(last.state).toBe('cancelled');
    expect(last.attemptsMade).toBe(1);
    const after = (await readdir(join(root, 'backups'))).filter((n) => n.endsWith('.zip')).sort();
    expect(after).toEqual(before);
  }, 120_000);
});

describe('sidecar: a failed job fixed and retried from bull-board', () => {
  it('fails while its database is missing, then succeeds when retried through bull-board with fresh attempts', async () => {
    // A second sidecar for an installation whose graph database does not exist yet.
    const cfg2 = loadConfig({
      SAM_SIDECAR_TOKEN: TOKEN,
      SAM_SIDECAR_REDIS_URL: REDIS,
      SAM_SIDECAR_QUEUE: `sam-backup-test-late-${tag}`,
      SAM_SIDECAR_BACKOFF_MS: '100',
      SAM_BACKUP_DIR: join(root, 'backups-late'),
      SAM_GRAPH_DB_URL: urlOf(lateDb),
    });
    const jobs2 = startJobs(cfg2, log);
    const app2 = createApp(cfg2, jobs2, log);
    const srv = await new Promise<Server>((resolve) => {
      const s = app2.listen(0, '127.0.0.1', () => resolve(s));
    });
    const b2 = `http://127.0.0.1:${(srv.address() as { port: number }).port}`;
    const auth = { authorization: `Bearer ${TOKEN}` };
    try {
      const res = await fetch(`${b2}/jobs`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: '{"type":"export"}',
      });
      const { id } = (await res.json()) as { id: string };
      let j: JobView;
      for (;;) {
        j = (await (await fetch(`${b2}/jobs/${id}`, { headers: auth })).json()) as JobView;
        if (j.state === 'failed') break;
        await new Promise((r) => setTimeout(r, 150));
      }
      expect(j.attemptsMade).toBe(3);
      expect(j.error).toMatch(new RegExp(`${lateDb}.*cannot be reached`));
      // The fix: the database now exists.
      await sql(PG, `CREATE DATABASE ${lateDb}`);
      await sql(
        urlOf(lateDb),
        "CREATE TABLE facts (id serial PRIMARY KEY, t text); INSERT INTO facts (t) VALUES ('x')",
      );
      const retry = await fetch(`${b2}/admin/queues/api/queues/${cfg2.SAM_SIDECAR_QUEUE}/${id}/retry`, {
        method: 'PUT',
        headers: auth,
      });
      expect(retry.status).toBe(204);
      for (;;) {
        j = (await (await fetch(`${b2}/jobs/${id}`, { headers: auth })).json()) as JobView;
        if (j.state === 'completed' || j.state === 'failed') break;
        await new Promise((r) => setTimeout(r, 150));
      }
      expect(j.state, j.error ?? '').toBe('completed');
      // A fresh set of attempts: this run was the first of the new set.
      expect(j.attemptsMade).toBe(1);
    } finally {
      srv.close();
      await jobs2.close(true);
    }
  }, 120_000);
});

describe('sidecar: a worker killed mid-export', () => {
  const here = dirname(fileURLToPath(import.meta.url));
  const main = join(here, '..', 'dist', 'main.js');

  it('the job is picked up again after its lock lapses and ends with a complete, verified bundle', async () => {
    if (!existsSync(main)) throw new Error(`${main} is missing: run \`pnpm build\` first`);
    const queueName = `sam-backup-test-kill-${tag}`;
    const env = {
      ...process.env,
      SAM_SIDECAR_TOKEN: TOKEN,
      SAM_SIDECAR_REDIS_URL: REDIS,
      SAM_SIDECAR_QUEUE: queueName,
      SAM_SIDECAR_LOCK_MS: '3000',
      SAM_SIDECAR_PORT: '0',
      SAM_SIDECAR_LOG_LEVEL: 'silent',
      SAM_BACKUP_DIR: join(root, 'backups-kill'),
      SAM_ODOO_DB_URL: urlOf(odooDb),
      SAM_ODOO_FILESTORE: join(root, 'filestore'),
      SAM_CHROMA_PATH: join(root, 'chroma_data'),
    };
    const worker = () => spawn(process.execPath, [main], { env, stdio: 'ignore' });
    const queue = new Queue(queueName, { connection: { url: REDIS } });
    const first = worker();
    let second: ReturnType<typeof worker> | null = null;
    try {
      const job = await queue.add('export', { type: 'export', options: {} }, { attempts: 3 });
      for (;;) {
        const p = (await queue.getJob(job.id as string))?.progress as { component?: string } | undefined;
        if (p && typeof p === 'object' && p.component === 'odoo') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      first.kill('SIGKILL');
      second = worker();
      let state = '';
      const end = Date.now() + 120_000;
      while (Date.now() < end) {
        state = (await (await queue.getJob(job.id as string))?.getState()) ?? 'missing';
        if (state === 'completed' || state === 'failed') break;
        await new Promise((r) => setTimeout(r, 250));
      }
      const done = await queue.getJob(job.id as string);
      expect(state, done?.failedReason).toBe('completed');
      const name = (done?.returnvalue as { bundle: string } | undefined)?.bundle as string;
      expect((await verifyBundle(join(root, 'backups-kill', name))).ok).toBe(true);
      // Only the finished bundle is there: the killed run left nothing that looks like one.
      expect((await readdir(join(root, 'backups-kill'))).filter((n) => n.endsWith('.zip'))).toEqual([name]);
    } finally {
      first.kill('SIGKILL');
      second?.kill('SIGTERM');
      await queue.obliterate({ force: true }).catch(() => undefined);
      await queue.close();
    }
  }, 180_000);
});
