/**
 * The engine across the Odoo data and the graph database, on the real PostgreSQL: one bundle,
 * one restore that switches both or neither. Contents are compared with the test's own md5
 * fingerprints.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFixture, dropFixture } from '@sam-backup/fixtures';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BundleDamagedError, exportInstallation, restoreInstallation } from '../src/index.js';

const ADMIN = process.env.SAM_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:55432/postgres';
const urlOf = (database: string) => {
  const u = new URL(ADMIN);
  u.pathname = `/${database}`;
  return u.toString();
};
const tag = randomBytes(3).toString('hex');
const odooDb = `engine_odoo_${tag}`;
const graphDb = `engine_graph_${tag}`;
let root = '';
let filestore = '';
let bundlePath = '';

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

async function md5(url: string, table: string): Promise<string> {
  const [r] = await sql<{ h: string | null; n: string }>(
    url,
    `SELECT md5(string_agg(x::text, E'\\n' ORDER BY x::text COLLATE "C")) AS h, count(*) AS n FROM ${table} x`,
  );
  return `${r?.n}:${r?.h}`;
}

/** The test's own view of both stores. */
async function state(): Promise<Record<string, string>> {
  return {
    conversations: await md5(urlOf(odooDb), 'ai_conversation'),
    messages: await md5(urlOf(odooDb), 'ai_message'),
    nodes: await md5(urlOf(graphDb), 'knowledge.node'),
    edges: await md5(urlOf(graphDb), 'knowledge.edge'),
  };
}

async function damage(label: string): Promise<void> {
  await sql(urlOf(odooDb), `UPDATE ai_conversation SET name = '${label}' WHERE id % 3 = 0`);
  await sql(
    urlOf(odooDb),
    `DELETE FROM ai_message WHERE id IN (SELECT id FROM ai_message ORDER BY id LIMIT 30)`,
  );
  await sql(
    urlOf(graphDb),
    `DELETE FROM knowledge.edge WHERE id % 4 = 0; UPDATE knowledge.node SET label = '${label}' WHERE id < 20`,
  );
}

const settings = () => ({
  odoo: { databaseUrl: urlOf(odooDb), filestoreDir: filestore },
  graph: { databaseUrl: urlOf(graphDb) },
});

let original: Record<string, string>;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'engine-test-'));
  filestore = join(root, 'filestore');
  await createFixture({ adminUrl: ADMIN, database: odooDb, filestoreDir: filestore, scale: 0.1, seed: 3 });
  await sql(ADMIN, `CREATE DATABASE ${graphDb}`);
  await sql(
    urlOf(graphDb),
    `CREATE SCHEMA knowledge;
     CREATE TABLE knowledge.node (id bigserial PRIMARY KEY, label text NOT NULL, props jsonb);
     CREATE TABLE knowledge.edge (id bigserial PRIMARY KEY, start_id bigint REFERENCES knowledge.node(id),
       end_id bigint REFERENCES knowledge.node(id), props jsonb);
     INSERT INTO knowledge.node (label, props) SELECT 'Memory', jsonb_build_object('i', g) FROM generate_series(1, 500) g;
     INSERT INTO knowledge.edge (start_id, end_id, props)
       SELECT 1 + g % 500, 1 + (g * 7) % 500, jsonb_build_object('w', g) FROM generate_series(1, 1500) g;`,
  );
  original = await state();
  const r = await exportInstallation({
    components: ['odoo', 'graph'],
    backupDir: join(root, 'backups'),
    tool: { name: 'sam-backup', version: '0.0.0-test' },
    ...settings(),
  });
  bundlePath = r.bundle.path;
}, 300_000);

afterAll(async () => {
  await dropFixture({ adminUrl: ADMIN, database: odooDb, filestoreDir: filestore }).catch(() => undefined);
  for (const { d } of await sql<{ d: string }>(
    ADMIN,
    `SELECT datname AS d FROM pg_database WHERE datname LIKE '${graphDb}%'`,
  )) {
    await sql(ADMIN, `DROP DATABASE IF EXISTS "${d}" WITH (FORCE)`);
  }
  if (root) await rm(root, { recursive: true, force: true });
});

describe('engine: Odoo data and graph in one bundle, one restore', () => {
  it('restores both stores after both were damaged; a dry-run then finds nothing to change', async () => {
    await damage('first damage');
    expect(await state()).not.toEqual(original);
    const report = await restoreInstallation({ bundlePath, components: ['odoo', 'graph'], ...settings() });
    expect(report.switched).toBe(true);
    expect(report.graph?.verified).toBe(true);
    expect(report.odoo?.committed).toBe(true);
    expect(await state()).toEqual(original);
    const dry = await restoreInstallation({
      bundlePath,
      components: ['odoo', 'graph'],
      dryRun: true,
      ...settings(),
    });
    expect(dry.graph?.differences).toEqual([]);
    expect(dry.odoo?.tables.every((t) => t.toInsert + t.toUpdate + t.toDelete === 0)).toBe(true);
  }, 240_000);

  it('when the Odoo COMMIT fails after the graph was swapped in, the graph swap is undone: both stay old', async () => {
    await damage('second damage');
    const before = await state();
    const kept = async () =>
      (
        await sql<{ d: string }>(
          ADMIN,
          `SELECT datname AS d FROM pg_database WHERE datname LIKE '${graphDb}\\_\\_before\\_%' ORDER BY 1`,
        )
      ).map((r) => r.d);
    const keptBefore = await kept();
    expect(keptBefore).toHaveLength(1);
    const err = await restoreInstallation({
      bundlePath,
      components: ['odoo', 'graph'],
      ...settings(),
      onProgress: (p) => {
        // The moment before COMMIT: the connection holding the Odoo transaction is cut.
        if (p.component === 'odoo' && p.phase === 'commit') {
          execFileSync('psql', [
            '-X',
            '-q',
            '-d',
            ADMIN,
            '-c',
            `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${odooDb}' AND state LIKE 'idle in transaction%'`,
          ]);
        }
      },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(await state()).toEqual(before);
    const left = await sql<{ d: string }>(
      ADMIN,
      `SELECT datname AS d FROM pg_database WHERE datname LIKE '${graphDb}\\_\\_%' AND datname NOT LIKE '%\\_\\_before\\_%'`,
    );
    expect(left).toEqual([]);
    // The database the previous (successful) restore kept is still there: a failed restore drops nothing.
    expect(await kept()).toEqual(keptBefore);
  }, 240_000);

  it('refuses a damaged bundle before touching either store', async () => {
    const { readFile, writeFile } = await import('node:fs/promises');
    const bytes = await readFile(bundlePath);
    const at = Math.floor(bytes.length / 3);
    bytes[at] = (bytes[at] as number) ^ 0x55;
    const damaged = join(root, 'damaged.zip');
    await writeFile(damaged, bytes);
    const before = await state();
    const err = await restoreInstallation({
      bundlePath: damaged,
      components: ['odoo', 'graph'],
      ...settings(),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BundleDamagedError);
    expect(await state()).toEqual(before);
  }, 120_000);
});
