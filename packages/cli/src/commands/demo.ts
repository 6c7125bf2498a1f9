import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { BundleWriter, ENTRY, verifyBundle } from '@sam-backup/bundle';
import { createFixture } from '@sam-backup/fixtures';
import type { Command } from 'commander';
import { postgresUrl, redactUrl } from '../config.js';
import { CliError, EXIT, type ExitCode } from '../exit-codes.js';
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

async function* walk(dir: string): AsyncGenerator<string> {
  for (const d of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, d.name);
    if (d.isDirectory()) yield* walk(path);
    else if (d.isFile()) yield path;
  }
}

function parseScale(value: string): 'S' | 'L' | number {
  if (value === 'S' || value === 'L') return value;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new CliError(`--scale ${value}: expected S, L or a positive factor of S`, EXIT.usage);
  return n;
}

/**
 * The main job of the README. Today (bundle format, fixtures): builds the sample SAM AI
 * installation, writes a sample bundle from its filestore, and verifies it. The Odoo data, graph
 * and vector components join it as they are built.
 */
export function registerDemoCommand(program: Command, io: CliIO, state: { exitCode: ExitCode }): void {
  program
    .command('demo')
    .description('build a sample SAM AI installation, back it up into a bundle and verify the bundle')
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
        `1/3 building the sample SAM AI installation: database ${opts.database} on ${redactUrl(adminUrl)}, scale ${opts.scale}`,
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

      say(`2/3 writing a bundle in ${backupDir}`);
      const writer = await BundleWriter.create({ dir: backupDir });
      const log: string[] = [
        `${new Date().toISOString()} sam-backup ${TOOL_VERSION} demo export of ${opts.database}`,
      ];
      let files = 0;
      let bytes = 0;
      try {
        for await (const path of walk(filestoreDir)) {
          const name = `${ENTRY.filestoreDir}${relative(filestoreDir, path).split(sep).join('/')}`;
          // Filestore files are mostly already-compressed media: store them as they are.
          const record = await writer.addEntry(name, createReadStream(path), { compression: 'store' });
          files++;
          bytes += record.size;
        }
        log.push(`${new Date().toISOString()} filestore: ${files} files, ${bytes} bytes`);
        await writer.addEntry(ENTRY.instructions, instructions(opts.database));
        log.push(`${new Date().toISOString()} done`);
        await writer.addEntry(ENTRY.exportLog, `${log.join('\n')}\n`);
      } catch (err) {
        await writer.abort();
        throw err;
      }
      const bundle = await writer.finalize({
        tool: { name: 'sam-backup', version: TOOL_VERSION },
        source: { odoo: { version: `${fixture.odooVersion}.0`, database: opts.database } },
        components: {
          filestore: { entries: [ENTRY.filestoreDir], counts: { files, bytes } },
        },
      });
      say(`    ${bundle.path} (${formatBytes(bundle.size)}, sha256 ${bundle.sha256.slice(0, 16)}…)`);

      say('3/3 verifying the bundle');
      const report = await verifyBundle(bundle.path);
      state.exitCode = report.ok ? EXIT.ok : EXIT.failed;
      const result = {
        ok: report.ok,
        bundle: bundle.path,
        bundleBytes: bundle.size,
        sha256: bundle.sha256,
        fixture: {
          database: opts.database,
          totalRows: fixture.totalRows,
          filestoreFiles: fixture.filestoreFiles,
        },
        verify: { entries: report.entriesChecked, bytes: report.bytesChecked, problems: report.problems },
        durationMs: Math.round(performance.now() - started),
      };
      if (opts.json) {
        printJson(io, result);
        return;
      }
      io.stdout.write(
        report.ok
          ? `OK demo: ${bundle.path} holds ${report.entriesChecked} entries; every one verified. Try:\n  node packages/cli/dist/main.js inspect ${bundle.path}\n`
          : `FAILED demo: the bundle did not verify:\n${report.problems.map((p) => `  [${p.code}] ${p.message}`).join('\n')}\n`,
      );
    });
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
