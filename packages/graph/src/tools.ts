/**
 * The PostgreSQL client programs the graph component runs (pg_dump, psql): found on PATH or in
 * Debian's /usr/lib/postgresql/<major>/bin, and checked against the server before any work — a
 * pg_dump older than the server refuses to dump it, a psql older than the dump may misread it.
 */
import { type ChildProcess, execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GraphError } from './errors.js';

const run = promisify(execFile);

export interface Tool {
  path: string;
  major: number;
  version: string;
}

/** The major version of a server from `server_version_num` (150004 → 15). */
export function serverMajor(versionNum: number): number {
  return Math.floor(versionNum / 10000);
}

/**
 * `name` (pg_dump or psql) for a server of major `server`: the configured path, else the
 * server's own major's binary from Debian's layout, else the one on PATH — and refused when older.
 */
export async function findTool(name: 'pg_dump' | 'psql', server: number, configured?: string): Promise<Tool> {
  const candidates = configured
    ? [configured]
    : [join('/usr/lib/postgresql', String(server), 'bin', name), name];
  let lastError: unknown;
  for (const path of candidates) {
    if (path.includes('/') && !existsSync(path)) continue;
    try {
      const { stdout } = await run(path, ['--version'], { timeout: 10_000 });
      const m = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(stdout);
      if (!m) throw new Error(`unexpected output ${JSON.stringify(stdout.trim())}`);
      const major = Number(m[1]);
      const version = stdout.trim().split(/\s+/).pop() as string;
      if (major < server) {
        throw new GraphError(
          'TOOL_TOO_OLD',
          `${name} ${major} (${path}) is older than server ${server}: install postgresql-client-${server}`,
        );
      }
      return { path, major, version };
    } catch (err) {
      if (err instanceof GraphError) throw err;
      lastError = err;
    }
  }
  throw new GraphError(
    'TOOL_MISSING',
    `${name} was not found (${(lastError as Error | undefined)?.message ?? 'not on PATH'}): install postgresql-client-${server}`,
    { cause: lastError },
  );
}

/**
 * The URL and environment to run a client program with: the password goes in PGPASSWORD, never on
 * the command line where `ps` shows it to every user.
 */
export function toolConnection(url: string, database?: string): { url: string; env: NodeJS.ProcessEnv } {
  const u = new URL(url);
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (u.password) {
    env.PGPASSWORD = decodeURIComponent(u.password);
    u.password = '';
  }
  if (database !== undefined) u.pathname = `/${encodeURIComponent(database)}`;
  return { url: u.toString(), env };
}

/**
 * What pg_dump and psql runs are judged by: their exit code (-1 when they could not start) and the
 * first 16 KiB of what they wrote on stderr, for the error message.
 */
export function watchTool(child: ChildProcess): { exited: Promise<number | null>; stderr: () => string } {
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    if (stderr.length < 16_384) stderr += c.toString();
  });
  const exited = new Promise<number | null>((resolve) => {
    child.on('error', () => resolve(-1));
    child.on('exit', (code) => resolve(code));
  });
  return { exited, stderr: () => stderr };
}
