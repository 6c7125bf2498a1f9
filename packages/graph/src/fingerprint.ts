/**
 * The fingerprint of a graph database (bundle-format.md §7.2): what a restore must reproduce,
 * computed in one snapshot and free of oids, so that a restored copy on another server compares
 * equal exactly when its content is the same.
 *
 * - AGE catalog (when `ag_catalog` exists): graphs (name, schema) and labels (graph, name, id,
 *   kind, relation) — never `ag_graph.graphid` / `ag_label.graph`, the bare oids a dump keeps
 *   (apache/age#2503);
 * - every ordinary table outside the system schemas (AGE's two catalog tables excepted): its rows
 *   and SHA-256 over the COPY text of `SELECT * FROM ONLY <table> ORDER BY <row text> COLLATE "C"`
 *   (ONLY: AGE label tables inherit from `_ag_label_vertex` / `_ag_label_edge`; streamed and hashed
 *   in chunks, never one string_agg, which stops at 1 GB);
 * - every sequence's last value (NULL when never called).
 * Session settings are pinned (extra_float_digits 1, ISO dates, UTC, hex bytea) so agtype, float
 * and date text is the same on every server.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';

export const GRAPH_HASH_ALGORITHM = 'sha256-graph-copy-text-v1' as const;

export const SESSION_SETTINGS = [
  'SET extra_float_digits = 1',
  "SET DateStyle = 'ISO, YMD'",
  "SET IntervalStyle = 'postgres'",
  "SET TimeZone = 'UTC'",
  "SET bytea_output = 'hex'",
  "SET client_encoding = 'UTF8'",
];

export interface GraphFingerprint {
  age: { version: string } | null;
  graphs: Array<{ name: string; schema: string }>;
  labels: Array<{ graph: string; name: string; id: number; kind: string; relation: string }>;
  tables: Array<{ table: string; rows: number; hash: string }>;
  sequences: Array<{ sequence: string; lastValue: string | null }>;
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export async function fingerprint(db: pg.ClientBase): Promise<GraphFingerprint> {
  const age = await db.query<{ v: string }>(`SELECT extversion AS v FROM pg_extension WHERE extname = 'age'`);
  const hasCatalog = await db.query<{ r: string | null }>(
    `SELECT to_regclass('ag_catalog.ag_graph')::text AS r`,
  );
  let graphs: GraphFingerprint['graphs'] = [];
  let labels: GraphFingerprint['labels'] = [];
  if (hasCatalog.rows[0]?.r) {
    graphs = (
      await db.query<{ name: string; schema: string }>(
        `SELECT name::text AS name, namespace::text AS schema FROM ag_catalog.ag_graph ORDER BY name::text COLLATE "C"`,
      )
    ).rows;
    labels = (
      await db.query<{ graph: string; name: string; id: number; kind: string; relation: string }>(
        `SELECT g.name::text AS graph, l.name::text AS name, l.id::int AS id, l.kind::text AS kind,
                l.relation::text AS relation
         FROM ag_catalog.ag_label l JOIN ag_catalog.ag_graph g ON g.graphid = l.graph
         ORDER BY g.name::text COLLATE "C", l.name::text COLLATE "C"`,
      )
    ).rows;
  }
  const tableRows = await db.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
       AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
       AND NOT (n.nspname = 'ag_catalog' AND c.relname IN ('ag_graph', 'ag_label'))
     ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C"`,
  );
  const tables: GraphFingerprint['tables'] = [];
  for (const t of tableRows.rows) {
    const rel = `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;
    const h = createHash('sha256');
    let rows = 0;
    const stream = db.query(
      copyTo(`COPY (SELECT x.* FROM ONLY ${rel} x ORDER BY x::text COLLATE "C") TO STDOUT`),
    );
    for await (const chunk of stream) {
      const b = chunk as Buffer;
      h.update(b);
      for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) rows++;
    }
    tables.push({ table: `${t.schema}.${t.name}`, rows, hash: h.digest('hex') });
  }
  const sequences = (
    await db.query<{ sequence: string; last: string | null }>(
      `SELECT schemaname || '.' || sequencename AS sequence, last_value::text AS last FROM pg_sequences
       WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
       ORDER BY (schemaname || '.' || sequencename) COLLATE "C"`,
    )
  ).rows.map((s) => ({ sequence: s.sequence, lastValue: s.last }));
  return { age: age.rows[0] ? { version: age.rows[0].v } : null, graphs, labels, tables, sequences };
}

/** SHA-256 over the fingerprint's content (AGE's version excluded: it is gated separately). */
export function fingerprintHash(f: GraphFingerprint): string {
  return createHash('sha256')
    .update(JSON.stringify({ graphs: f.graphs, labels: f.labels, tables: f.tables, sequences: f.sequences }))
    .digest('hex');
}

/** Human-readable differences between two fingerprints (empty when equal). */
export function compareFingerprints(expected: GraphFingerprint, actual: GraphFingerprint): string[] {
  const out: string[] = [];
  const byName = <T extends { [k: string]: unknown }>(list: T[], key: (x: T) => string) =>
    new Map(list.map((x) => [key(x), JSON.stringify(x)]));
  const diff = (what: string, a: Map<string, string>, b: Map<string, string>) => {
    for (const [k, v] of a) {
      if (!b.has(k)) out.push(`${what} ${k} is missing`);
      else if (b.get(k) !== v) out.push(`${what} ${k} differs: expected ${v}, found ${b.get(k)}`);
    }
    for (const k of b.keys()) if (!a.has(k)) out.push(`${what} ${k} is not in the bundle`);
  };
  diff(
    'graph',
    byName(expected.graphs, (g) => g.name),
    byName(actual.graphs, (g) => g.name),
  );
  diff(
    'label',
    byName(expected.labels, (l) => `${l.graph}.${l.name}`),
    byName(actual.labels, (l) => `${l.graph}.${l.name}`),
  );
  diff(
    'table',
    byName(expected.tables, (t) => t.table),
    byName(actual.tables, (t) => t.table),
  );
  diff(
    'sequence',
    byName(expected.sequences, (s) => s.sequence),
    byName(actual.sequences, (s) => s.sequence),
  );
  return out;
}
