import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { BundleWriter, ENTRY, openBundle, verifyBundle } from '@sam-backup/bundle';
import { createFixture } from '@sam-backup/fixtures';
import { dryRunRestore, exportOdooData, restoreOdooData } from '@sam-backup/odoo-data';
import type { Command } from 'commander';
import pg from 'pg';
import { postgresUrl, redactUrl } from '../config.js';
import { CliError, EXIT, type ExitCode } from '../exit-codes.js';
import { asCliError, odooProgress } from '../odoo/common.js';
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
 * The main job of the README: builds the sample SAM AI installation, exports its Odoo data into a
 * bundle, verifies the bundle, damages the installation, and restores it (dry-run, then the
 * restore verified by content hash before COMMIT). The graph and vectors join it with issue 4.
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

      say(`2/5 exporting its Odoo data into a bundle in ${backupDir}`);
      const writer = await BundleWriter.create({ dir: backupDir });
      let exported: Awaited<ReturnType<typeof exportOdooData>>;
      try {
        exported = await exportOdooData({
          databaseUrl: fixture.databaseUrl,
          filestoreDir,
          bundle: writer,
          onProgress: odooProgress(progress),
        });
        progress.finish();
        await writer.addEntry(ENTRY.instructions, instructions(opts.database));
        await writer.addEntry(
          ENTRY.exportLog,
          `${new Date().toISOString()} sam-backup ${TOOL_VERSION} demo export of ${opts.database}: ${exported.rows} rows, ${exported.files} files\n`,
        );
      } catch (err) {
        progress.finish();
        await writer.abort();
        throw asCliError(err, 'demo export');
      }
      const bundle = await writer.finalize({
        tool: { name: 'sam-backup', version: TOOL_VERSION },
        source: {
          odoo: { version: exported.odooVersion, database: opts.database },
          modules: exported.modules,
        },
        components: { odoo: exported.component },
        options: { secretsIncluded: false, secretsOmitted: exported.secretsOmitted },
      });
      say(
        `    ${bundle.path} (${formatBytes(bundle.size)}): ${exported.modelList.tables.length} tables, ${exported.rows.toLocaleString('en-US')} rows, ${exported.files} files in ${formatDuration(exported.durationMs)}`,
      );

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
      const damage = await damageInstallation(fixture.databaseUrl, filestoreDir);
      say(`    ${damage.join('; ')}`);

      say('5/5 restoring the bundle (dry-run first, then the restore, verified before COMMIT)');
      const reader = await openBundle(bundle.path);
      let report: Awaited<ReturnType<typeof restoreOdooData>>;
      let preview: Awaited<ReturnType<typeof dryRunRestore>>;
      try {
        const restoreOpts = {
          databaseUrl: fixture.databaseUrl,
          filestoreDir,
          bundle: reader,
          onProgress: odooProgress(progress),
        };
        preview = await dryRunRestore(restoreOpts);
        progress.finish();
        report = await restoreOdooData(restoreOpts);
        progress.finish();
      } catch (err) {
        progress.finish();
        throw asCliError(err, 'demo restore');
      } finally {
        await reader.close();
      }
      const sum = (k: 'toInsert' | 'toUpdate' | 'toDelete') => report.tables.reduce((a, t) => a + t[k], 0);
      const allVerified = report.committed && report.tables.every((t) => t.verified);
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
        },
        export: { tables: exported.modelList.tables.length, rows: exported.rows, files: exported.files },
        verify: {
          entries: verified.entriesChecked,
          bytes: verified.bytesChecked,
          problems: verified.problems,
        },
        damage,
        dryRun: {
          toInsert: preview.tables.reduce((a, t) => a + t.toInsert, 0),
          toUpdate: preview.tables.reduce((a, t) => a + t.toUpdate, 0),
          toDelete: preview.tables.reduce((a, t) => a + t.toDelete, 0),
          filesToAdd: preview.files.toAdd,
        },
        restore: {
          tablesVerified: report.tables.filter((t) => t.verified).length,
          inserted: sum('toInsert'),
          updated: sum('toUpdate'),
          deleted: sum('toDelete'),
          filesAdded: report.files.toAdd,
          committed: report.committed,
        },
        durationMs: Math.round(performance.now() - started),
      };
      if (opts.json) {
        printJson(io, result);
        return;
      }
      io.stdout.write(
        allVerified
          ? `OK demo: exported ${exported.rows.toLocaleString('en-US')} rows into ${bundle.path}, damaged the database, and restored it: ${result.restore.inserted} rows re-inserted, ${result.restore.updated} updated, ${result.restore.deleted} deleted, ${result.restore.filesAdded} file(s) put back; all ${result.restore.tablesVerified} tables verified by content hash. Try:\n  pnpm sam-backup inspect ${bundle.path}\n`
          : 'FAILED demo: the restore did not verify every table\n',
      );
    });
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

function instructions(database: string): string {
  return `# Restoring this bundle

This bundle was written by the sam-backup demo from the sample database \`${database}\`.

Check it first — every entry's size and SHA-256 against metadata.json:

    sam-backup verify <this file>
    sam-backup inspect <this file>

With standard tools only: \`sha256sum -c <this file>.sha256\` checks the whole file, and
\`unzip -l\` lists the entries; \`odoo_data/filestore/\` holds the attachment files, named as
Odoo's filestore names them (copy them under \`<data_dir>/filestore/<database>/\`).
`;
}
