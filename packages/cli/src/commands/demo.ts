import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { verifyBundle } from '@sam-backup/bundle';
import { exportInstallation, restoreInstallation } from '@sam-backup/engine';
import { createFixture, createGraphFixture, createVectorFixture } from '@sam-backup/fixtures';
import { ChromaHttp, startChromaServer } from '@sam-backup/vectors';
import type { Command } from 'commander';
import pg from 'pg';
import { postgresUrl, redactUrl } from '../config.js';
import { CliError, EXIT, type ExitCode } from '../exit-codes.js';
import { asCliError, engineProgress } from '../odoo/common.js';
import { type CliIO, formatBytes, formatDuration, printJson } from '../output/io.js';
import { ProgressReporter } from '../output/progress.js';
import { TOOL_VERSION } from '../version.js';

interface DemoOptions {
  dbUrl?: string;
  workDir: string;
  database: string;
  scale: string;
  seed: string;
  json?: boolean;
}

function parseScale(value: string): 'S' | 'L' | number {
  if (value === 'S' || value === 'L') return value;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new CliError(`--scale ${value}: expected S, L or a positive factor of S`, EXIT.usage);
  return n;
}

/**
 * The main job of the README: builds the sample SAM AI installation (Odoo-shaped database with its
 * filestore, a knowledge graph database, a Chroma persist directory), exports the three into one
 * bundle, verifies the bundle, damages every store, and restores them (dry-run, then every store
 * prepared and verified beside the live one before any is switched).
 */
