/**
 * Content hash of a table (algorithm `sha256-copy-text-v1`):
 *
 *   SHA-256 over the exact bytes PostgreSQL writes for
 *     COPY (SELECT <columns> FROM <table> [WHERE <subset filter>] ORDER BY <key>) TO STDOUT
 *   in text format, UTF-8, with the session settings DateStyle 'ISO, YMD', IntervalStyle
 *   'postgres', TimeZone 'UTC', extra_float_digits 1, bytea_output 'hex' — that is, for every row
 *   ordered by its key (`id`; both columns for relation tables), PostgreSQL's text form of each
 *   column in model_list.json's column order, NULL as `\N`, columns joined by a tab, backslash,
 *   newline, carriage return and tab escaped as `\\`, `\n`, `\r`, `\t`, each row ended by "\n".
 *   Blanked (secret) columns are NULL. An empty table hashes the empty string.
 *
 * Export computes it on the very bytes it turns into cells; restore recomputes it from the
 * database inside the restore transaction.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';

export const HASH_ALGORITHM = 'sha256-copy-text-v1' as const;

export async function hashQuery(db: pg.ClientBase, select: string): Promise<{ hash: string; rows: number }> {
  const hash = createHash('sha256');
  let rows = 0;
  const stream = db.query(copyTo(`COPY (${select}) TO STDOUT`));
  for await (const chunk of stream) {
    const b = chunk as Buffer;
    hash.update(b);
    for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) rows++;
  }
  return { hash: hash.digest('hex'), rows };
}
