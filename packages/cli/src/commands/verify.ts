import { stat } from 'node:fs/promises';
import { verifyBundle } from '@sam-backup/bundle';
import type { Command } from 'commander';
import { CliError, EXIT, type ExitCode } from '../exit-codes.js';
import { type CliIO, formatBytes, formatDuration, printJson } from '../output/io.js';
import { ProgressReporter } from '../output/progress.js';

/** Checks that BUNDLE names a readable file; a usage error (exit 2) otherwise. */
export async function requireFile(path: string): Promise<void> {
  const info = await stat(path).catch((err: NodeJS.ErrnoException) => {
    const why =
      err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'permission denied' : err.message;
    throw new CliError(
      `bundle ${path}: ${why}: give the path of a sam_ai_complete_backup_*.zip file`,
      EXIT.usage,
    );
  });
  if (!info.isFile())
    throw new CliError(`bundle ${path}: is not a file: give the path of a .zip bundle`, EXIT.usage);
}

export function registerVerifyCommand(program: Command, io: CliIO, state: { exitCode: ExitCode }): void {
  program
    .command('verify')
    .description(
      "check every entry's size, CRC-32 and SHA-256 and the bundle's structure (exit 3 when unsound)",
    )
    .argument('<bundle>', 'the bundle (.zip) to check')
    .option('--json', 'print the report as JSON on stdout (progress as JSON lines on stderr)')
    .option('-q, --quiet', 'no progress on stderr')
    .action(async (bundle: string, opts: { json?: boolean; quiet?: boolean }) => {
      await requireFile(bundle);
      const progress = new ProgressReporter(io, { json: Boolean(opts.json), quiet: Boolean(opts.quiet) });
      const report = await verifyBundle(bundle, {
        onProgress: (p) =>
          progress.update({
            phase: 'verify',
            item: p.entry,
            done: p.bytesDone,
            total: p.bytesTotal,
            unit: 'bytes',
          }),
      });
      progress.finish();
      state.exitCode = report.ok ? EXIT.ok : EXIT.refused;
      if (opts.json) {
        const { metadata: _metadata, ...rest } = report;
        printJson(io, { ...rest, durationMs: Math.round(report.durationMs) });
        return;
      }
      if (report.ok) {
        io.stdout.write(
          `OK ${bundle}: ${report.entriesChecked} entries, ${formatBytes(report.bytesChecked)} checked in ${formatDuration(report.durationMs)}; every size, CRC-32 and SHA-256 matches.\n`,
        );
        return;
      }
      io.stdout.write(`REFUSED ${bundle}: ${report.problems.length} problem(s):\n`);
      for (const p of report.problems) io.stdout.write(`  [${p.code}] ${p.message}\n`);
    });
}
