/**
 * A stand-in for Odoo in front of the real sidecar, for the browser tests: it serves the harness
 * page and the addon's compiled static files, answers the `orm` service's JSON-RPC calls to
 * `sam.backup.job` the way models/sam_backup_job.py does (start, status, history, cancel, bundles —
 * the same dict shapes), and proxies the upload and download routes the way controllers/main.py
 * does (the chunk's SHA-256 checked, then forwarded with the token). No Odoo is packaged for these
 * machines; the Python itself is checked statically and, opt-in, in a real Odoo (odoo-real test).
 *
 * Faults for the upload tests: drop the connection on a chunk's first attempt, damage a chunk on
 * its first attempt, or hold a chunk (never answer) so the page can be reloaded mid-upload.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, extname, join, normalize, relative } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import type { JobKind, JobState, JobStatus } from '../src/lib/jobs.js';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
export const ADDON_STATIC = join(here, '..', '..', '..', 'odoo_addon', 'sam_backup', 'static');
const OWL = {
  '2.8': join(dirname(require.resolve('@odoo/owl/package.json')), 'dist', 'owl.es.js'),
  '2.2': join(dirname(require.resolve('owl-2-2/package.json')), 'dist', 'owl.es.js'),
} as const;
const BOOTSTRAP_CSS = join(
  dirname(require.resolve('bootstrap/package.json')),
  'dist',
  'css',
  'bootstrap.min.css',
);

const RUNNING = new Set(['waiting', 'active']);
const JOB_STATES: readonly JobState[] = ['waiting', 'active', 'completed', 'failed', 'cancelled'];
const SIDECAR_STATES: Record<string, string> = {
  delayed: 'waiting',
  prioritized: 'waiting',
  'waiting-children': 'waiting',
  removed: 'cancelled',
};

/** A job as the model keeps it: the UI's JobStatus (src/lib/jobs.ts) without the computed `running`. */
type JobRecord = Omit<JobStatus, 'running'>;

export interface StandInOptions {
  sidecarUrl: string;
  token: string;
  /** The chunk size the upload routes tell the browser (Odoo's is 8 MiB). */
  chunkSize?: number;
}

export interface StandIn {
  url: string;
  server: Server;
  /** Every sidecar progress change the stand-in read: for the progress-lag measurement. */
  progressLog: Array<{ job: number; phase: string; done: number; progressAt: number; readAt: number }>;
  /** Chunk PUTs received, by upload id and chunk number (every attempt). */
  chunkAttempts: Map<string, number[]>;
  /**
   * dropChunk/damageChunk/holdChunk: chunk numbers, on their first attempt. diskShort: dry-run
   * reports read from now on say the backup folder lacks the space (as the engine reports it).
   */
  faults: { dropChunk: Set<number>; damageChunk: Set<number>; holdChunk: Set<number>; diskShort: boolean };
  rpcCalls: string[];
  close(): Promise<void>;
}

class UserError extends Error {}

const odooNow = () => new Date().toISOString().slice(0, 19).replace('T', ' ');
const odooDate = (iso: unknown) =>
  typeof iso === 'string' && iso ? iso.slice(0, 19).replace('T', ' ') : (false as const);

async function body(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of req) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

function send(res: ServerResponse, status: number, data: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(data));
}

