/**
 * Restore (bundle-format.md §7.2): the dump is loaded into a fresh database beside the live one
 * (`CREATE DATABASE … TEMPLATE template0`, psql in one transaction with ON_ERROR_STOP), AGE's
 * catalog is re-keyed to the restored schemas' oids, the fingerprint is recomputed there and must
 * equal the bundle's, a Cypher probe must see every vertex and edge — and only then the two
 * databases swap names in one transaction. The replaced database stays as
 * `<name>__before_<UTC timestamp>` until the next successful restore; a failure at any step
 * drops the new database and leaves the live one as it was.
 */
import { spawn } from 'node:child_process';
import { type BundleReader, ENTRY } from '@sam-backup/bundle';
import pg from 'pg';
import { GraphError } from './errors.js';
import { connectGraph, type GraphProgress } from './export.js';
import { compareFingerprints, fingerprint, fingerprintHash, type GraphFingerprint } from './fingerprint.js';
import { findTool, serverMajor, toolConnection, watchTool } from './tools.js';

export interface GraphRestoreOptions {
  /** A superuser URL of the live graph database (it need not exist yet). */
  databaseUrl: string;
  bundle: BundleReader;
  /** Only compare the live database with the bundle; change nothing. */
  dryRun?: boolean;
  psqlPath?: string;
  onProgress?: (p: GraphProgress) => void;
  now?: Date;
}

export interface GraphRestoreReport {
  dryRun: boolean;
  database: string;
  /** Differences between the live database and the bundle before the restore. */
  differences: string[];
  tables: Array<{ table: string; rowsInBundle: number; rowsNow: number | null }>;
  /** The name the replaced database now has (null: there was none). */
  previous: string | null;
  /** Older `__before_` and stale `__restore_` databases dropped. */
  dropped: string[];
  rekeyed: boolean;
  probe: Array<{ graph: string; vertices: number; edges: number }>;
  verified: boolean;
  durationMs: number;
}

interface BundleGraph {
  fingerprint: GraphFingerprint;
  serverVersionNum: number;
  database: string;
  age: { version: string } | null;
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function stamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '_');
}

function readBundleGraph(bundle: BundleReader): BundleGraph {
  const c = bundle.metadata.components.graph;
  const d = c?.details as Partial<BundleGraph> | undefined;
  if (!c || !d?.fingerprint || typeof d.serverVersionNum !== 'number') {
    throw new GraphError(
      'BAD_BUNDLE',
      'the bundle holds no graph component (metadata.json components.graph with its fingerprint): choose a bundle exported with the graph',
    );
  }
  if (fingerprintHash(d.fingerprint) !== c.contentHash) {
    throw new GraphError(
      'BAD_BUNDLE',
      "the graph component's fingerprint does not match its content hash: the bundle is damaged",
    );
  }
  return {
    fingerprint: d.fingerprint,
    serverVersionNum: d.serverVersionNum,
    database: String(d.database ?? ''),
    age: d.age ?? null,
  };
}

async function adminClient(url: string): Promise<pg.Client> {
  const u = new URL(url);
  u.pathname = '/postgres';
  const db = new pg.Client({ connectionString: u.toString() });
  try {
    await db.connect();
  } catch (err) {
    throw new GraphError(
      'CONNECT_FAILED',
      `cannot connect to the server's postgres database (${(err as Error).message})`,
      {
        cause: err,
      },
    );
  }
  db.on('error', () => undefined);
  return db;
}

/**
 * A restore prepared and verified beside the live database, not yet switched: the engine swaps it
 * in together with the other stores, and can put the previous database back if another store
 * fails to switch.
 */
export interface PreparedGraphRestore {
  report: GraphRestoreReport;
  /** The database the bundle was loaded into, beside the live one (for a restore journal). */
  temp: string;
  /** Whether a live database existed when the restore was prepared. */
  liveExisted: boolean;
  /** Swaps the verified database in (the live one is kept as `<name>__before_<UTC>`). */
  swap(): Promise<GraphRestoreReport>;
  /**
   * After swap(), once the whole restore has switched: drops the databases older restores kept
   * (`<name>__before_…` other than the one this swap made).
   */
  finish(): Promise<GraphRestoreReport>;
  /** Drops the prepared database; the live one was never touched. */
  discard(): Promise<void>;
  /** After swap(): puts the replaced database back and drops the restored one. */
  undo(): Promise<void>;
}

