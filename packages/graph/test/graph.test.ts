/**
 * The graph database on the real PostgreSQL: the plain-PostgreSQL path always, the Apache AGE path
 * when the server has AGE (skipped, saying so, when it has not). Contents are compared with the
 * test's own md5 fingerprints, never the product's.
 */

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BundleWriter, ENTRY, type FinalizedBundle, openBundle } from '@sam-backup/bundle';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  exportGraph,
  GraphError,
  type GraphRestoreOptions,
  prepareGraphRestore,
  restoreGraph,
} from '../src/index.js';

const ADMIN = process.env.SAM_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:55432/postgres';
const urlOf = (database: string) => {
  const u = new URL(ADMIN);
  u.pathname = `/${database}`;
  return u.toString();
};

async function sql<T extends pg.QueryResultRow = Record<string, unknown>>(
  url: string,
  text: string,
): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(text)).rows;
  } finally {
    await c.end();
  }
}

/** The test's own view: md5 of every table's rows (text form, sorted) and every sequence. */
async function contents(database: string): Promise<Record<string, string>> {
  const url = urlOf(database);
  const out: Record<string, string> = {};
  const tables = await sql<{ t: string }>(
    url,
    `SELECT format('%I.%I', schemaname, tablename) AS t FROM pg_tables
     WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
  );
  for (const { t } of tables) {
    const [r] = await sql<{ h: string | null; n: string }>(
      url,
      `SELECT md5(string_agg(x::text, E'\\n' ORDER BY x::text COLLATE "C")) AS h, count(*) AS n FROM ${t} x`,
    );
    out[t] = `${r?.n}:${r?.h}`;
  }
  for (const s of await sql<{ s: string; v: string | null }>(
    url,
    `SELECT schemaname || '.' || sequencename AS s, last_value::text AS v FROM pg_sequences ORDER BY 1`,
  )) {
    out[`seq ${s.s}`] = String(s.v);
  }
  return out;
}

async function databases(prefix: string): Promise<string[]> {
  return (
    await sql<{ d: string }>(
      ADMIN,
      `SELECT datname AS d FROM pg_database WHERE datname LIKE '${prefix}%' ORDER BY 1`,
    )
  ).map((r) => r.d);
}

const live = `graph_test_${randomBytes(3).toString('hex')}`;
let dir: string;
let bundle: FinalizedBundle;
let original: Record<string, string>;

async function exportTo(name: string): Promise<FinalizedBundle> {
  const writer = await BundleWriter.create({ dir, name });
  const r = await exportGraph({ databaseUrl: urlOf(live), bundle: writer });
  return writer.finalize({
    tool: { name: 'sam-backup', version: '0.0.0-test' },
    components: { graph: r.component },
  });
}

async function restore(path: string, extra: Partial<GraphRestoreOptions> = {}) {
  const reader = await openBundle(path);
  try {
    return await restoreGraph({ databaseUrl: urlOf(live), bundle: reader, ...extra });
  } finally {
    await reader.close();
  }
}

/** A copy of the bundle whose graph dump is `edit(dump)`, everything else (the fingerprint) as it was. */
async function withDump(name: string, edit: (dump: string) => string): Promise<string> {
  const reader = await openBundle(bundle.path);
  const chunks: Buffer[] = [];
  for await (const c of await reader.openEntry(ENTRY.graphDump)) chunks.push(c as Buffer);
  const writer = await BundleWriter.create({ dir, name });
  await writer.addEntry(ENTRY.graphDump, edit(Buffer.concat(chunks).toString('utf8')));
  const out = await writer.finalize({
    tool: reader.metadata.tool,
    components: reader.metadata.components,
  });
  await reader.close();
  return out.path;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'graph-test-'));
  await sql(ADMIN, `CREATE DATABASE ${live}`);
  await sql(ADMIN, `COMMENT ON DATABASE ${live} IS 'SAM AI memory (test)'`);
  await sql(ADMIN, `ALTER DATABASE ${live} SET search_path = knowledge, "$user", public`);
  const url = urlOf(live);
  await sql(
    url,
    `CREATE SCHEMA knowledge;
     CREATE TABLE knowledge.node (id bigserial PRIMARY KEY, label text NOT NULL, props jsonb,
       weight double precision, seen timestamptz);
     CREATE TABLE knowledge.edge (id bigserial PRIMARY KEY,
       start_id bigint NOT NULL REFERENCES knowledge.node(id) ON DELETE CASCADE,
       end_id bigint NOT NULL REFERENCES knowledge.node(id) ON DELETE CASCADE, kind text, props jsonb);
     CREATE TABLE public.loose (a text, b bytea, c numeric);
     INSERT INTO knowledge.node (label, props, weight, seen)
       SELECT 'Concept', jsonb_build_object('name', 'n' || g, 'tags', jsonb_build_array(g, g * 0.1)),
              g / 7.0::float8, '2024-01-01 00:00:00.123456+00'::timestamptz + g * interval '1 minute'
       FROM generate_series(1, 3000) g;
     INSERT INTO knowledge.edge (start_id, end_id, kind, props)
       SELECT 1 + (g * 7) % 3000, 1 + (g * 13) % 3000, 'RELATES', jsonb_build_object('w', g % 5)
       FROM generate_series(1, 8000) g;
     INSERT INTO public.loose VALUES ('tab\tand\nnewline', '\\x00ff', 1e-20), (NULL, NULL, NULL), ('', '\\x', 0.1);`,
  );
  original = await contents(live);
  bundle = await exportTo('graph.zip');
}, 120_000);

afterAll(async () => {
  for (const d of await databases(live)) await sql(ADMIN, `DROP DATABASE IF EXISTS "${d}" WITH (FORCE)`);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('graph database, plain PostgreSQL', () => {
  it('exports one snapshot: the dump entry and a fingerprint with every table and sequence', async () => {
    const reader = await openBundle(bundle.path);
    const c = reader.metadata.components.graph;
    await reader.close();
    expect(c?.entries).toEqual([ENTRY.graphDump]);
    expect(c?.counts).toMatchObject({ tables: 3, rows: 11003, graphs: 0, labels: 0 });
    const fp = (
      (c as { details: unknown }).details as {
        fingerprint: { tables: Array<{ table: string; rows: number }> };
      }
    ).fingerprint;
    expect(fp.tables.map((t) => [t.table, t.rows])).toEqual([
      ['knowledge.edge', 8000],
      ['knowledge.node', 3000],
      ['public.loose', 3],
    ]);
  });

  it('a dry-run lists the differences and changes nothing', async () => {
    await sql(
      urlOf(live),
      `DELETE FROM knowledge.edge WHERE id % 10 = 0; UPDATE knowledge.node SET weight = -1 WHERE id < 5`,
    );
    const damaged = await contents(live);
    const report = await restore(bundle.path, { dryRun: true });
    expect(report.dryRun).toBe(true);
    expect(report.differences.some((d) => d.startsWith('table knowledge.edge differs'))).toBe(true);
    expect(report.tables.find((t) => t.table === 'knowledge.edge')).toEqual({
      table: 'knowledge.edge',
      rowsInBundle: 8000,
      rowsNow: 7200,
    });
    expect(await contents(live)).toEqual(damaged);
    expect(await databases(`${live}__`)).toEqual([]);
  }, 60_000);

  it('restores beside the live database, verifies, swaps; the replaced one is kept until the next restore', async () => {
    await sql(urlOf(live), `INSERT INTO knowledge.node (label) VALUES ('after the backup')`);
    const damaged = await contents(live);
    // A session on the live database is ended by the swap, not waited for.
    const idle = new pg.Client({ connectionString: urlOf(live) });
    await idle.connect();
    idle.on('error', () => undefined);
    const first = await restore(bundle.path, { now: new Date('2026-01-01T00:00:00Z') });
    await idle.end().catch(() => undefined);
    expect(first.verified).toBe(true);
    expect(first.previous).toBe(`${live}__before_20260101_000000`);
    expect(await contents(live)).toEqual(original);
    expect(await contents(first.previous as string)).toEqual(damaged);
    // The database's own settings and comment, which a dump without --create leaves out, came along.
    const [settings] = await sql<{ comment: string; config: string[] }>(
      ADMIN,
      `SELECT shobj_description(d.oid, 'pg_database') AS comment,
              (SELECT setconfig FROM pg_db_role_setting s WHERE s.setdatabase = d.oid AND s.setrole = 0) AS config
       FROM pg_database d WHERE datname = '${live}'`,
    );
    expect(settings).toEqual({
      comment: 'SAM AI memory (test)',
      config: ['search_path=knowledge, "$user", public'],
    });

    const second = await restore(bundle.path, { now: new Date('2026-01-02T00:00:00Z') });
    expect(second.dropped).toEqual([first.previous]);
    expect(await databases(`${live}__`)).toEqual([`${live}__before_20260102_000000`]);
    expect(await contents(live)).toEqual(original);
    // Two restores within the same second keep both names apart.
    await sql(urlOf(live), `UPDATE knowledge.node SET label = 'same second' WHERE id = 2`);
    const third = await restore(bundle.path, { now: new Date('2026-01-02T00:00:00Z') });
    expect(third.previous).toBe(`${live}__before_20260102_000000_2`);
    expect(third.dropped).toEqual([`${live}__before_20260102_000000`]);
  }, 120_000);

  it('a dump whose content does not match its fingerprint is refused after loading; the live database is untouched', async () => {
    const tampered = await withDump('tampered.zip', (d) =>
      d.replace('{"name": "n17",', '{"name": "n17-tampered",'),
    );
    await sql(urlOf(live), `UPDATE knowledge.node SET label = 'live edit' WHERE id = 1`);
    const before = await contents(live);
    const err = await restore(tampered).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GraphError);
    expect((err as GraphError).code).toBe('VERIFY_FAILED');
    expect((err as Error).message).toContain('table knowledge.node differs');
    expect(await contents(live)).toEqual(before);
    expect((await databases(`${live}__restore_`)).length).toBe(0);
  }, 120_000);

  it('a dump that fails to load (SQL error) changes nothing and leaves no database behind', async () => {
    const broken = await withDump('broken.zip', (d) => `${d}\nSELECT no_such_function();\n`);
    const before = await contents(live);
    const err = await restore(broken).catch((e: unknown) => e);
    expect((err as GraphError).code).toBe('LOAD_FAILED');
    expect((err as Error).message).toContain('no_such_function');
    expect(await contents(live)).toEqual(before);
    expect((await databases(`${live}__restore_`)).length).toBe(0);
  }, 120_000);

  it('a restore killed with SIGKILL while loading, verifying or about to swap leaves the live database as it was; the next restore clears its leftovers', async () => {
    const dist = (pkg: string) => new URL(`../../${pkg}/dist/index.js`, import.meta.url).pathname;
    for (const pkg of ['graph', 'bundle']) {
      if (!existsSync(dist(pkg))) throw new Error(`${dist(pkg)} is missing: run \`pnpm build\` first`);
    }
    const script = join(dir, 'graph-restore-child.mjs');
    await writeFile(
      script,
      `import { openBundle } from ${JSON.stringify(dist('bundle'))};
import { restoreGraph } from ${JSON.stringify(dist('graph'))};
const [url, path, stopAt] = process.argv.slice(2);
const reader = await openBundle(path);
let last = '';
await restoreGraph({ databaseUrl: url, bundle: reader, onProgress: (p) => {
  if (p.phase !== last) { last = p.phase; process.stdout.write(p.phase + '\\n'); }
  if (p.phase === stopAt) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
} });
`,
    );
    for (const phase of ['graph load', 'graph verify', 'graph swap']) {
      await sql(urlOf(live), `DELETE FROM knowledge.edge WHERE id % 7 = 0`);
      const before = await contents(live);
      const seen = await new Promise<string[]>((resolve, reject) => {
        const child = spawn(process.execPath, [script, urlOf(live), bundle.path, phase], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        const phases: string[] = [];
        let err = '';
        child.stdout.on('data', (c: Buffer) => {
          for (const p of c.toString().split('\n').filter(Boolean)) {
            phases.push(p);
            if (p === phase) child.kill('SIGKILL');
          }
        });
        child.stderr.on('data', (c: Buffer) => {
          err += c.toString();
        });
        child.on('exit', (_code, signal) =>
          signal === 'SIGKILL'
            ? resolve(phases)
            : reject(new Error(`ended before ${phase}: ${phases.join(', ')} ${err}`)),
        );
      });
      expect(seen).toContain(phase);
      expect(await contents(live), phase).toEqual(before);
      const report = await restore(bundle.path);
      expect(
        report.dropped.some((d) => d.includes('__restore_')),
        phase,
      ).toBe(true);
      expect(await contents(live)).toEqual(original);
      expect(await databases(`${live}__restore_`)).toEqual([]);
    }
  }, 180_000);

  it('prepared beside the live database: discard leaves nothing; swap then undo puts the old database back', async () => {
    await sql(urlOf(live), `UPDATE knowledge.node SET label = 'before undo' WHERE id < 10`);
    const before = await contents(live);
    const reader = await openBundle(bundle.path);
    try {
      const discarded = await prepareGraphRestore({ databaseUrl: urlOf(live), bundle: reader });
      expect(discarded.report.verified).toBe(true);
      await discarded.discard();
      expect(await contents(live)).toEqual(before);
      expect(await databases(`${live}__restore_`)).toEqual([]);

      const prepared = await prepareGraphRestore({ databaseUrl: urlOf(live), bundle: reader });
      await prepared.swap();
      expect(await contents(live)).toEqual(original);
      // Another store failed to switch: the engine undoes this one.
      await prepared.undo();
      expect(await contents(live)).toEqual(before);
      expect((await databases(`${live}__`)).filter((d) => d.includes('__undone_'))).toEqual([]);
    } finally {
      await reader.close();
    }
  }, 120_000);

  it('refuses a pg_dump older than the server, naming the fix', async () => {
    const fake = join(dir, 'pg_dump');
    await writeFile(fake, '#!/bin/sh\necho "pg_dump (PostgreSQL) 14.9"\n');
    await chmod(fake, 0o755);
    const writer = await BundleWriter.create({ dir, name: 'old-tool.zip' });
    const err = await exportGraph({ databaseUrl: urlOf(live), bundle: writer, pgDumpPath: fake }).catch(
      (e: unknown) => e,
    );
    await writer.abort();
    expect((err as GraphError).code).toBe('TOOL_TOO_OLD');
    expect((err as Error).message).toMatch(
      /^pg_dump 14 \(.*\) is older than server 1\d: install postgresql-client-1\d$/,
    );
  });
});

