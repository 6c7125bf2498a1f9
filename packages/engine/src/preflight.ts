/**
 * Preflight: everything an export or a restore needs, checked before any work, each failure one
 * message that names the thing, the cause and the fix (exit code by kind: usage 2, failed 1).
 * Connections, tool versions (pg_dump / psql at least the server's major), the vector store
 * reachable, and free disk at least the estimated need — with the estimate and the place said.
 */
import { existsSync } from 'node:fs';
import { readdir, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { findTool } from '@sam-backup/graph';
import { discoverOdooData } from '@sam-backup/odoo-data';
import { checkVectors, type VectorSettings } from '@sam-backup/vectors';
import pg from 'pg';

export class PreflightError extends Error {
  constructor(
    readonly check: 'connection' | 'tool' | 'disk' | 'vectors' | 'settings',
    message: string,
    readonly kind: 'usage' | 'failed' = 'failed',
    opts?: { cause?: unknown },
  ) {
    super(message, opts);
    this.name = 'PreflightError';
  }
}

export interface PreflightReport {
  checks: string[];
  /** The Odoo tables the export will read (for the cut's fence). */
  odooTables: string[];
  /** Bytes the export is estimated to need in the backup folder, by component. */
  estimate: Record<string, number>;
  freeBytes: number | null;
}

/** A URL with its password replaced by `***`. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(an unparsable URL)';
  }
}

async function withClient<T>(url: string, what: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  try {
    await c.connect();
  } catch (err) {
    throw new PreflightError(
      'connection',
      `the ${what} at ${redact(url)} cannot be reached (${(err as Error).message}): start PostgreSQL or fix the URL`,
      'failed',
      { cause: err },
    );
  }
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function dirSize(dir: string): Promise<number> {
  let total = 0;
  if (!existsSync(dir)) return 0;
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) total += (await stat(join(e.parentPath, e.name))).size;
  }
  return total;
}

export function formatSize(n: number): string {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(1)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} B`;
}

/** The nearest folder at or above `dir` that exists (where a folder not made yet would be made). */
export function existingAncestor(dir: string): string {
  let d = dir;
  while (!existsSync(d)) d = join(d, '..');
  return d;
}

/** Bytes free to an unprivileged writer on the filesystem that holds (or would hold) `dir`. */
export async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(existingAncestor(dir));
  return s.bavail * s.bsize;
}

export interface ExportPreflightOptions {
  backupDir: string;
  odoo?: {
    databaseUrl: string;
    filestoreDir: string;
    modules?: readonly string[];
    secretColumns?: readonly string[];
  };
  graph?: { databaseUrl: string; pgDumpPath?: string };
  vectors?: { settings: VectorSettings; workDir?: string };
}

/** What {@link estimateExport} found: the checks passed and the bytes an export would write. */
export type ExportEstimate = Omit<PreflightReport, 'freeBytes'>;

/**
 * Checks an export can run: the estimate is an upper bound — the tables' size on disk, the
 * attachment files, the graph database's size, the Chroma directory (twice: the snapshot is
 * assembled in a work folder first) — because the bundle is written to a full disk otherwise.
 */
export async function preflightExport(opts: ExportPreflightOptions): Promise<PreflightReport> {
  const { checks, odooTables, estimate } = await estimateExport(opts);
  const need = Object.values(estimate).reduce((a, b) => a + b, 0);
  const free = await freeBytes(opts.backupDir);
  if (free < need) {
    const parts = Object.entries(estimate)
      .map(([k, n]) => `${k} ≈ ${formatSize(n)}`)
      .join(', ');
    throw new PreflightError(
      'disk',
      `the export needs about ${formatSize(need)} in ${opts.backupDir} (${parts}) and only ${formatSize(free)} is free there: free some space or set SAM_BACKUP_DIR to a larger disk`,
    );
  }
  checks.push(`disk: ${formatSize(free)} free in ${opts.backupDir}, about ${formatSize(need)} needed`);
  return { checks, odooTables, estimate, freeBytes: free };
}

/**
 * The checks of {@link preflightExport} and its upper-bound estimate by component, without the
 * free-space check (a restore sums its safety export's estimate with its own needs).
 */
export async function estimateExport(
  opts: Omit<ExportPreflightOptions, 'backupDir'>,
): Promise<ExportEstimate> {
  const checks: string[] = [];
  const estimate: Record<string, number> = {};
  let odooTables: string[] = [];
  if (opts.odoo) {
    const o = opts.odoo;
    const found = await discoverOdooData({
      databaseUrl: o.databaseUrl,
      ...(o.modules ? { modules: o.modules } : {}),
      ...(o.secretColumns ? { secretColumns: o.secretColumns } : {}),
    }).catch((err: Error) => {
      if ((err as { kind?: string }).kind === 'usage' || (err as { kind?: string }).kind === 'refused')
        throw err;
      throw new PreflightError(
        'connection',
        `the Odoo database at ${redact(o.databaseUrl)} cannot be read (${err.message}): start PostgreSQL or fix SAM_ODOO_DB_URL`,
        'failed',
        { cause: err },
      );
    });
    if (!existsSync(o.filestoreDir)) {
      throw new PreflightError(
        'settings',
        `the filestore folder ${o.filestoreDir} does not exist: set SAM_ODOO_FILESTORE to <data_dir>/filestore/<database>`,
        'usage',
      );
    }
    const tables = found.tables.map((t) => t.table);
    odooTables = tables;
    estimate.odoo = await withClient(o.databaseUrl, 'Odoo database', async (c) => {
      const r = await c.query<{ t: string; f: string }>(
        `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) AS t,
                (SELECT coalesce(sum(file_size), 0) FROM ir_attachment WHERE store_fname IS NOT NULL) AS f
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relname = ANY($1)`,
        [tables],
      );
      return Number(r.rows[0]?.t ?? 0) + Number(r.rows[0]?.f ?? 0);
    });
    checks.push(
      `Odoo ${found.odooVersion}: ${found.tables.length} tables of ${Object.keys(found.modules).length} modules`,
    );
  }
  if (opts.graph) {
    const g = opts.graph;
    const info = await withClient(g.databaseUrl, 'graph database', async (c) => {
      const r = await c.query<{ num: string; size: string; su: boolean }>(
        `SELECT current_setting('server_version_num') AS num, pg_database_size(current_database()) AS size,
                (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS su`,
      );
      return r.rows[0] as { num: string; size: string; su: boolean };
    });
    if (!info.su) {
      throw new PreflightError(
        'settings',
        `the graph database connection ${redact(g.databaseUrl)} is not a superuser: AGE's dump and restore need one — use a superuser URL in SAM_GRAPH_DB_URL`,
        'usage',
      );
    }
    const major = Math.floor(Number(info.num) / 10000);
    const tool = await findTool('pg_dump', major, g.pgDumpPath).catch((err: Error) => {
      throw new PreflightError('tool', err.message, 'usage', { cause: err });
    });
    estimate.graph = Number(info.size);
    checks.push(`graph: PostgreSQL ${major}, pg_dump ${tool.version}`);
  }
  if (opts.vectors) {
    const v = opts.vectors.settings;
    const said = await checkVectors(v).catch((err: Error) => {
      throw new PreflightError(
        'vectors',
        err.message,
        (err as { kind?: string }).kind === 'usage' ? 'usage' : 'failed',
        {
          cause: err,
        },
      );
    });
    estimate.vectors = v.mode === 'directory' ? 2 * (await dirSize(v.path)) : 0;
    checks.push(said);
  }
  return { checks, odooTables, estimate };
}
