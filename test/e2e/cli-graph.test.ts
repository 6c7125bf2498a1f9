/**
 * `sam-backup export/restore --components graph` on a plain PostgreSQL graph database, in-process:
 * the bundle round trip through the command line, the dry-run, and the JSON reports.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { samWith } from '../support/cli.js';
import { pgUrl } from '../support/services.js';

const database = `e2e_graph_${randomBytes(3).toString('hex')}`;
const url = (() => {
  const u = new URL(pgUrl);
  u.pathname = `/${database}`;
  return u.toString();
})();
let root = '';

async function sql<T extends pg.QueryResultRow>(target: string, text: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: target });
  await c.connect();
  try {
    return (await c.query<T>(text)).rows;
  } finally {
    await c.end();
  }
}

const fingerprint = async () =>
  (
    await sql<{ h: string }>(
      url,
      `SELECT md5(string_agg(x::text, E'\\n' ORDER BY x::text COLLATE "C")) AS h FROM memory.fact x`,
    )
  )[0]?.h;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'sam-cli-graph-'));
  await sql(pgUrl, `CREATE DATABASE ${database}`);
  await sql(
    url,
    `CREATE SCHEMA memory; CREATE TABLE memory.fact (id serial PRIMARY KEY, subject text, weight real);
     INSERT INTO memory.fact (subject, weight) SELECT 'fact ' || g, g / 3.0 FROM generate_series(1, 400) g;`,
  );
}, 60_000);

afterAll(async () => {
  for (const { d } of await sql<{ d: string }>(
    pgUrl,
    `SELECT datname AS d FROM pg_database WHERE datname LIKE '${database}%'`,
  )) {
    await sql(pgUrl, `DROP DATABASE IF EXISTS "${d}" WITH (FORCE)`);
  }
  if (root) await rm(root, { recursive: true, force: true });
});

it('exports the graph database, and restores it after damage, through the command line', async () => {
  const env = { SAM_GRAPH_DB_URL: url, SAM_BACKUP_DIR: join(root, 'backups') };
  const original = await fingerprint();
  const exp = await samWith({ env }, 'export', '--components', 'graph', '--json');
  expect(exp.code, exp.stderr).toBe(0);
  const report = JSON.parse(exp.stdout);
  expect(report.graph).toMatchObject({ database, tables: 1, rows: 400, age: null });

  await sql(url, `DELETE FROM memory.fact WHERE id % 5 = 0`);
  const dry = await samWith(
    { env },
    'restore',
    report.bundle,
    '--components',
    'graph',
    '--dry-run',
    '--json',
  );
  expect(dry.code, dry.stderr).toBe(0);
  expect(JSON.parse(dry.stdout).graph.tables).toEqual([
    { table: 'memory.fact', rowsInBundle: 400, rowsNow: 320 },
  ]);

  const res = await samWith({ env }, 'restore', report.bundle, '--components', 'graph', '--yes');
  expect(res.code, res.stderr).toBe(0);
  expect(res.stdout).toContain('OK restore: graph verified and switched');
  expect(res.stdout).toMatch(/the replaced database is kept as e2e_graph_\w+__before_/);
  expect(await fingerprint()).toBe(original);

  // Asking for a component the bundle does not hold is refused (exit 3), naming what it has.
  const missing = await samWith(
    { env: { ...env, SAM_ODOO_DB_URL: url, SAM_ODOO_FILESTORE: root } },
    'restore',
    report.bundle,
    '--components',
    'odoo,graph',
    '--yes',
  );
  expect(missing.code, missing.stderr).toBe(3);
  expect(missing.stderr).toContain('the bundle holds no odoo component (it has: graph)');
}, 120_000);
