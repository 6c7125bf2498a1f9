import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyBundle } from '@sam-backup/bundle';
import { dropFixture } from '@sam-backup/fixtures';
import pg from 'pg';
import { afterAll, expect, test } from 'vitest';
import { sam } from '../support/cli.js';
import { pgUrl } from '../support/services.js';

/** The README's main job, end to end, on the real PostgreSQL. */
const database = `e2e_demo_${process.pid}`;
let workDir = '';
afterAll(async () => {
  await dropFixture({ adminUrl: pgUrl, database, filestoreDir: join(workDir, 'filestore', database) });
  // The graph database and the one its restore replaced (kept as <name>__before_<time>).
  const c = new pg.Client({ connectionString: pgUrl });
  await c.connect();
  const graphs = await c.query<{ d: string }>(`SELECT datname AS d FROM pg_database WHERE datname LIKE $1`, [
    `${database}_memory%`,
  ]);
  await c.end();
  for (const { d } of graphs.rows) await dropFixture({ adminUrl: pgUrl, database: d });
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

test('sam-backup demo builds the sample installation, exports it, damages it and restores it, verified', async () => {
  workDir = await mkdtemp(join(tmpdir(), 'sam-backup-demo-'));
  const res = await sam('demo', '--db-url', pgUrl, '--work-dir', workDir, '--database', database, '--json');
  expect(res.code, res.stderr).toBe(0);
  const report = JSON.parse(res.stdout);
  expect(report).toMatchObject({ ok: true, fixture: { database } });
  expect(report.fixture.totalRows).toBeGreaterThan(100_000);
  // What was damaged came back: the deleted messages re-inserted, the renamed conversations
  // updated, the added one deleted, the lost file put back — every table verified before COMMIT.
  expect(report.restore.committed).toBe(true);
  expect(report.restore.inserted).toBeGreaterThanOrEqual(500);
  expect(report.restore.updated).toBeGreaterThan(0);
  expect(report.restore.deleted).toBeGreaterThanOrEqual(1);
  expect(report.restore.filesAdded).toBe(1);
  expect(report.restore.tablesVerified).toBe(report.export.tables);
  // The graph was damaged too, and came back verified; the damaged one is kept aside.
  expect(report.dryRun.graphDifferences).toBeGreaterThan(0);
  expect(report.restore.graphVerified).toBe(true);
  expect(report.restore.graphPrevious).toMatch(new RegExp(`^${database}_memory__before_`));
  // So were the vectors: a lost collection and records added after the backup.
  expect(report.fixture.vectors).toBe(2_400);
  expect(report.export.vectors).toBe(2_400);
  expect(report.dryRun.vectorCollections).toContainEqual({
    name: 'sam_documents',
    recordsInBundle: 600,
    recordsNow: null,
  });
  expect(report.dryRun.vectorCollections).toContainEqual({
    name: 'sam_memories',
    recordsInBundle: 1_500,
    recordsNow: 1_525,
  });
  expect(report.restore.vectorsVerified).toBe(true);
  expect(report.restore.vectorsPrevious).toMatch(/chroma_data__before_/);
  // One cut: the Odoo and graph snapshots under one write fence.
  expect(report.export.cut).toMatch(/write fence/);
  // The dry-run announced exactly what the restore then did.
  expect(report.dryRun).toMatchObject({
    toInsert: report.restore.inserted,
    toUpdate: report.restore.updated,
    toDelete: report.restore.deleted,
    filesToAdd: report.restore.filesAdded,
  });
  // The bundle is really there, with its checksum file, and verifies independently of the demo.
  const files = (await readdir(join(workDir, 'backups'))).sort();
  expect(files).toHaveLength(2);
  expect(files[1]).toBe(`${files[0]}.sha256`);
  const verified = await verifyBundle(join(workDir, 'backups', files[0] as string));
  expect(verified.ok).toBe(true);
  expect(verified.entriesChecked).toBe(report.verify.entries);
}, 300_000);
