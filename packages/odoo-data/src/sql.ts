/** SQL text shared by export, restore and verification. */
import { quoteIdent } from './discover.js';

export { quoteIdent };

export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** Session settings that fix PostgreSQL's text output (dates, floats, bytea) for export and restore. */
export const SESSION_SETTINGS = [
  "SET DateStyle = 'ISO, YMD'",
  "SET IntervalStyle = 'postgres'",
  "SET TimeZone = 'UTC'",
  'SET extra_float_digits = 1',
  "SET bytea_output = 'hex'",
  "SET client_encoding = 'UTF8'",
];

export interface CanonicalSpec {
  table: string;
  columns: readonly string[];
  key: readonly string[];
  blanked: readonly string[];
  filter: { column: string; values: readonly string[] } | null;
}

/**
 * The canonical SELECT of a table: the columns in the order of model_list.json, blanked (secret)
 * columns as NULL, the subset filter, rows ordered by the key. `from` replaces the table (a staging
 * table), and `keysFrom` keeps only rows whose key is in that table (extension tables).
 */
export function canonicalSelect(
  spec: CanonicalSpec,
  opts: { from?: string; keysFrom?: string } = {},
): string {
  const blanked = new Set(spec.blanked);
  const cols = spec.columns.map((c) => (blanked.has(c) ? `NULL AS ${quoteIdent(c)}` : `t.${quoteIdent(c)}`));
  const where: string[] = [];
  if (spec.filter && opts.from === undefined) {
    where.push(
      `t.${quoteIdent(spec.filter.column)} = ANY(ARRAY[${spec.filter.values.map(quoteLiteral).join(',')}]::text[])`,
    );
  }
  if (opts.keysFrom !== undefined) {
    where.push(
      `EXISTS (SELECT 1 FROM ${opts.keysFrom} k WHERE ${spec.key.map((k) => `k.${quoteIdent(k)} = t.${quoteIdent(k)}`).join(' AND ')})`,
    );
  }
  return (
    `SELECT ${cols.join(', ')} FROM ${opts.from ?? quoteIdent(spec.table)} t` +
    (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
    ` ORDER BY ${spec.key.map((k) => `t.${quoteIdent(k)}`).join(', ')}`
  );
}
