import { BundleWriter, ENTRY } from '@sam-backup/bundle';
import { exportOdooData } from '@sam-backup/odoo-data';
import type { Command } from 'commander';
import { redactUrl } from '../config.js';
import type { ExitCode } from '../exit-codes.js';
import { EXIT } from '../exit-codes.js';
import { asCliError, odooProgress, parseComponents } from '../odoo/common.js';
import { type CliIO, formatBytes, formatDuration, printJson } from '../output/io.js';
import { ProgressReporter } from '../output/progress.js';
import { loadSettings } from '../settings.js';
import { TOOL_VERSION } from '../version.js';

interface ExportCliOptions {
  components: string;
  out?: string;
  dbUrl?: string;
  filestore?: string;
  modules?: string;
  includeSecrets?: boolean;
  config?: string;
  json?: boolean;
}

/** `sam-backup export`: one verified bundle of the chosen components (today: the Odoo data). */
export function registerExportCommand(
  program: Command,
  io: CliIO,
  state: { exitCode: ExitCode },
  env: NodeJS.ProcessEnv,
): void {
  program
    .command('export')
    .description('write a complete backup bundle of the SAM AI installation into the backup folder')
    .option('--components <list>', 'what to back up (today: odoo)', 'odoo')
    .option('--out <dir>', 'the folder the bundle goes to (default: $SAM_BACKUP_DIR)')
    .option('--db-url <url>', "the Odoo database's PostgreSQL URL (default: $SAM_ODOO_DB_URL)")
    .option('--filestore <dir>', "the Odoo database's filestore folder (default: $SAM_ODOO_FILESTORE)")
    .option(
      '--modules <list>',
      'module names or patterns, comma-separated (default: $SAM_ODOO_MODULES or ai_*,sam_*)',
    )
    .option('--include-secrets', 'keep password, API key, secret and token columns (blanked by default)')
    .option(
      '--config <file>',
      'a JSON settings file (odooDbUrl, filestore, modules, backupDir, secretColumns)',
    )
    .option('--json', 'print the final report as JSON on stdout (progress as JSON lines on stderr)')
    .action(async (opts: ExportCliOptions) => {
      parseComponents(opts.components);
      const settings = await loadSettings(
        {
          ...(opts.config === undefined ? {} : { config: opts.config }),
          options: {
            ...(opts.dbUrl === undefined ? {} : { odooDbUrl: opts.dbUrl }),
            ...(opts.filestore === undefined ? {} : { filestore: opts.filestore }),
            ...(opts.modules === undefined ? {} : { modules: opts.modules }),
            ...(opts.out === undefined ? {} : { backupDir: opts.out }),
          },
          env,
        },
        ['odooDbUrl', 'filestore', 'backupDir'],
      );
      const say = (line: string) => {
        if (!opts.json) io.stderr.write(`${line}\n`);
      };
      say(`exporting the Odoo data of ${redactUrl(settings.odooDbUrl)} into ${settings.backupDir}`);
      const progress = new ProgressReporter(io, { json: Boolean(opts.json) });
      const writer = await BundleWriter.create({ dir: settings.backupDir }).catch((err: unknown) => {
        throw asCliError(err, 'export');
      });
      const log: string[] = [`${new Date().toISOString()} sam-backup ${TOOL_VERSION} export`];
      try {
        const result = await exportOdooData({
          databaseUrl: settings.odooDbUrl,
          filestoreDir: settings.filestore,
          bundle: writer,
          includeSecrets: opts.includeSecrets === true,
          ...(settings.modules ? { modules: settings.modules } : {}),
          ...(settings.secretColumns ? { secretColumns: settings.secretColumns } : {}),
          onProgress: odooProgress(progress),
        });
        progress.finish();
        log.push(
          `${new Date().toISOString()} odoo: ${result.modelList.tables.length} tables, ${result.rows} rows, ${result.files} files in ${formatDuration(result.durationMs)}`,
        );
        for (const s of result.secretsOmitted) {
          log.push(
            `${new Date().toISOString()} secret column left out: ${s.table}.${s.column} (${s.rows} rows)`,
          );
        }
        for (const f of result.missingFiles)
          log.push(`${new Date().toISOString()} filestore file missing: ${f}`);
        await writer.addEntry(ENTRY.exportLog, `${log.join('\n')}\n`);
        const bundle = await writer.finalize({
          tool: { name: 'sam-backup', version: TOOL_VERSION },
          source: { odoo: { version: result.odooVersion }, modules: result.modules },
          components: { odoo: result.component },
          options: {
            secretsIncluded: opts.includeSecrets === true,
            secretsOmitted: result.secretsOmitted,
          },
        });
        state.exitCode = EXIT.ok;
        const report = {
          ok: true,
          bundle: bundle.path,
          bytes: bundle.size,
          sha256: bundle.sha256,
          odooVersion: result.odooVersion,
          modules: result.modules,
          tables: result.modelList.tables.length,
          rows: result.rows,
          files: result.files,
          missingFiles: result.missingFiles,
          secretsOmitted: result.secretsOmitted,
          durationMs: result.durationMs,
        };
        if (opts.json) {
          printJson(io, report);
          return;
        }
        io.stdout.write(
          `OK export: ${bundle.path}\n  ${formatBytes(bundle.size)}, sha256 ${bundle.sha256}\n  ${report.tables} tables, ${report.rows.toLocaleString('en-US')} rows, ${report.files} files in ${formatDuration(report.durationMs)}\n`,
        );
        if (result.secretsOmitted.length > 0) {
          io.stdout.write(
            `  secrets left out (pass --include-secrets to keep them): ${result.secretsOmitted.map((s) => `${s.table}.${s.column}`).join(', ')}\n`,
          );
        }
        if (result.missingFiles.length > 0) {
          io.stdout.write(
            `  warning: ${result.missingFiles.length} attachment files were missing from the filestore and are not in the bundle\n`,
          );
        }
      } catch (err) {
        progress.finish();
        await writer.abort();
        throw asCliError(err, 'export');
      }
    });
}
