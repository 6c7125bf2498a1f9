/** SQL text shared by export, restore and verification. */
import { quoteIdent } from './discover.js';
import type { RowFilter } from './model-list.js';

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
  filter: RowFilter | null;
}

/** The SQL condition of a row filter on the table aliased `alias` (model-list.ts RowFilterSchema). */
export function filterCondition(filter: RowFilter | null, alias: string): string {
  if (!filter) return 'true';
  const list = (values: readonly string[]) => `ARRAY[${values.map(quoteLiteral).join(',') || "''"}]::text[]`;
  const col = `${alias}.${quoteIdent(filter.column)}`;
  if (filter.parent) {
    return `${col} IN (SELECT p.id FROM ${quoteIdent(filter.parent.table)} p WHERE p.${quoteIdent(filter.parent.column)}::text = ANY(${list(filter.values)}))`;
  }
  const any = `${col}::text = ANY(${list(filter.values)})`;
  if (!filter.pairs || filter.pairs.values.length === 0) return any;
  const [a, b] = filter.pairs.columns;
  const pairs = filter.pairs.values.map(([x, y]) => `(${quoteLiteral(x)}, ${quoteLiteral(y)})`).join(', ');
  return `(${any} OR (${alias}.${quoteIdent(a)}::text, ${alias}.${quoteIdent(b)}::text) IN (${pairs}))`;
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
  if (spec.filter && opts.from === undefined) where.push(filterCondition(spec.filter, 't'));
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