const [ageRow] = await sql<{ v: string | null }>(
  ADMIN,
  `SELECT default_version AS v FROM pg_available_extensions WHERE name = 'age'`,
);
const ageVersion = ageRow?.v ?? null;
if (!ageVersion) {
  console.warn(
    '[graph] Apache AGE is not installed on this PostgreSQL server: the AGE tests are SKIPPED (the plain-PostgreSQL path above ran).',
  );
}

describe.skipIf(!ageVersion)(
  `graph database with Apache AGE ${ageVersion ?? '(not installed: skipped)'}`,
  () => {
    const ageDb = `graph_age_${randomBytes(3).toString('hex')}`;
    afterAll(async () => {
      for (const d of await databases(ageDb)) await sql(ADMIN, `DROP DATABASE IF EXISTS "${d}" WITH (FORCE)`);
    });

    it('round-trips a graph: catalog re-keyed to the new schema oids, Cypher sees every vertex and edge', async () => {
      await sql(ADMIN, `CREATE DATABASE ${ageDb}`);
      const url = urlOf(ageDb);
      await sql(
        url,
        `CREATE EXTENSION age; LOAD 'age'; SET search_path = ag_catalog, "$user", public;
       SELECT create_graph('sam_ai_knowledge');
       SELECT * FROM cypher('sam_ai_knowledge', $$ UNWIND range(1, 200) AS i CREATE (:Concept {name: 'c' + toString(i), w: i / 3.0}) $$) AS (a agtype);
       SELECT * FROM cypher('sam_ai_knowledge', $$ MATCH (a:Concept), (b:Concept) WHERE a.name = 'c1' AND b.name <> 'c1' CREATE (a)-[:RELATES {k: 1}]->(b) $$) AS (a agtype);`,
      );
      const before = await contents(ageDb);
      const writer = await BundleWriter.create({ dir, name: 'age.zip' });
      const r = await exportGraph({ databaseUrl: url, bundle: writer });
      const b = await writer.finalize({
        tool: { name: 'sam-backup', version: '0' },
        components: { graph: r.component },
      });
      expect(r.fingerprint.graphs).toEqual([{ name: 'sam_ai_knowledge', schema: 'sam_ai_knowledge' }]);
      await sql(
        url,
        `LOAD 'age'; SET search_path = ag_catalog, "$user", public;
      SELECT * FROM cypher('sam_ai_knowledge', $$ MATCH (v:Concept) WHERE v.name = 'c5' DETACH DELETE v $$) AS (a agtype);`,
      );
      const reader = await openBundle(b.path);
      const report = await restoreGraph({ databaseUrl: url, bundle: reader });
      await reader.close();
      expect(report.rekeyed).toBe(true);
      expect(report.probe).toEqual([{ graph: 'sam_ai_knowledge', vertices: 200, edges: 199 }]);
      // The catalog points at the restored schema, and Cypher works in a new session.
      const [g] = await sql<{ ok: boolean }>(
        url,
        `SELECT graphid = namespace::oid AS ok FROM ag_catalog.ag_graph`,
      );
      expect(g?.ok).toBe(true);
      const [n] = await sql<{ n: string }>(
        url,
        `LOAD 'age'; SET search_path = ag_catalog, "$user", public;
       SELECT n::text AS n FROM cypher('sam_ai_knowledge', $$ MATCH ()-[e:RELATES]->() RETURN count(e) $$) AS (n agtype)`,
      );
      expect(n?.n).toBe('199');
      const after = await contents(ageDb);
      for (const k of Object.keys(before))
        if (!k.startsWith('ag_catalog.')) expect(after[k], k).toBe(before[k]);
    }, 180_000);
  },
);