export function registerDemoCommand(program: Command, io: CliIO, state: { exitCode: ExitCode }): void {
  program
    .command('demo')
    .description(
      'build a sample SAM AI installation, back it up, verify the bundle, damage the installation and restore it',
    )
    .option('--db-url <url>', 'a PostgreSQL superuser URL (default: $SAM_DEMO_PG_URL)')
    .option('--work-dir <dir>', 'where the sample filestore and the bundles go', 'var/demo')
    .option('--database <name>', 'the sample Odoo database to (re)create', 'sam_ai_demo')
    .option('--scale <S|L|factor>', 'the size of the sample installation', 'S')
    .option('--seed <n>', 'the seed of the sample data', '42')
    .option('--json', 'print the final report as JSON on stdout')
    .action(async (opts: DemoOptions) => {
      const adminUrl = postgresUrl(
        opts.dbUrl ?? process.env.SAM_DEMO_PG_URL,
        '--db-url (or SAM_DEMO_PG_URL)',
      );
      const workDir = resolve(opts.workDir);
      const filestoreDir = join(workDir, 'filestore', opts.database);
      const backupDir = join(workDir, 'backups');
      const say = (line: string) => {
        if (!opts.json) io.stderr.write(`${line}\n`);
      };
      const started = performance.now();

      say(
        `1/5 building the sample SAM AI installation: database ${opts.database} on ${redactUrl(adminUrl)}, scale ${opts.scale}`,
      );
      const progress = new ProgressReporter(io, { json: Boolean(opts.json) });
      const fixture = await createFixture({
        adminUrl,
        database: opts.database,
        filestoreDir,
        scale: parseScale(opts.scale),
        seed: Number(opts.seed),
        dropExisting: true,
        onProgress: (p) =>
          progress.update({
            phase: 'sample data',
            item: p.step,
            done: p.done,
            total: p.total,
            unit: 'items',
          }),
      });
      progress.finish();
      say(
        `    ${fixture.totalRows.toLocaleString('en-US')} rows in ${Object.keys(fixture.rows).length} tables, ${fixture.filestoreFiles} filestore files (${formatBytes(fixture.filestoreBytes)}) in ${formatDuration(fixture.durationMs)}`,
      );
      const graphDatabase = `${opts.database}_memory`;
      const graphFixture = await createGraphFixture({
        adminUrl,
        database: graphDatabase,
        scale: parseScale(opts.scale),
        dropExisting: true,
      });
      say(
        `    knowledge graph ${graphDatabase}: ${graphFixture.vertices.toLocaleString('en-US')} vertices, ${graphFixture.edges.toLocaleString('en-US')} edges (plain PostgreSQL, laid out as Apache AGE lays out a graph)`,
      );
      const chromaPath = join(workDir, 'chroma_data');
      const vectorFixture = await createVectorFixture({
        path: chromaPath,
        scale: parseScale(opts.scale),
        dropExisting: true,
      });
      say(
        `    Chroma ${chromaPath}: ${vectorFixture.collections.map((c) => `${c.name} (${c.space}, ${c.records} × ${c.dimension})`).join(', ')}, written by a real Chroma server`,
      );
      const settings = {
        odoo: { databaseUrl: fixture.databaseUrl, filestoreDir },
        graph: { databaseUrl: graphFixture.databaseUrl },
        vectors: { settings: { mode: 'directory' as const, path: chromaPath } },
      };

      say(`2/5 exporting the Odoo data, the graph and the vectors into one bundle in ${backupDir}`);
      let exported: Awaited<ReturnType<typeof exportInstallation>>;
      try {
        exported = await exportInstallation({
          components: ['odoo', 'graph', 'vectors'],
          backupDir,
          tool: { name: 'sam-backup', version: TOOL_VERSION },
          ...settings,
          onProgress: engineProgress(progress),
        });
      } catch (err) {
        throw asCliError(err, 'demo export');
      } finally {
        progress.finish();
      }
      const { bundle } = exported;
      const odooRows = exported.odoo?.rows ?? 0;
      const odooTables = exported.odoo?.modelList.tables.length ?? 0;
      say(
        `    ${bundle.path} (${formatBytes(bundle.size)}): ${odooTables} tables, ${odooRows.toLocaleString('en-US')} rows, ${exported.odoo?.files ?? 0} files; graph dump ${formatBytes(exported.graph?.bytes ?? 0)}; ${exported.vectors?.component.counts.records ?? 0} vectors; in ${formatDuration(exported.durationMs)}`,
      );
      say(`    cut: ${exported.cut}`);

      say('3/5 verifying the bundle');
      const verified = await verifyBundle(bundle.path);
      if (!verified.ok) {
        throw new CliError(
          `the demo bundle did not verify:\n${verified.problems.map((p) => `  [${p.code}] ${p.message}`).join('\n')}`,
          EXIT.failed,
        );
      }
      say(`    ${verified.entriesChecked} entries, every size, CRC-32 and SHA-256 matches`);

      say('4/5 damaging the installation the way accidents do');
      const damage = [
        ...(await damageInstallation(fixture.databaseUrl, filestoreDir)),
        ...(await damageGraph(graphFixture.databaseUrl)),
        ...(await damageVectors(chromaPath)),
      ];
      say(`    ${damage.join('; ')}`);

      say('5/5 restoring the bundle (dry-run first; then every store prepared and verified, then switched)');
      let preview: Awaited<ReturnType<typeof restoreInstallation>>;
      let report: Awaited<ReturnType<typeof restoreInstallation>>;
      try {
        const restoreOpts = {
          bundlePath: bundle.path,
          components: ['odoo', 'graph', 'vectors'] as const,
          ...settings,
          stateDir: backupDir,
          onProgress: engineProgress(progress),
        };
        preview = await restoreInstallation({ ...restoreOpts, dryRun: true });
        progress.finish();
        report = await restoreInstallation(restoreOpts);
      } catch (err) {
        throw asCliError(err, 'demo restore');
      } finally {
        progress.finish();
      }
      const odooReport = report.odoo;
      const sum = (r: typeof odooReport, k: 'toInsert' | 'toUpdate' | 'toDelete') =>
        (r?.tables ?? []).reduce((a, t) => a + t[k], 0);
      const allVerified =
        report.switched &&
        odooReport?.committed === true &&
        odooReport.tables.every((t) => t.verified) &&
        report.graph?.verified === true &&
        report.vectors?.verified === true;
      state.exitCode = allVerified ? EXIT.ok : EXIT.failed;
      const result = {
        ok: allVerified,
        bundle: bundle.path,
        bundleBytes: bundle.size,
        sha256: bundle.sha256,
        fixture: {
          database: opts.database,
          totalRows: fixture.totalRows,
          filestoreFiles: fixture.filestoreFiles,
          graphDatabase,
          vertices: graphFixture.vertices,
          edges: graphFixture.edges,
          chromaPath,
          vectors: vectorFixture.records,
        },
        export: {
          tables: odooTables,
          rows: odooRows,
          files: exported.odoo?.files ?? 0,
          graphDumpBytes: exported.graph?.bytes ?? 0,
          vectors: exported.vectors?.component.counts.records ?? 0,
          cut: exported.cut,
        },
        verify: {
          entries: verified.entriesChecked,
          bytes: verified.bytesChecked,
          problems: verified.problems,
        },
        damage,
        dryRun: {
          toInsert: sum(preview.odoo, 'toInsert'),
          toUpdate: sum(preview.odoo, 'toUpdate'),
          toDelete: sum(preview.odoo, 'toDelete'),
          filesToAdd: preview.odoo?.files.toAdd ?? 0,
          graphDifferences: preview.graph?.differences.length ?? 0,
          vectorCollections: preview.vectors?.collections ?? [],
        },
        restore: {
          tablesVerified: odooReport?.tables.filter((t) => t.verified).length ?? 0,
          inserted: sum(odooReport, 'toInsert'),
          updated: sum(odooReport, 'toUpdate'),
          deleted: sum(odooReport, 'toDelete'),
          filesAdded: odooReport?.files.toAdd ?? 0,
          committed: odooReport?.committed === true,
          graphVerified: report.graph?.verified === true,
          graphPrevious: report.graph?.previous ?? null,
          vectorsVerified: report.vectors?.verified === true,
          vectorsPrevious: report.vectors?.previous ?? null,
        },
        durationMs: Math.round(performance.now() - started),
      };
      if (opts.json) {
        printJson(io, result);
        return;
      }
      io.stdout.write(
        allVerified
          ? `OK demo: exported ${odooRows.toLocaleString('en-US')} rows, the knowledge graph and ${result.export.vectors.toLocaleString('en-US')} vectors into ${bundle.path}, damaged all three stores, and restored them: ${result.restore.inserted} rows re-inserted, ${result.restore.updated} updated, ${result.restore.deleted} deleted, ${result.restore.filesAdded} file(s) put back, all ${result.restore.tablesVerified} tables verified by content hash; the graph database verified and swapped in (the damaged one kept as ${result.restore.graphPrevious}); the Chroma directory verified and swapped in (the damaged one kept as ${String(result.restore.vectorsPrevious)}). Try:\n  pnpm sam-backup inspect ${bundle.path}\n`
          : 'FAILED demo: the restore did not verify every store\n',
      );
    });
}