export async function startOdooStandIn(opts: StandInOptions): Promise<StandIn> {
  const chunkSize = opts.chunkSize ?? 8 * 1024 * 1024;
  const jobs = new Map<number, JobRecord>();
  let nextId = 1;
  const progressLog: StandIn['progressLog'] = [];
  const chunkAttempts = new Map<string, number[]>();
  const faults = {
    dropChunk: new Set<number>(),
    damageChunk: new Set<number>(),
    holdChunk: new Set<number>(),
    diskShort: false,
  };
  const held: ServerResponse[] = [];
  const rpcCalls: string[] = [];

  /** The sidecar client (models/sidecar.py): one sentence on failure, never the token. */
  async function sidecar(
    method: string,
    path: string,
    payload?: unknown,
    init: RequestInit = {},
  ): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(`${opts.sidecarUrl}${path}`, {
        method,
        ...init,
        headers: {
          authorization: `Bearer ${opts.token}`,
          ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
          ...((init.headers as Record<string, string>) ?? {}),
        },
        ...(payload !== undefined ? { body: JSON.stringify(payload) } : {}),
      });
    } catch (err) {
      throw new UserError(
        `The SAM AI backup service at ${opts.sidecarUrl} cannot be reached (${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message}): start the sidecar or fix its URL in Settings > SAM AI Backup.`,
      );
    }
    if (!res.ok && res.status !== 206) {
      const text = await res.text();
      let msg = text;
      try {
        msg = (JSON.parse(text) as { error?: string }).error ?? text;
      } catch {}
      const e = new UserError(`The SAM AI backup service refused ${method} ${path}: ${msg}`);
      (e as UserError & { status?: number }).status = res.status;
      throw e;
    }
    return res;
  }
  const sidecarJson = async <T>(method: string, path: string, payload?: unknown): Promise<T> =>
    (await (await sidecar(method, path, payload)).json()) as T;

  async function refresh(job: JobRecord): Promise<void> {
    const d = await sidecarJson<Record<string, unknown>>(
      'GET',
      `/jobs/${encodeURIComponent(job.sidecar_job_id)}`,
    );
    const state = SIDECAR_STATES[d.state as string] ?? (d.state as string);
    const p = (d.progress ?? {}) as { done?: number; total?: number; unit?: string; percent?: number | null };
    const done = Number(p.done ?? 0);
    const total = Number(p.total ?? 0);
    job.phase = (d.phase as string) || false;
    job.progress = Math.max(0, Math.min(100, p.percent ?? (total ? (done * 100) / total : 0)));
    job.done = done;
    job.total = total;
    job.unit = p.unit || false;
    job.rate = Number(d.ratePerSecond ?? 0);
    job.eta_ms = Math.min(Number(d.etaMs ?? 0), 2 ** 31 - 1);
    job.log = ((d.log as string[]) ?? []).slice(-200).join('\n');
    job.finished_at = odooDate(d.finishedAt);
    if (JOB_STATES.includes(state as JobState)) job.state = state as JobState;
    if (state === 'completed') job.progress = 100;
    const r = d.result as Record<string, unknown> | null;
    if (r && typeof r === 'object') {
      if (r.bundle) job.bundle_name = r.bundle as string;
      if (r.bytes !== undefined) job.bundle_size = Number(r.bytes);
      if (r.sha256) job.bundle_sha256 = r.sha256 as string;
      if (r.counts !== undefined) job.counts = r.counts as JobStatus['counts'];
      if (r.report !== undefined) job.dry_run_report = r.report as JobStatus['dry_run_report'];
      const disk = (r.report as { disk?: Array<Record<string, unknown>> } | undefined)?.disk;
      if (faults.diskShort && job.kind === 'dry-run' && disk?.[0]) {
        disk[0].freeBytes = 1024;
        disk[0].fits = false;
      }
    }
    if (d.error) job.message = String(d.error);
    const at = Number(d.progressAt ?? 0);
    const last = progressLog.findLast((e) => e.job === job.id);
    if (at && (!last || last.progressAt !== at))
      progressLog.push({
        job: job.id,
        phase: (d.phase as string) || '',
        done,
        progressAt: at,
        readAt: Date.now(),
      });
  }

  const statusDict = (j: JobRecord) => ({ ...j, running: RUNNING.has(j.state) });

  async function start(
    kind: JobKind,
    options: Record<string, unknown>,
    bundle: string | false,
  ): Promise<number> {
    const answer = await sidecarJson<{ id: string }>('POST', '/jobs', { type: kind, options });
    const id = nextId++;
    jobs.set(id, {
      id,
      sidecar_job_id: String(answer.id),
      kind,
      state: 'waiting',
      phase: false,
      progress: 0,
      done: 0,
      total: 0,
      unit: false,
      rate: 0,
      eta_ms: 0,
      log: '',
      bundle_name: bundle,
      bundle_size: 0,
      bundle_sha256: false,
      counts: null,
      dry_run_report: null,
      started_at: odooNow(),
      finished_at: false,
      requested_by: 'Mitchell Admin',
      message: false,
    });
    return id;
  }

  const methods: Record<string, (args: unknown[], kwargs: Record<string, unknown>) => Promise<unknown>> = {
    async get_history(_args, kwargs) {
      const list = [...jobs.values()].sort((a, b) => b.id - a.id).slice(0, Number(kwargs.limit ?? 20));
      let sidecar_error: string | false = false;
      try {
        for (const j of list) if (RUNNING.has(j.state)) await refresh(j);
      } catch (err) {
        sidecar_error = (err as Error).message;
      }
      return { jobs: list.map(statusDict), sidecar_error };
    },
    async get_status(args) {
      const out = [];
      for (const id of (args[0] as number[]) ?? []) {
        const j = jobs.get(id);
        if (!j) continue;
        if (RUNNING.has(j.state)) await refresh(j);
        out.push(statusDict(j));
      }
      return out;
    },
    async action_start_export() {
      return start('export', { components: ['odoo', 'graph', 'vectors'] }, false);
    },
    async action_start_restore(args, kwargs) {
      const bundle = args[0] as string;
      if (!bundle) throw new UserError('Choose the bundle to restore.');
      return start(
        kwargs.dry_run ? 'dry-run' : 'restore',
        { bundle, components: ['odoo', 'graph', 'vectors'] },
        bundle,
      );
    },
    async action_cancel(args) {
      for (const id of (args[0] as number[]) ?? []) {
        const j = jobs.get(id);
        if (!j || !RUNNING.has(j.state)) continue;
        const a = await sidecarJson<{ state?: string }>(
          'DELETE',
          `/jobs/${encodeURIComponent(j.sidecar_job_id)}`,
        );
        if (a.state === 'removed') {
          j.state = 'cancelled';
          j.message = 'Cancelled before it started.';
        } else await refresh(j);
      }
      return true;
    },
    async get_bundles() {
      return sidecarJson('GET', '/bundles');
    },
  };

  async function rpc(req: IncomingMessage, res: ServerResponse, method: string): Promise<void> {
    const payload = JSON.parse((await body(req)).toString('utf8')) as {
      id?: number;
      params: { model: string; method: string; args?: unknown[]; kwargs?: Record<string, unknown> };
    };
    rpcCalls.push(method);
    const fn = payload.params.model === 'sam.backup.job' ? methods[method] : undefined;
    try {
      if (!fn) throw new Error(`no method ${payload.params.model}.${method} in the stand-in`);
      const result = await fn(payload.params.args ?? [], payload.params.kwargs ?? {});
      send(res, 200, { jsonrpc: '2.0', id: payload.id ?? null, result });
    } catch (err) {
      // Odoo's JSON-RPC error: a UserError carries its message in data.message.
      send(res, 200, {
        jsonrpc: '2.0',
        id: payload.id ?? null,
        error: {
          code: 200,
          message: 'Odoo Server Error',
          data: {
            name: err instanceof UserError ? 'odoo.exceptions.UserError' : 'builtins.Exception',
            message: (err as Error).message,
            debug: err instanceof UserError ? '' : String((err as Error).stack),
          },
        },
      });
    }
  }

  async function controller(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const fail = (err: unknown) => {
      const status = (err as { status?: number }).status;
      send(res, status === 404 ? 404 : status && status < 500 ? 400 : err instanceof UserError ? 400 : 502, {
        error: (err as Error).message,
      });
    };
    const status = /^\/sam_backup\/upload\/([\w.-]+)$/.exec(path);
    const chunkRoute = /^\/sam_backup\/upload\/([\w.-]+)\/chunk\/(\d+)$/.exec(path);
    const complete = /^\/sam_backup\/upload\/([\w.-]+)\/complete$/.exec(path);
    const download = /^\/sam_backup\/download\/([^/]+)$/.exec(path);
    try {
      if (path === '/sam_backup/upload/start' && req.method === 'POST') {
        const data = JSON.parse((await body(req)).toString('utf8')) as { name: string; size: number };
        const a = await sidecarJson<{ id: string }>('POST', '/uploads', { name: data.name, size: data.size });
        return send(res, 200, { id: a.id, chunk_size: chunkSize });
      }
      if (status && req.method === 'GET') {
        const a = await sidecarJson<Record<string, unknown>>('GET', `/uploads/${status[1]}`);
        return send(res, 200, { ...a, chunk_size: chunkSize });
      }
      if (chunkRoute && req.method === 'PUT') {
        const id = chunkRoute[1] as string;
        const n = Number(chunkRoute[2]);
        const attempts = chunkAttempts.get(id) ?? [];
        attempts.push(n);
        chunkAttempts.set(id, attempts);
        const first = attempts.filter((x) => x === n).length === 1;
        if (first && faults.holdChunk.has(n)) {
          held.push(res);
          req.resume();
          return;
        }
        const chunk = await body(req);
        if (first && faults.dropChunk.has(n)) {
          req.socket.destroy();
          return;
        }
        if (first && faults.damageChunk.has(n) && chunk.length) chunk[0] = (chunk[0] as number) ^ 0xff;
        const digest = createHash('sha256').update(chunk).digest('hex');
        const sent = req.headers['x-chunk-sha256'];
        if (typeof sent === 'string' && sent.trim().toLowerCase() !== digest)
          throw new UserError(
            `Chunk ${n} arrived damaged (SHA-256 ${digest}, expected ${sent}): send it again.`,
          );
        await sidecar('PUT', `/uploads/${id}/chunks/${n}`, undefined, {
          body: new Uint8Array(chunk),
          headers: { 'content-type': 'application/octet-stream', 'x-chunk-sha256': digest },
        });
        return send(res, 200, { chunk: n, bytes: chunk.length, sha256: digest });
      }
      if (complete && req.method === 'POST') {
        await body(req);
        return send(res, 200, await sidecarJson('POST', `/uploads/${complete[1]}/complete`));
      }
      if (download && req.method === 'GET') {
        const name = decodeURIComponent(download[1] as string);
        const up = await sidecar('GET', `/bundles/${encodeURIComponent(name)}`, undefined, {
          headers: req.headers.range ? { range: req.headers.range } : {},
        });
        const headers: Record<string, string> = {
          'content-type': 'application/zip',
          'content-disposition': `attachment; filename="${name}"`,
          'accept-ranges': 'bytes',
          'cache-control': 'no-store',
        };
        for (const h of ['content-length', 'content-range', 'last-modified', 'etag']) {
          const v = up.headers.get(h);
          if (v) headers[h] = v;
        }
        res.writeHead(up.status, headers);
        await pipeline(Readable.fromWeb(up.body as import('node:stream/web').ReadableStream), res);
        return;
      }
      send(res, 404, { error: `no route ${req.method} ${path}` });
    } catch (err) {
      fail(err);
    }
  }

  async function staticFile(res: ServerResponse, file: string): Promise<void> {
    if (!existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    const types: Record<string, string> = {
      '.js': 'text/javascript',
      '.xml': 'text/xml',
      '.scss': 'text/css', // plain CSS written as SCSS: the harness loads it as is
      '.css': 'text/css',
      '.html': 'text/html',
    };
    res.writeHead(200, {
      'content-type': types[extname(file)] ?? 'application/octet-stream',
      'cache-control': 'no-store',
    });
    await pipeline(createReadStream(file), res);
  }

  async function addonFiles(ext: string): Promise<string[]> {
    const out: string[] = [];
    for (const e of await readdir(join(ADDON_STATIC, 'src'), { recursive: true, withFileTypes: true }))
      if (e.isFile() && e.name.endsWith(ext))
        out.push(`/sam_backup/static/${relative(ADDON_STATIC, join(e.parentPath, e.name))}`);
    return out.sort();
  }

  async function page(res: ServerResponse, owl: keyof typeof OWL): Promise<void> {
    const styles = (await addonFiles('.scss')).map((f) => `<link rel="stylesheet" href="${f}">`).join('\n');
    const templates = JSON.stringify(await addonFiles('.xml'));
    const imports = {
      '@odoo/owl': `/owl/${owl}/owl.es.js`,
      '@web/core/registry': '/harness/web/registry.js',
      '@web/core/utils/hooks': '/harness/web/hooks.js',
      '@web/core/l10n/translation': '/harness/web/translation.js',
    };
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sam_backup harness (OWL ${owl})</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/bootstrap.min.css">
${styles}
<script type="importmap">${JSON.stringify({ imports })}</script>
<script>window.odoo = { csrf_token: "harness-csrf-token" }; window.SAM_TEMPLATES = ${templates};</script>
</head><body>
<div class="container py-4" style="max-width: 70rem">
  <h2 class="h4">Settings › SAM AI Backup</h2>
  <p class="text-muted small">Harness: the compiled components of odoo_addon/sam_backup, OWL ${owl}, in front of a real sidecar.</p>
  <div id="mount" class="border rounded p-3"></div>
  <div id="notifications" class="mt-3"></div>
</div>
<script type="module" src="/harness/main.js"></script>
</body></html>`);
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    const run = async () => {
      if (path === '/') return page(res, url.searchParams.get('owl') === '2.2' ? '2.2' : '2.8');
      if (path === '/bootstrap.min.css') return staticFile(res, BOOTSTRAP_CSS);
      const owl = /^\/owl\/(2\.2|2\.8)\/owl\.es\.js$/.exec(path);
      if (owl) return staticFile(res, OWL[owl[1] as keyof typeof OWL]);
      if (path.startsWith('/harness/'))
        return staticFile(
          res,
          join(here, 'harness', normalize(path.slice('/harness/'.length)).replace(/^(\.\.[/\\])+/, '')),
        );
      if (path.startsWith('/sam_backup/static/'))
        return staticFile(
          res,
          join(
            ADDON_STATIC,
            normalize(path.slice('/sam_backup/static/'.length)).replace(/^(\.\.[/\\])+/, ''),
          ),
        );
      const call = /^\/web\/dataset\/call_kw\/[\w.]+\/(\w+)$/.exec(path);
      if (call && req.method === 'POST') return rpc(req, res, call[1] as string);
      if (path.startsWith('/sam_backup/')) return controller(req, res, path);
      res.writeHead(404).end();
    };
    run().catch((err) => {
      if (!res.headersSent) send(res, 500, { error: (err as Error).message });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    progressLog,
    chunkAttempts,
    faults,
    rpcCalls,
    async close() {
      for (const r of held) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