/** prepareGraphRestore + swap. */
export async function restoreGraph(opts: GraphRestoreOptions): Promise<GraphRestoreReport> {
  const prepared = await prepareGraphRestore(opts);
  if (opts.dryRun) return prepared.report;
  await prepared.swap();
  return prepared.finish();
}

/** Checks, loads into a database beside the live one and verifies it there (steps 1–5 of §7.2.2). */
export async function prepareGraphRestore(opts: GraphRestoreOptions): Promise<PreparedGraphRestore> {
  const started = performance.now();
  const progress = (p: GraphProgress) => opts.onProgress?.(p);
  const wanted = readBundleGraph(opts.bundle);
  const live = decodeURIComponent(new URL(opts.databaseUrl).pathname.slice(1));
  if (!live)
    throw new GraphError('BAD_OPTIONS', 'the graph database URL names no database: end it with /<database>');
  const admin = await adminClient(opts.databaseUrl);
  const report: GraphRestoreReport = {
    dryRun: opts.dryRun === true,
    database: live,
    differences: [],
    tables: [],
    previous: null,
    dropped: [],
    rekeyed: false,
    probe: [],
    verified: false,
    durationMs: 0,
  };
  let temp: string | null = null;
  try {
    // Version gate, before anything is written.
    const server = await admin.query<{ num: string }>(`SELECT current_setting('server_version_num') AS num`);
    const major = serverMajor(Number(server.rows[0]?.num));
    const bundleMajor = serverMajor(wanted.serverVersionNum);
    if (major < bundleMajor) {
      throw new GraphError(
        'VERSION_REFUSED',
        `the bundle's graph comes from PostgreSQL ${bundleMajor}, this server is ${major}: restore onto PostgreSQL ${bundleMajor} or newer`,
      );
    }
    if (wanted.age) {
      const age = await admin.query<{ v: string | null }>(
        `SELECT default_version AS v FROM pg_available_extensions WHERE name = 'age'`,
      );
      const have = age.rows[0]?.v ?? null;
      if (have !== wanted.age.version) {
        throw new GraphError(
          'VERSION_REFUSED',
          have === null
            ? `the bundle's graph uses Apache AGE ${wanted.age.version}, which this server does not have: install AGE ${wanted.age.version}`
            : `the bundle's graph uses Apache AGE ${wanted.age.version}, this server has ${have}: install AGE ${wanted.age.version} (AGE's catalog differs between versions)`,
        );
      }
    }
    const exists = await admin.query<{ n: string }>(
      'SELECT count(*) AS n FROM pg_database WHERE datname = $1',
      [live],
    );
    const liveExists = Number(exists.rows[0]?.n) > 0;

    // What would change: the live fingerprint against the bundle's.
    const now: GraphFingerprint | null = liveExists ? await liveFingerprint(opts.databaseUrl) : null;
    report.differences = now
      ? compareFingerprints(wanted.fingerprint, now)
      : [`database ${live} does not exist`];
    const nowRows = new Map(now?.tables.map((t) => [t.table, t.rows]) ?? []);
    report.tables = wanted.fingerprint.tables.map((t) => ({
      table: t.table,
      rowsInBundle: t.rows,
      rowsNow: nowRows.get(t.table) ?? null,
    }));
    if (opts.dryRun) {
      report.durationMs = Math.round(performance.now() - started);
      const refuse = async (): Promise<never> => {
        throw new GraphError('BAD_OPTIONS', 'a dry-run cannot be swapped in or undone');
      };
      return {
        report,
        temp: '',
        liveExisted: liveExists,
        swap: refuse,
        finish: refuse,
        undo: refuse,
        discard: async () => undefined,
      };
    }

    const psql = await findTool('psql', Math.max(major, bundleMajor), opts.psqlPath);
    // A restore killed earlier leaves its new database behind: it was never live, drop it.
    report.dropped.push(...(await dropMatching(admin, live, '__restore_')));

    temp = `${live.slice(0, 40)}__restore_${stamp(opts.now ?? new Date())}`;
    const props = liveExists
      ? (
          await admin.query<{ enc: string; coll: string; ctype: string; owner: string }>(
            `SELECT pg_encoding_to_char(encoding) AS enc, datcollate AS coll, datctype AS ctype,
                    pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1`,
            [live],
          )
        ).rows[0]
      : undefined;
    await admin.query(
      `CREATE DATABASE ${quoteIdent(temp)} TEMPLATE template0` +
        (props
          ? ` ENCODING '${props.enc}' LC_COLLATE '${props.coll.replace(/'/g, "''")}' LC_CTYPE '${props.ctype.replace(/'/g, "''")}' OWNER ${quoteIdent(props.owner)}`
          : ''),
    );
    if (liveExists) await copyDatabaseSettings(admin, live, temp);
    progress({ phase: 'graph load', bytesDone: 0, message: `loading into ${temp}` });
    await loadDump(opts.bundle, psql.path, toolConnection(opts.databaseUrl, temp), progress);

    // Re-key AGE's catalog, recompute the fingerprint, probe with Cypher — all in the new database.
    const tempUrl = new URL(opts.databaseUrl);
    tempUrl.pathname = `/${encodeURIComponent(temp)}`;
    const db = await connectGraph(tempUrl.toString());
    try {
      report.rekeyed = await rekeyAge(db);
      progress({ phase: 'graph verify', bytesDone: 0 });
      const got = await fingerprint(db);
      const problems = compareFingerprints(wanted.fingerprint, got);
      if (problems.length > 0) {
        throw new GraphError(
          'VERIFY_FAILED',
          `the restored graph database does not match the bundle (${problems.slice(0, 5).join('; ')}${problems.length > 5 ? `; +${problems.length - 5} more` : ''}); the live database was not touched`,
        );
      }
      if (got.graphs.length > 0) report.probe = await cypherProbe(db, got);
    } finally {
      await db.end().catch(() => undefined);
    }
    report.verified = true;
    report.durationMs = Math.round(performance.now() - started);
    const prepared = temp;
    temp = null;
    return preparedRestore(opts, report, live, liveExists, prepared);
  } finally {
    if (temp !== null) {
      await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(temp)} WITH (FORCE)`).catch(() => undefined);
    }
    await admin.end().catch(() => undefined);
  }
}

function preparedRestore(
  opts: GraphRestoreOptions,
  report: GraphRestoreReport,
  live: string,
  liveExists: boolean,
  temp: string,
): PreparedGraphRestore {
  let state: 'prepared' | 'swapped' | 'finished' | 'discarded' | 'undone' = 'prepared';
  const expect = (want: typeof state, what: string) => {
    if (state !== want) throw new GraphError('BAD_OPTIONS', `cannot ${what}: this restore is ${state}`);
  };
  return {
    report,
    temp,
    liveExisted: liveExists,
    async swap() {
      expect('prepared', 'swap');
      const admin = await adminClient(opts.databaseUrl);
      try {
        opts.onProgress?.({ phase: 'graph swap', bytesDone: 0 });
        report.previous = await swap(admin, live, liveExists, temp, opts.now ?? new Date());
        state = 'swapped';
        return report;
      } catch (err) {
        await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(temp)} WITH (FORCE)`).catch(() => undefined);
        state = 'discarded';
        throw err;
      } finally {
        await admin.end().catch(() => undefined);
      }
    },
    async finish() {
      expect('swapped', 'finish');
      const admin = await adminClient(opts.databaseUrl);
      try {
        report.dropped.push(
          ...(await dropMatching(
            admin,
            live,
            '__before_',
            report.previous === null ? [] : [report.previous],
          )),
        );
        state = 'finished';
        return report;
      } finally {
        await admin.end().catch(() => undefined);
      }
    },
    async discard() {
      if (state === 'discarded') return;
      expect('prepared', 'discard');
      const admin = await adminClient(opts.databaseUrl);
      try {
        await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(temp)} WITH (FORCE)`);
        state = 'discarded';
      } finally {
        await admin.end().catch(() => undefined);
      }
    },
    async undo() {
      expect('swapped', 'undo');
      await undoGraphSwap(opts.databaseUrl, report.previous);
      state = 'undone';
    },
  };
}

/**
 * After a process that was switching died: puts the graph database back as it was before the
 * restore `temp` belongs to. Not swapped yet (`temp` still exists) → `temp` is dropped. Swapped →
 * undone with `previous` (when the journal did not get to record it: the newest
 * `<live>__before_…`, or none when there was no live database). Returns what was done.
 */
export async function recoverGraphSwap(
  databaseUrl: string,
  state: { temp: string; liveExisted: boolean; previous?: string | null },
): Promise<'dropped-prepared' | 'undone'> {
  const live = decodeURIComponent(new URL(databaseUrl).pathname.slice(1));
  const admin = await adminClient(databaseUrl);
  let previous: string | null;
  try {
    const t = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [state.temp]);
    if ((t.rowCount ?? 0) > 0) {
      await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(state.temp)} WITH (FORCE)`);
      return 'dropped-prepared';
    }
    if (state.previous !== undefined) {
      previous = state.previous;
    } else if (!state.liveExisted) {
      previous = null;
    } else {
      const prefix = `${live.slice(0, 40)}__before_`;
      const r = await admin.query<{ name: string }>(
        'SELECT datname AS name FROM pg_database WHERE left(datname, $2) = $1 ORDER BY datname DESC LIMIT 1',
        [prefix, prefix.length],
      );
      previous = r.rows[0]?.name ?? null;
    }
  } finally {
    await admin.end().catch(() => undefined);
  }
  await undoGraphSwap(databaseUrl, previous);
  return 'undone';
}