/** What the demo breaks in Chroma: a lost collection and records added after the backup. */
async function damageVectors(path: string): Promise<string[]> {
  const server = await startChromaServer(path);
  try {
    const http = new ChromaHttp(server.url);
    const cols = await http.listCollections();
    const lost = cols.find((c) => c.name === 'sam_documents');
    if (lost) await http.deleteCollection(lost.name);
    const mem = cols.find((c) => c.name === 'sam_memories');
    let added = 0;
    if (mem) {
      const dim = mem.dimension ?? 384;
      const ids = Array.from({ length: 25 }, (_, i) => `after-backup-${i}`);
      await http.add(mem.id, {
        ids,
        embeddings: ids.map((_, i) => Array.from({ length: dim }, (_, k) => Math.sin(i + k))),
        documents: ids.map((id) => `written after the backup: ${id}`),
        metadatas: null,
        uris: null,
      });
      added = ids.length;
    }
    return [
      lost ? `Chroma collection ${lost.name} deleted` : 'no collection to delete',
      `${added} vectors added`,
    ];
  } finally {
    await server.stop();
  }
}

/** What the demo breaks in the graph: lost edges and overwritten vertices. */
async function damageGraph(databaseUrl: string): Promise<string[]> {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const edges = await db.query(`DELETE FROM sam_ai_knowledge."MENTIONS" WHERE id % 10 = 0`);
    const vertices = await db.query(
      `UPDATE sam_ai_knowledge."Concept" SET properties = properties || '{"name": "overwritten"}' WHERE id % 25 = 0`,
    );
    return [`${edges.rowCount} graph edges deleted`, `${vertices.rowCount} graph vertices overwritten`];
  } finally {
    await db.end();
  }
}

/** What the demo breaks before restoring: edits, deletions, an insertion and a lost file. */
async function damageInstallation(databaseUrl: string, filestoreDir: string): Promise<string[]> {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const edited = await db.query(
      `UPDATE ai_conversation SET name = 'overwritten by mistake' WHERE id % 10 = 0`,
    );
    const deleted = await db.query(
      `DELETE FROM ai_message WHERE id IN (SELECT id FROM ai_message ORDER BY id DESC LIMIT 500)`,
    );
    const added = await db.query(
      `INSERT INTO ai_conversation (name, user_id, active, create_date, write_date)
       SELECT 'created after the backup', user_id, true, now(), now() FROM ai_conversation ORDER BY id LIMIT 1`,
    );
    const file = await db.query<{ f: string }>(
      `SELECT store_fname AS f FROM ir_attachment WHERE res_model LIKE 'ai.%' AND store_fname IS NOT NULL ORDER BY id LIMIT 1`,
    );
    const lost = file.rows[0]?.f;
    if (lost) await rm(join(filestoreDir, lost), { force: true });
    return [
      `${edited.rowCount} conversations renamed`,
      `${deleted.rowCount} messages deleted`,
      `${added.rowCount} conversation added`,
      lost ? `filestore file ${lost} deleted` : 'no filestore file to delete',
    ];
  } finally {
    await db.end();
  }
}
