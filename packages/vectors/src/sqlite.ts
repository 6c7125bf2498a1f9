/**
 * Chroma's `chroma.sqlite3`, read with Debian's `sqlite3` shell: Node 20 has no SQLite of its own,
 * and the shell brings exactly what a consistent snapshot needs — the online backup API (`.backup`,
 * page by page, retried while a writer holds the lock: `.timeout`), `PRAGMA quick_check`, and
 * `sha3_query()` to hash a query's rows without moving them into this process.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { VectorError } from './errors.js';

const run = promisify(execFile);

/** How long the shell waits for Chroma's write lock before it gives up (ms). */
export const BUSY_TIMEOUT_MS = 30_000;

export interface Sqlite {
  path: string;
  version: string;
}

export async function findSqlite(configured?: string): Promise<Sqlite> {
  const path = configured ?? 'sqlite3';
  try {
    const { stdout } = await run(path, ['--version'], { timeout: 10_000 });
    const version = stdout.trim().split(/\s+/)[0] ?? '';
    const [maj = 0, min = 0] = version.split('.').map(Number);
    // sha3_query() and -json are in the shell from 3.33.
    if (maj < 3 || (maj === 3 && min < 33)) {
      throw new VectorError(
        'TOOL_MISSING',
        `sqlite3 ${version} (${path}) is too old (3.33 or newer needed): install the sqlite3 package`,
      );
    }
    return { path, version };
  } catch (err) {
    if (err instanceof VectorError) throw err;
    throw new VectorError(
      'TOOL_MISSING',
      `the sqlite3 shell was not found (${(err as Error).message}): install the sqlite3 package (apt-get install sqlite3)`,
      {
        cause: err,
      },
    );
  }
}

/** Rows of one query as JSON objects; the database is opened read-only unless `write`. */
export async function query<T = Record<string, unknown>>(
  sqlite: Sqlite,
  db: string,
  sql: string,
  opts: { write?: boolean } = {},
): Promise<T[]> {
  const args = [
    ...(opts.write ? [] : ['-readonly']),
    '-json',
    '-bail',
    '-cmd',
    `.timeout ${BUSY_TIMEOUT_MS}`,
    db,
    sql,
  ];
  try {
    const { stdout } = await run(sqlite.path, args, { maxBuffer: 256 << 20, timeout: 10 * 60_000 });
    const text = stdout.trim();
    return text ? (JSON.parse(text) as T[]) : [];
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new VectorError('SNAPSHOT_FAILED', `sqlite3 on ${db} failed: ${(e.stderr ?? e.message).trim()}`, {
      cause: err,
    });
  }
}

/** SQLite's online backup of `db` into `dest` (a new file): a consistent copy while Chroma writes. */
export async function backup(sqlite: Sqlite, db: string, dest: string): Promise<void> {
  try {
    await run(
      sqlite.path,
      [
        '-readonly',
        '-bail',
        '-cmd',
        `.timeout ${BUSY_TIMEOUT_MS}`,
        db,
        `.backup main '${dest.replaceAll("'", "''")}'`,
      ],
      {
        timeout: 60 * 60_000,
      },
    );
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new VectorError(
      'SNAPSHOT_FAILED',
      `the online backup of ${db} failed: ${(e.stderr ?? e.message).trim()}`,
      { cause: err },
    );
  }
}

/** `PRAGMA quick_check` of a database file: 'ok' or SQLite's list of problems. */
export async function quickCheck(sqlite: Sqlite, db: string): Promise<string> {
  const rows = await query<{ quick_check: string }>(sqlite, db, 'PRAGMA quick_check');
  return rows.map((r) => r.quick_check).join('; ');
}
