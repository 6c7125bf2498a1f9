import { createInterface } from 'node:readline/promises';
import { openBundle, verifyBundle } from '@sam-backup/bundle';
import {
  dryRunRestore,
  prepareRestore,
  type RestoreOptions,
  type RestoreReport,
} from '@sam-backup/odoo-data';
import type { Command } from 'commander';
import { redactUrl } from '../config.js';
import { CliError, EXIT, type ExitCode } from '../exit-codes.js';
import { asCliError, odooProgress, parseComponents } from '../odoo/common.js';
import { type CliIO, formatDuration, printJson } from '../output/io.js';
import { ProgressReporter } from '../output/progress.js';
import { loadSettings } from '../settings.js';
import { requireFile } from './verify.js';

interface RestoreCliOptions {
  components: string;
  dryRun?: boolean;
  mode: string;
  dangling: string;
  allowDroppedColumns?: boolean;
  acceptEditedWorkbook?: boolean;
  yes?: boolean;
  dbUrl?: string;
  filestore?: string;
  config?: string;
  json?: boolean;
}

/**
 * `sam-backup restore BUNDLE`: refuses a bad bundle before touching anything, shows what would
 * change (a dry-run), asks, then restores in one transaction that is verified before COMMIT.
 */
export function registerRestoreCommand(
  program: Command,
  io: CliIO,
  state: { exitCode: ExitCode },
  env: NodeJS.ProcessEnv,
): void {
  program
    .command('restore')
    .description('put the backed-up data back exactly, or change nothing')
    .argument('<bundle>', 'the bundle (.zip) to restore')
    .option('--components <list>', 'what to restore (today: odoo)', 'odoo')
    .option('--dry-run', 'only show what the restore would change; write nothing')
    .option(
      '--mode <mode>',
      'replace: tables end exactly as in the bundle; merge: upsert by id (same database only)',
      'replace',
    )
    .option(
      '--dangling <policy>',
      'references to records the target lacks: refuse, or null (nullable columns)',
      'refuse',
    )
    .option('--allow-dropped-columns', "restore even when the target lacks some of the bundle's columns")
    .option(
      '--accept-edited-workbook',
      "restore a workbook a person edited (its content differs from the bundle's hashes)",
    )
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--db-url <url>', "the Odoo database's PostgreSQL URL (default: $SAM_ODOO_DB_URL)")
    .option('--filestore <dir>', "the Odoo database's filestore folder (default: $SAM_ODOO_FILESTORE)")
    .option('--config <file>', 'a JSON settings file (odooDbUrl, filestore, …)')
    .option('--json', 'print the final report as JSON on stdout (progress as JSON lines on stderr)')
    .action(async (bundlePath: string, opts: RestoreCliOptions) => {
      parseComponents(opts.components);
      if (opts.mode !== 'replace' && opts.mode !== 'merge') {
        throw new CliError(`--mode ${opts.mode}: expected replace or merge`, EXIT.usage);
      }
      if (opts.dangling !== 'refuse' && opts.dangling !== 'null') {
        throw new CliError(`--dangling ${opts.dangling}: expected refuse or null`, EXIT.usage);
      }
      await requireFile(bundlePath);
      const settings = await loadSettings(
        {
          ...(opts.config === undefined ? {} : { config: opts.config }),
          options: {
            ...(opts.dbUrl === undefined ? {} : { odooDbUrl: opts.dbUrl }),
            ...(opts.filestore === undefined ? {} : { filestore: opts.filestore }),
          },
          env,
        },
        ['odooDbUrl', 'filestore'],
      );
      const interactive = Boolean(io.stdin?.isTTY);
      if (!opts.dryRun && !opts.yes && !interactive) {
        throw new CliError(
          'restore replaces data and needs a confirmation: there is no terminal to ask on, so pass --yes (or --dry-run to only look)',
          EXIT.usage,
        );
      }
      const say = (line: string) => {
        if (!opts.json) io.stderr.write(`${line}\n`);
      };
      // Every entry is checked (size, CRC-32, SHA-256) before anything is touched: a damaged
      // bundle is refused here, not found out halfway through.
      const progress = new ProgressReporter(io, { json: Boolean(opts.json) });
      say(`verifying ${bundlePath}`);
      const check = await verifyBundle(bundlePath, {
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
      if (!check.ok) {
        throw new CliError(
          `bundle ${bundlePath} refused, nothing was changed:\n${check.problems.map((p) => `  [${p.code}] ${p.message}`).join('\n')}`,
          EXIT.refused,
        );
      }
      const bundle = await openBundle(bundlePath).catch((err: unknown) => {
        throw asCliError(err, `bundle ${bundlePath}`);
      });
      try {
        if (!bundle.metadata.components.odoo) {
          throw new CliError(
            `bundle ${bundlePath} holds no odoo component (it has: ${Object.keys(bundle.metadata.components).join(', ') || 'none'}); choose a bundle made by sam-backup export`,
            EXIT.refused,
          );
        }
        const restoreOpts: RestoreOptions = {
          databaseUrl: settings.odooDbUrl,
          filestoreDir: settings.filestore,
          bundle,
          mode: opts.mode,
          dangling: opts.dangling,
          allowDroppedColumns: opts.allowDroppedColumns === true,
          acceptEditedWorkbook: opts.acceptEditedWorkbook === true,
          onProgress: odooProgress(progress),
        };
        const target = redactUrl(settings.odooDbUrl);
        if (opts.dryRun || !opts.yes) {
          say(`dry-run of ${bundlePath} against ${target} (${opts.mode} mode)`);
          const preview = await dryRunRestore(restoreOpts).catch((err: unknown) => {
            throw asCliError(err, 'restore (dry-run)');
          });
          progress.finish();
          if (opts.dryRun) {
            state.exitCode = preview.verdict === 'ok' ? EXIT.ok : EXIT.refused;
            if (opts.json) printJson(io, preview);
            else io.stdout.write(describe(preview, target));
            return;
          }
          io.stderr.write(describe(preview, target));
          if (preview.verdict !== 'ok') {
            throw new CliError('the restore would be refused (see above); nothing was changed', EXIT.refused);
          }
          if (!(await confirm(io, `Replace the data above in ${target}? [y/N] `))) {
            throw new CliError('restore cancelled; nothing was changed', EXIT.failed);
          }
        }
        say(`restoring ${bundlePath} into ${target} (${opts.mode} mode)`);
        const prepared = await prepareRestore(restoreOpts).catch((err: unknown) => {
          throw asCliError(err, 'restore');
        });
        let report: RestoreReport;
        try {
          report = await prepared.commit();
        } catch (err) {
          throw asCliError(err, 'restore');
        } finally {
          progress.finish();
        }
        state.exitCode = EXIT.ok;
        if (opts.json) {
          printJson(io, report);
          return;
        }
        io.stdout.write(describe(report, target));
        io.stdout.write(
          `OK restore: ${report.tables.length} tables verified by content hash and committed in ${formatDuration(report.durationMs)}\n`,
        );
      } finally {
        await bundle.close();
      }
    });
}

async function confirm(io: CliIO, question: string): Promise<boolean> {
  const rl = createInterface({ input: io.stdin as NodeJS.ReadableStream, output: io.stderr });
  try {
    const answer = await rl.question(question);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

/** A person's view of a restore report: per table what is in the bundle, in the target, what changes. */
export function describe(r: RestoreReport, target: string): string {
  const out: string[] = [];
  out.push(
    `${r.dryRun ? 'Dry-run' : 'Restore'} into ${target}: ${r.mode} mode, Odoo ${r.odooVersion.bundle} → ${r.odooVersion.target}, verdict ${r.verdict}`,
  );
  const modules = r.modules.filter((m) => m.verdict !== 'same');
  for (const m of modules)
    out.push(`  module ${m.name}: bundle ${m.bundle}, target ${m.target ?? 'not installed'} (${m.verdict})`);
  const head = ['table', 'in bundle', 'now', 'insert', 'update', 'delete', 'notes'];
  const rows = r.tables.map((t) => {
    const notes: string[] = [];
    for (const m of t.missingRefs) notes.push(`${m.ids.length} missing ${m.table} ids in ${m.column}`);
    if (t.nulledReferences > 0) notes.push(`${t.nulledReferences} references set to NULL`);
    if (t.droppedColumns.length > 0) notes.push(`target lacks ${t.droppedColumns.join(', ')}`);
    if (t.addedColumns.length > 0) notes.push(`defaults for ${t.addedColumns.join(', ')}`);
    if (t.missingRows > 0) notes.push(`${t.missingRows} records missing in target`);
    if (t.edited) notes.push('edited in the workbook');
    if (t.rekeyed > 0) notes.push(`${t.rekeyed} re-keyed`);
    return [t.table, t.rowsInBundle, t.rowsNow, t.toInsert, t.toUpdate, t.toDelete, notes.join('; ')].map(
      String,
    );
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] as string).length)));
  const line = (cells: string[]) =>
    `  ${cells.map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ')}`.trimEnd();
  out.push(line(head));
  for (const row of rows) out.push(line(row));
  out.push(
    `  filestore: ${r.files.inBundle} files in the bundle, ${r.files.present} present, ${r.files.toAdd} to add`,
  );
  for (const w of r.warnings) out.push(`  warning: ${w}`);
  for (const x of r.refusals) out.push(`  REFUSED: ${x}`);
  return `${out.join('\n')}\n`;
}
