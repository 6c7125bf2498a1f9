import { type Component, exportInstallation } from '@sam-backup/engine';
import type { Command } from 'commander';
import { redactUrl } from '../config.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { asCliError, engineProgress, parseComponents } from '../odoo/common.js';
import { type CliIO, formatBytes, formatDuration, printJson } from '../output/io.js';
import { ProgressReporter } from '../output/progress.js';
import { configuredComponents, loadSettings, vectorSettings } from '../settings.js';
import { TOOL_VERSION } from '../version.js';

interface ExportCliOptions {
  components?: string;
  chromaPath?: string;
  chromaUrl?: string;
  out?: string;
  dbUrl?: string;
  graphDbUrl?: string;
  filestore?: string;
  modules?: string;
  includeSecrets?: boolean;
  config?: string;
  json?: boolean;
}

/** `sam-backup export`: one verified bundle of the chosen components. */
export function registerExportCommand(
  program: Command,
  io: CliIO,
  state: { exitCode: ExitCode },
  env: NodeJS.ProcessEnv,
): void {
  program
    .command('export')
    .description('write a complete backup bundle of the SAM AI installation into the backup folder')
    .option(
      '--components <list>',
      'what to back up: odoo, graph, vectors (comma-separated; default: every store whose settings are given)',
    )
    .option('--out <dir>', 'the folder the bundle goes to (default: $SAM_BACKUP_DIR)')
    .option('--db-url <url>', "the Odoo database's PostgreSQL URL (default: $SAM_ODOO_DB_URL)")
    .option('--graph-db-url <url>', "the graph database's superuser URL (default: $SAM_GRAPH_DB_URL)")
    .option('--filestore <dir>', "the Odoo database's filestore folder (default: $SAM_ODOO_FILESTORE)")
    .option('--chroma-path <dir>', "Chroma's persist directory (default: $SAM_CHROMA_PATH)")
    .option('--chroma-url <url>', "a Chroma server's URL, instead of a directory (default: $SAM_CHROMA_URL)")
    .option(
      '--modules <list>',
      'module names or patterns, comma-separated (default: $SAM_ODOO_MODULES or ai_*,sam_*)',
    )
    .option('--include-secrets', 'keep password, API key, secret and token columns (blanked by default)')
    .option(
      '--config <file>',
      'a JSON settings file (odooDbUrl, graphDbUrl, filestore, modules, backupDir, secretColumns, chromaPath, chromaUrl, …)',
    )
    .option('--json', 'print the final report as JSON on stdout (progress as JSON lines on stderr)')
    .action(async (opts: ExportCliOptions) => {
      const given = {
        ...(opts.config === undefined ? {} : { config: opts.config }),
        options: {
          ...(opts.dbUrl === undefined ? {} : { odooDbUrl: opts.dbUrl }),
          ...(opts.graphDbUrl === undefined ? {} : { graphDbUrl: opts.graphDbUrl }),
          ...(opts.filestore === undefined ? {} : { filestore: opts.filestore }),
          ...(opts.modules === undefined ? {} : { modules: opts.modules }),
          ...(opts.out === undefined ? {} : { backupDir: opts.out }),
          ...(opts.chromaPath === undefined ? {} : { chromaPath: opts.chromaPath }),
          ...(opts.chromaUrl === undefined ? {} : { chromaUrl: opts.chromaUrl }),
        },
        env,
      };
      // Without --components: every store whose settings are given (the Odoo data when none is).
      let components: Component[];
      if (opts.components !== undefined) {
        components = parseComponents(opts.components);
      } else {
        const found = configuredComponents(await loadSettings(given, []));
        components = found.length > 0 ? found : ['odoo'];
      }
      const settings = await loadSettings(given, [
        'backupDir',
        ...(components.includes('odoo') ? (['odooDbUrl', 'filestore'] as const) : []),
        ...(components.includes('graph') ? (['graphDbUrl'] as const) : []),
        ...(components.includes('vectors') ? (['chromaPath'] as const) : []),
      ]);
      const vectors = vectorSettings(settings);
      const say = (line: string) => {
        if (!opts.json) io.stderr.write(`${line}\n`);
      };
      const sources = [
        components.includes('odoo') ? `the Odoo data of ${redactUrl(settings.odooDbUrl)}` : '',
        components.includes('graph') ? `the graph database ${redactUrl(settings.graphDbUrl)}` : '',
        components.includes('vectors') && vectors
          ? vectors.mode === 'directory'
            ? `the Chroma directory ${vectors.path}`
            : `the Chroma server ${redactUrl(vectors.url)}`
          : '',
      ].filter(Boolean);
      say(`exporting ${sources.join(' and ')} into ${settings.backupDir}`);
      const progress = new ProgressReporter(io, { json: Boolean(opts.json) });
      let result: Awaited<ReturnType<typeof exportInstallation>>;
      try {
        result = await exportInstallation({
          components,
          backupDir: settings.backupDir,
          tool: { name: 'sam-backup', version: TOOL_VERSION },
          odoo: {
            databaseUrl: settings.odooDbUrl,
            filestoreDir: settings.filestore,
            includeSecrets: opts.includeSecrets === true,
            ...(settings.modules ? { modules: settings.modules } : {}),
            ...(settings.secretColumns ? { secretColumns: settings.secretColumns } : {}),
          },
          graph: { databaseUrl: settings.graphDbUrl },
          ...(vectors ? { vectors: { settings: vectors } } : {}),
          onProgress: engineProgress(progress),
        });
      } catch (err) {
        throw asCliError(err, 'export');
      } finally {
        progress.finish();
      }
      state.exitCode = EXIT.ok;
      const { bundle, odoo, graph } = result;
      const vec = result.vectors;
      const report = {
        ok: true,
        bundle: bundle.path,
        bytes: bundle.size,
        sha256: bundle.sha256,
        components,
        odooVersion: odoo?.odooVersion ?? null,
        modules: odoo?.modules ?? {},
        tables: odoo?.modelList.tables.length ?? 0,
        rows: odoo?.rows ?? 0,
        files: odoo?.files ?? 0,
        missingFiles: odoo?.missingFiles ?? [],
        secretsOmitted: odoo?.secretsOmitted ?? [],
        graph: graph
          ? {
              database: graph.database,
              tables: graph.fingerprint.tables.length,
              rows: graph.fingerprint.tables.reduce((a, t) => a + t.rows, 0),
              age: graph.fingerprint.age,
              dumpBytes: graph.bytes,
            }
          : null,
        vectors: vec
          ? {
              mode: vec.details.mode,
              chromaVersion: vec.details.chromaVersion,
              collections: vec.component.counts.collections ?? 0,
              records: vec.component.counts.records ?? 0,
              cut: vec.details.cut,
            }
          : null,
        consistentCut: result.cut,
        preflight: result.preflight.checks,
        durationMs: result.durationMs,
      };
      if (opts.json) {
        printJson(io, report);
        return;
      }
      const lines = [`OK export: ${bundle.path}`, `  ${formatBytes(bundle.size)}, sha256 ${bundle.sha256}`];
      if (odoo) {
        lines.push(
          `  odoo: ${report.tables} tables, ${report.rows.toLocaleString('en-US')} rows, ${report.files} files`,
        );
      }
      if (report.graph) {
        lines.push(
          `  graph: ${report.graph.database}, ${report.graph.tables} tables, ${report.graph.rows.toLocaleString('en-US')} rows${report.graph.age ? `, AGE ${report.graph.age.version}` : ''}`,
        );
      }
      if (report.vectors) {
        lines.push(
          `  vectors: ${report.vectors.mode}, ${report.vectors.collections} collections, ${report.vectors.records.toLocaleString('en-US')} records`,
        );
      }
      lines.push(`  cut: ${result.cut}`);
      lines.push(`  in ${formatDuration(result.durationMs)}`);
      if (report.secretsOmitted.length > 0) {
        lines.push(
          `  secrets left out (pass --include-secrets to keep them): ${report.secretsOmitted.map((s) => `${s.table}.${s.column}`).join(', ')}`,
        );
      }
      if (report.missingFiles.length > 0) {
        lines.push(
          `  warning: ${report.missingFiles.length} attachment files were missing from the filestore and are not in the bundle`,
        );
      }
      io.stdout.write(`${lines.join('\n')}\n`);
    });
}