/**
 * Undoes a swap (also from a journal, after the process that swapped died): the restored database
 * now live is dropped and `previous` (the replaced one; null when there was none) takes its name
 * back. Does nothing when the swap had not happened (the live database is not the restored one:
 * `previous` does not exist).
 */
export async function undoGraphSwap(databaseUrl: string, previous: string | null): Promise<void> {
  const live = decodeURIComponent(new URL(databaseUrl).pathname.slice(1));
  const admin = await adminClient(databaseUrl);
  try {
    if (previous !== null) {
      const r = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [previous]);
      if ((r.rowCount ?? 0) === 0) return;
    }
    const failed = `${live.slice(0, 40)}__undone_${stamp(new Date())}`;
    await swap(admin, live, true, previous, new Date(), failed);
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(failed)} WITH (FORCE)`);
  } finally {
    await admin.end().catch(() => undefined);
  }
}

/**
 * What pg_dump leaves out without --create but an installation depends on — the database's own
 * settings (`ALTER DATABASE … SET`, e.g. AGE's search_path) and its comment — is carried over from
 * the live database to the new one, as its owner, encoding and collation are.
 */
async function copyDatabaseSettings(admin: pg.Client, from: string, to: string): Promise<void> {
  const r = await admin.query<{ comment: string | null; config: string[] | null }>(
    `SELECT shobj_description(d.oid, 'pg_database') AS comment,
            (SELECT s.setconfig FROM pg_db_role_setting s WHERE s.setdatabase = d.oid AND s.setrole = 0) AS config
     FROM pg_database d WHERE d.datname = $1`,
    [from],
  );
  const row = r.rows[0];
  if (!row) return;
  if (row.comment !== null) {
    await admin.query(`COMMENT ON DATABASE ${quoteIdent(to)} IS '${row.comment.replace(/'/g, "''")}'`);
  }
  for (const entry of row.config ?? []) {
    const eq = entry.indexOf('=');
    if (eq <= 0) continue;
    const name = entry.slice(0, eq);
    if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(name)) continue;
    await admin.query(`ALTER DATABASE ${quoteIdent(to)} SET ${name} = ${entry.slice(eq + 1)}`);
  }
}

