import { recoverSwitch } from '@sam-backup/engine';
import type { Command } from 'commander';
import { CliError, EXIT, type ExitCode } from '../exit-codes.js';
import { type CliIO, printJson } from '../output/io.js';
import { loadSettings, vectorSettings } from '../settings.js';

/**
 * `sam-backup recover`: finishes a restore that died while switching stores (its journal is in the
 * backup folder): the installation ends fully as it was before, or fully restored when the
 * restore had committed. Every restore also does this first, by itself.
 */
export function registerRecoverCommand(
  program: Command,
  io: CliIO,
  state: { exitCode: ExitCode },
  env: NodeJS.ProcessEnv,
): void {
  program
    .command('recover')
    .description('finish a restore that was interrupted while switching: fully old or fully new, never half')
    .option('--state-dir <dir>', 'where the restore kept its journal (default: $SAM_BACKUP_DIR)')
    .option('--config <file>', 'a JSON settings file')
    .option('--json', 'print the report as JSON on stdout')
    .action(async (opts: { stateDir?: string; config?: string; json?: boolean }) => {
      const settings = await loadSettings(
        {
          ...(opts.config === undefined ? {} : { config: opts.config }),
          options: opts.stateDir === undefined ? {} : { backupDir: opts.stateDir },
          env,
        },
        ['backupDir'],
      );
      const vectors = vectorSettings(settings);
      let report: Awaited<ReturnType<typeof recoverSwitch>>;
      try {
        report = await recoverSwitch(settings.backupDir, {
          ...(settings.present.has('odooDbUrl') ? { odooDatabaseUrl: settings.odooDbUrl } : {}),
          ...(settings.present.has('filestore') ? { odooFilestore: settings.filestore } : {}),
          ...(settings.present.has('graphDbUrl') ? { graphDatabaseUrl: settings.graphDbUrl } : {}),
          ...(vectors ? { vectors } : {}),
        });
      } catch (err) {
        throw new CliError(`recover: ${(err as Error).message}`, EXIT.failed);
      }
      state.exitCode = EXIT.ok;
      if (opts.json) {
        printJson(io, report);
        return;
      }
      if (!report.found) {
        io.stdout.write(`OK recover: no interrupted restore in ${settings.backupDir}\n`);
        return;
      }
      io.stdout.write(
        `OK recover: the restore of ${report.bundle} ${report.outcome === 'kept-new' ? 'had committed: the restored data stays' : 'had not committed: the installation is back as it was'}\n${report.actions.map((a) => `  ${a}\n`).join('')}`,
      );
    });
}
