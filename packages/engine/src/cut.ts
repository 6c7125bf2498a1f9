/**
 * The consistent cut of an export (bundle-format.md §4.5 `consistentCut`): the Odoo database and
 * the graph database are two databases, so two snapshots — taken together under a brief write
 * fence. In each database one transaction takes SHARE locks on the backed-up tables (writers
 * wait; readers do not); while both fences stand, one REPEATABLE READ transaction per database
 * exports its snapshot (`pg_export_snapshot`); then the fences are released. A writer's
 * transaction on those tables, in either database, therefore ended before both snapshots or
 * starts after both: no transaction is in one and not the other. The snapshot transactions stay
 * open until the export has read everything (`release`).
 */
import pg from 'pg';

export interface Cut {
  odooSnapshot: string | null;
  graphSnapshot: string | null;
  /** How long writers were held, ms. */
  fenceMs: number;
  description: string;
  release(): Promise<void>;
}

const quoteIdent = (s: string) => `"${s.replace(/"/g, '""')}"`;

async function client(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url, application_name: 'sam-backup cut' });
  await c.connect();
  return c;
}

async function fence(c: pg.Client, tables: readonly string[], lockTimeoutMs: number): Promise<void> {
  await c.query('BEGIN');
  await c.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.round(lockTimeoutMs))}`);
  if (tables.length > 0) await c.query(`LOCK TABLE ${tables.join(', ')} IN SHARE MODE`);
}

async function exportSnapshot(c: pg.Client): Promise<string> {
  await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  const r = await c.query<{ id: string }>('SELECT pg_export_snapshot() AS id');
  return r.rows[0]?.id as string;
}

/** Every user table of the graph database (label tables, AGE's catalog), qualified. */
async function graphTables(c: pg.Client): Promise<string[]> {
  const r = await c.query<{ s: string; t: string }>(
    `SELECT schemaname AS s, tablename AS t FROM pg_tables
     WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2`,
  );
  return r.rows.map((x) => `${quoteIdent(x.s)}.${quoteIdent(x.t)}`);
}

/**
 * Opens the cut. `odooTables`: the backed-up tables (public schema). Waits at most
 * `lockTimeoutMs` for writers in flight, then fails naming the cause.
 */
export async function openCut(opts: {
  odoo?: { databaseUrl: string; tables: readonly string[] };
  graph?: { databaseUrl: string };
  lockTimeoutMs?: number;
}): Promise<Cut> {
  const timeout = opts.lockTimeoutMs ?? 15_000;
  const opened: pg.Client[] = [];
  const open = async (url: string) => {
    const c = await client(url);
    opened.push(c);
    return c;
  };
  const closeAll = async () => {
    for (const c of opened) await c.end().catch(() => undefined);
  };
  try {
    const oFence = opts.odoo ? await open(opts.odoo.databaseUrl) : null;
    const gFence = opts.graph ? await open(opts.graph.databaseUrl) : null;
    const oSnap = opts.odoo ? await open(opts.odoo.databaseUrl) : null;
    const gSnap = opts.graph ? await open(opts.graph.databaseUrl) : null;
    const both = oFence !== null && gFence !== null;
    const started = performance.now();
    if (both && opts.odoo) {
      const gTables = await graphTables(gFence as pg.Client);
      try {
        await fence(
          oFence as pg.Client,
          opts.odoo.tables.map((t) => `public.${quoteIdent(t)}`),
          timeout,
        );
        await fence(gFence as pg.Client, gTables, timeout);
      } catch (err) {
        throw new Error(
          `writers to the SAM AI tables could not be held for the consistent cut within ${timeout} ms (${(err as Error).message}): a long transaction is writing; retry when it has finished`,
          { cause: err },
        );
      }
    }
    const odooSnapshot = oSnap ? await exportSnapshot(oSnap) : null;
    const graphSnapshot = gSnap ? await exportSnapshot(gSnap) : null;
    if (oFence) await oFence.query('COMMIT').catch(() => undefined);
    if (gFence) await gFence.query('COMMIT').catch(() => undefined);
    const fenceMs = Math.round(performance.now() - started);
    for (const c of [oFence, gFence]) {
      if (c) {
        await c.end().catch(() => undefined);
        opened.splice(opened.indexOf(c), 1);
      }
    }
    const description = both
      ? `Odoo and graph snapshots taken together under a write fence (SHARE locks on the ${opts.odoo?.tables.length} Odoo tables and every graph table, held ${fenceMs} ms)`
      : oSnap
        ? "one REPEATABLE READ snapshot of the Odoo database; the Chroma snapshot started right after, beside the databases' export"
        : gSnap
          ? "one REPEATABLE READ snapshot of the graph database; the Chroma snapshot started right after, beside the databases' export"
          : 'no database';
    return {
      odooSnapshot,
      graphSnapshot,
      fenceMs,
      description,
      async release() {
        const left = opened.splice(0);
        for (const c of left) await c.query('COMMIT').catch(() => undefined);
        for (const c of left) await c.end().catch(() => undefined);
      },
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