async function liveFingerprint(url: string): Promise<GraphFingerprint> {
  const db = await connectGraph(url);
  try {
    await db.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    return await fingerprint(db);
  } finally {
    await db.query('ROLLBACK').catch(() => undefined);
    await db.end().catch(() => undefined);
  }
}

/** Streams the dump entry into psql (one transaction, stop at the first error). */
async function loadDump(
  bundle: BundleReader,
  psqlPath: string,
  conn: { url: string; env: NodeJS.ProcessEnv },
  progress: (p: GraphProgress) => void,
): Promise<void> {
  const child = spawn(
    psqlPath,
    ['-X', '-q', '--no-password', '-v', 'ON_ERROR_STOP=1', '--single-transaction', '-d', conn.url, '-f', '-'],
    { stdio: ['pipe', 'ignore', 'pipe'], env: { ...conn.env, PGOPTIONS: '-c client_min_messages=warning' } },
  );
  const { exited, stderr } = watchTool(child);
  child.stdin.on('error', () => undefined);
  const source = await bundle.openEntry(ENTRY.graphDump);
  let bytes = 0;
  try {
    for await (const chunk of source) {
      bytes += (chunk as Buffer).length;
      progress({ phase: 'graph load', bytesDone: bytes });
      if (!child.stdin.write(chunk)) {
        await new Promise<void>((resolve, reject) => {
          child.stdin.once('drain', resolve);
          exited.then(() => reject(new Error(`psql ended early: ${stderr().trim()}`)));
        });
      }
    }
  } catch (err) {
    // A damaged entry (checksum, size) or psql gone: kill psql so its transaction never commits.
    child.kill('SIGKILL');
    await exited;
    throw new GraphError(
      err instanceof GraphError ? err.code : 'LOAD_FAILED',
      `loading the graph dump failed: ${(err as Error).message}; the live database was not touched`,
      { cause: err },
    );
  }
  child.stdin.end();
  const code = await exited;
  if (code !== 0) {
    throw new GraphError(
      'LOAD_FAILED',
      `psql could not load the graph dump (exit ${code}): ${stderr().trim() || 'no message'}; the live database was not touched`,
    );
  }
}

