/**
 * Export: `pg_dump` of the whole graph database (plain SQL) streamed straight into the bundle
 * entry, from the very snapshot in which the fingerprint is computed (`pg_export_snapshot` +
 * `pg_dump --snapshot`), so the dump and its fingerprint describe the same instant.
 */
import { spawn } from 'node:child_process';
import type { Component } from '@sam-backup/bundle';
import { type BundleWriter, ENTRY } from '@sam-backup/bundle';
import pg from 'pg';
import { GraphError } from './errors.js';
import {
  fingerprint,
  fingerprintHash,
  GRAPH_HASH_ALGORITHM,
  type GraphFingerprint,
  SESSION_SETTINGS,
} from './fingerprint.js';
import { findTool, serverMajor, toolConnection, watchTool } from './tools.js';

export interface GraphProgress {
  phase: string;
  bytesDone: number;
  message?: string;
}

export interface GraphExportOptions {
  /** A superuser URL of the graph database (SAM AI's default database: sam_ai_memory). */
  databaseUrl: string;
  bundle: BundleWriter;
  /** pg_dump to use (default: the server's major from Debian's layout, else PATH). */
  pgDumpPath?: string;
  onProgress?: (p: GraphProgress) => void;
  /** A snapshot exported by another open transaction to dump and fingerprint (the engine's cut). */
  snapshot?: string;
}

export interface GraphExportResult {
  component: Component;
  fingerprint: GraphFingerprint;
  database: string;
  serverVersion: string;
  bytes: number;
  durationMs: number;
}

export async function connectGraph(url: string): Promise<pg.Client> {
  const db = new pg.Client({ connectionString: url });
  try {
    await db.connect();
  } catch (err) {
    throw new GraphError(
      'CONNECT_FAILED',
      `cannot connect to the graph database (${(err as Error).message}): check its URL and that PostgreSQL is running`,
      { cause: err },
    );
  }
  db.on('error', () => undefined);
  for (const s of SESSION_SETTINGS) await db.query(s);
  return db;
}

export async function exportGraph(opts: GraphExportOptions): Promise<GraphExportResult> {
  const started = performance.now();
  const db = await connectGraph(opts.databaseUrl);
  try {
    const info = await db.query<{ num: string; version: string; db: string; su: boolean }>(
      `SELECT current_setting('server_version_num') AS num, current_setting('server_version') AS version,
              current_database() AS db, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS su`,
    );
    const server = info.rows[0] as { num: string; version: string; db: string; su: boolean };
    if (!server.su) {
      throw new GraphError(
        'BAD_OPTIONS',
        `the graph database connection is not a superuser: AGE's dump and restore need one — use a superuser URL`,
      );
    }
    const pgDump = await findTool('pg_dump', serverMajor(Number(server.num)), opts.pgDumpPath);
    await db.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    let snapshot: string;
    if (opts.snapshot) {
      await db.query(`SET TRANSACTION SNAPSHOT '${opts.snapshot.replace(/'/g, "''")}'`);
      snapshot = opts.snapshot;
    } else {
      const snap = await db.query<{ id: string }>('SELECT pg_export_snapshot() AS id');
      snapshot = snap.rows[0]?.id as string;
    }

    const conn = toolConnection(opts.databaseUrl);
    const child = spawn(
      pgDump.path,
      ['--format=plain', '--no-password', `--snapshot=${snapshot}`, '--dbname', conn.url],
      { stdio: ['ignore', 'pipe', 'pipe'], env: conn.env },
    );
    const { exited, stderr } = watchTool(child);
    let bytes = 0;
    child.stdout.on('data', (c: Buffer) => {
      bytes += c.length;
      opts.onProgress?.({ phase: 'graph dump', bytesDone: bytes });
    });
    // The fingerprint is computed in the exported snapshot while pg_dump streams it (two cores).
    const [entry, fp, code] = await Promise.all([
      opts.bundle.addEntry(ENTRY.graphDump, child.stdout),
      fingerprint(db),
      exited,
    ]).catch((err: unknown) => {
      child.kill('SIGKILL');
      throw err;
    });
    if (code !== 0) {
      throw new GraphError(
        'DUMP_FAILED',
        `pg_dump of the graph database failed (exit ${code}): ${stderr().trim() || 'no message'}`,
      );
    }
    await db.query('COMMIT');
    const rows = fp.tables.reduce((a, t) => a + t.rows, 0);
    const component: Component = {
      entries: [ENTRY.graphDump],
      counts: {
        tables: fp.tables.length,
        rows,
        graphs: fp.graphs.length,
        labels: fp.labels.length,
        bytes: entry.size,
      },
      contentHash: fingerprintHash(fp),
      details: {
        hashAlgorithm: GRAPH_HASH_ALGORITHM,
        database: server.db,
        serverVersion: server.version,
        serverVersionNum: Number(server.num),
        pgDump: pgDump.version,
        age: fp.age,
        fingerprint: fp,
      },
    };
    return {
      component,
      fingerprint: fp,
      database: server.db,
      serverVersion: server.version,
      bytes: entry.size,
      durationMs: Math.round(performance.now() - started),
    };
  } finally {
    await db.query('ROLLBACK').catch(() => undefined);
    await db.end().catch(() => undefined);
  }
}