/**
 * A dump keeps `ag_graph.graphid` and `ag_label.graph` as the source's bare oids
 * (apache/age#2503): point them at the restored schemas (`namespace::oid`), in one statement so
 * that the label → graph reference holds at its end.
 */
async function rekeyAge(db: pg.ClientBase): Promise<boolean> {
  const has = await db.query<{ r: string | null }>(`SELECT to_regclass('ag_catalog.ag_graph')::text AS r`);
  if (!has.rows[0]?.r) return false;
  const r = await db.query(
    `WITH g AS (
       UPDATE ag_catalog.ag_graph SET graphid = namespace::oid WHERE graphid <> namespace::oid
       RETURNING graphid AS new_id, name
     ), old AS (
       SELECT o.graphid AS old_id, g.new_id FROM ag_catalog.ag_graph o JOIN g ON g.name = o.name
     )
     UPDATE ag_catalog.ag_label l SET graph = old.new_id FROM old WHERE l.graph = old.old_id`,
  );
  return (r.rowCount ?? 0) > 0;
}

/** Cypher must see as many vertices and edges as the label tables hold. */
async function cypherProbe(
  db: pg.ClientBase,
  fp: GraphFingerprint,
): Promise<Array<{ graph: string; vertices: number; edges: number }>> {
  await db.query(`LOAD 'age'`);
  await db.query(`SET search_path = ag_catalog, "$user", public`);
  const out: Array<{ graph: string; vertices: number; edges: number }> = [];
  for (const g of fp.graphs) {
    const rows = (kind: string) =>
      fp.labels
        .filter((l) => l.graph === g.name && l.kind === kind)
        .reduce(
          (a, l) =>
            a +
            (fp.tables.find((t) => t.table === l.relation || t.table === `${g.schema}.${l.name}`)?.rows ?? 0),
          0,
        );
    const lit = g.name.replace(/'/g, "''");
    const v = await db.query<{ n: string }>(
      `SELECT n::text AS n FROM cypher('${lit}', $$ MATCH (v) RETURN count(v) $$) AS (n agtype)`,
    );
    const e = await db.query<{ n: string }>(
      `SELECT n::text AS n FROM cypher('${lit}', $$ MATCH ()-[e]->() RETURN count(e) $$) AS (n agtype)`,
    );
    const vertices = Number(v.rows[0]?.n);
    const edges = Number(e.rows[0]?.n);
    if (vertices !== rows('v') || edges !== rows('e')) {
      throw new GraphError(
        'VERIFY_FAILED',
        `graph ${g.name}: Cypher sees ${vertices} vertices and ${edges} edges, the label tables hold ${rows('v')} and ${rows('e')}; the live database was not touched`,
      );
    }
    out.push({ graph: g.name, vertices, edges });
  }
  return out;
}

/**
 * Swaps `incoming` in as `live`: connections to the live database stopped, then in one transaction
 * the live one renamed to `asName` (default `<live>__before_<UTC>`) and `incoming` to `live`.
 * With `incoming` null the live database is only renamed away (undo of a first restore).
 */
async function swap(
  admin: pg.Client,
  live: string,
  liveExists: boolean,
  incoming: string | null,
  now: Date,
  asName?: string,
): Promise<string | null> {
  if (!liveExists) {
    if (incoming !== null)
      await admin.query(`ALTER DATABASE ${quoteIdent(incoming)} RENAME TO ${quoteIdent(live)}`);
    return null;
  }
  const before = await freeName(admin, asName ?? `${live.slice(0, 40)}__before_${stamp(now)}`);
  await admin.query(`ALTER DATABASE ${quoteIdent(live)} WITH ALLOW_CONNECTIONS false`);
  try {
    for (let attempt = 0; ; attempt++) {
      await admin.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
        [live],
      );
      try {
        await admin.query('BEGIN');
        await admin.query(`ALTER DATABASE ${quoteIdent(live)} RENAME TO ${quoteIdent(before)}`);
        if (incoming !== null) {
          await admin.query(`ALTER DATABASE ${quoteIdent(incoming)} RENAME TO ${quoteIdent(live)}`);
        }
        await admin.query('COMMIT');
        // The replaced database, under its new name, can be opened to look at or to go back to.
        await admin.query(`ALTER DATABASE ${quoteIdent(before)} WITH ALLOW_CONNECTIONS true`);
        if (incoming !== null)
          await admin.query(`ALTER DATABASE ${quoteIdent(live)} WITH ALLOW_CONNECTIONS true`);
        return before;
      } catch (err) {
        await admin.query('ROLLBACK').catch(() => undefined);
        if (attempt >= 50) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (err) {
    await admin
      .query(`ALTER DATABASE ${quoteIdent(live)} WITH ALLOW_CONNECTIONS true`)
      .catch(() => undefined);
    throw new GraphError(
      'SWAP_FAILED',
      `could not swap the restored graph database in (${(err as Error).message}); the live database ${live} is unchanged`,
      { cause: err },
    );
  }
}

/** `name`, or `name_2`, `name_3`, … when a database of that name exists (two restores in one second). */
async function freeName(admin: pg.Client, name: string): Promise<string> {
  for (let i = 1; ; i++) {
    const candidate = i === 1 ? name : `${name}_${i}`;
    const r = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [candidate]);
    if ((r.rowCount ?? 0) === 0) return candidate;
  }
}

async function dropMatching(
  admin: pg.Client,
  live: string,
  infix: string,
  keep: string[] = [],
): Promise<string[]> {
  const prefix = `${live.slice(0, 40)}${infix}`;
  const r = await admin.query<{ name: string }>(
    `SELECT datname AS name FROM pg_database WHERE left(datname, $2) = $1 ORDER BY 1`,
    [prefix, prefix.length],
  );
  const dropped: string[] = [];
  for (const { name } of r.rows) {
    if (keep.includes(name)) continue;
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
    dropped.push(name);
  }
  return dropped;
}
