import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { openBundle } from '@sam-backup/bundle';
import {
  COMPONENTS,
  formatSize,
  newestSafetyBundle,
  type RestoreInstallationReport,
  restoreInstallation,
} from '@sam-backup/engine';
import type { GraphRestoreReport } from '@sam-backup/graph';
import type { RestoreReport } from '@sam-backup/odoo-data';
import type { VectorRestoreReport } from '@sam-backup/vectors';
import type { Command } from 'commander';
import { redactUrl } from '../config.js';
import { CliError, EXIT, type ExitCode } from '../exit-codes.js';
import { asCliError, engineProgress, parseComponents } from '../odoo/common.js';
import { type CliIO, formatDuration, printJson } from '../output/io.js';
import { ProgressReporter } from '../output/progress.js';
import { loadSettings, vectorSettings } from '../settings.js';
import { TOOL_VERSION } from '../version.js';
import { requireFile } from './verify.js';

interface RestoreCliOptions {
  components?: string;
  /** commander's --no-safety-backup */
  safetyBackup?: boolean;
  chromaPath?: string;
  chromaUrl?: string;
  dryRun?: boolean;
  mode: string;
  dangling: string;
  allowDroppedColumns?: boolean;
  acceptEditedWorkbook?: boolean;
  yes?: boolean;
  dbUrl?: string;
  graphDbUrl?: string;
  filestore?: string;
  config?: string;
  json?: boolean;
}

/**
 * `sam-backup restore BUNDLE`: verifies every entry, shows what would change (a dry-run), asks,
 * then restores every chosen store — all switched, or none.
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
    .option(
      '--components <list>',
      'what to restore: odoo, graph, vectors (comma-separated; default: every component the bundle holds)',
    )
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
    .option('--graph-db-url <url>', "the graph database's superuser URL (default: $SAM_GRAPH_DB_URL)")
    .option('--filestore <dir>', "the Odoo database's filestore folder (default: $SAM_ODOO_FILESTORE)")
    .option('--chroma-path <dir>', "Chroma's persist directory (default: $SAM_CHROMA_PATH)")
    .option('--chroma-url <url>', "a Chroma server's URL, instead of a directory (default: $SAM_CHROMA_URL)")
    .option('--config <file>', 'a JSON settings file (odooDbUrl, graphDbUrl, filestore, chromaPath, …)')
    .option('--json', 'print the final report as JSON on stdout (progress as JSON lines on stderr)')
    .option('--no-safety-backup', 'do not export the current state first (sam-backup undo needs it)')
    .action((bundlePath: string, opts: RestoreCliOptions) => restoreAction(io, state, env, bundlePath, opts));

  program
    .command('undo')
    .description('put back the state the last restore replaced (from its safety backup)')
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--config <file>', 'a JSON settings file')
    .option('--json', 'print the final report as JSON on stdout')
    .action(async (opts: { yes?: boolean; config?: string; json?: boolean }) => {
      const settings = await loadSettings(
        { ...(opts.config === undefined ? {} : { config: opts.config }), options: {}, env },
        ['backupDir'],
      );
      const dir = join(settings.backupDir, 'safety');
      const newest = await newestSafetyBundle(dir);
      if (!newest) {
        throw new CliError(
          `no safety backup in ${dir}: undo puts back what a restore replaced, and no restore kept one`,
          EXIT.usage,
        );
      }
      if (!opts.json) io.stderr.write(`undo: restoring the safety backup ${newest}\n`);
      await restoreAction(io, state, env, newest, {
        mode: 'replace',
        dangling: 'refuse',
        safetyBackup: false,
        ...(opts.yes ? { yes: true } : {}),
        ...(opts.config === undefined ? {} : { config: opts.config }),
        ...(opts.json ? { json: true } : {}),
      });
    });
}

async function restoreAction(
  io: CliIO,
  state: { exitCode: ExitCode },
  env: NodeJS.ProcessEnv,
  bundlePath: string,
  opts: RestoreCliOptions,
): Promise<void> {
  await requireFile(bundlePath);
  const components = parseComponents(opts.components ?? (await bundleComponents(bundlePath)));
  if (opts.mode !== 'replace' && opts.mode !== 'merge') {
    throw new CliError(`--mode ${opts.mode}: expected replace or merge`, EXIT.usage);
  }
  if (opts.dangling !== 'refuse' && opts.dangling !== 'null') {
    throw new CliError(`--dangling ${opts.dangling}: expected refuse or null`, EXIT.usage);
  }
  const settings = await loadSettings(
    {
      ...(opts.config === undefined ? {} : { config: opts.config }),
      options: {
        ...(opts.dbUrl === undefined ? {} : { odooDbUrl: opts.dbUrl }),
        ...(opts.graphDbUrl === undefined ? {} : { graphDbUrl: opts.graphDbUrl }),
        ...(opts.filestore === undefined ? {} : { filestore: opts.filestore }),
        ...(opts.chromaPath === undefined ? {} : { chromaPath: opts.chromaPath }),
        ...(opts.chromaUrl === undefined ? {} : { chromaUrl: opts.chromaUrl }),
      },
      env,
    },
    [
      ...(components.includes('odoo') ? (['odooDbUrl', 'filestore'] as const) : []),
      ...(components.includes('graph') ? (['graphDbUrl'] as const) : []),
      ...(components.includes('vectors') ? (['chromaPath'] as const) : []),
    ],
  );
  const vectors = vectorSettings(settings);
  // The switch journal lives in the backup folder (or beside the bundle when none is set).
  const stateDir = settings.present.has('backupDir') ? settings.backupDir : dirname(resolve(bundlePath));
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
  const progress = new ProgressReporter(io, { json: Boolean(opts.json) });
  const targets = {
    odoo: redactUrl(settings.odooDbUrl),
    graph: redactUrl(settings.graphDbUrl),
    vectors: vectors ? (vectors.mode === 'directory' ? vectors.path : redactUrl(vectors.url)) : '',
  };
  const run = async (dryRun: boolean): Promise<RestoreInstallationReport> => {
    try {
      return await restoreInstallation({
        bundlePath,
        components,
        dryRun,
        odoo: {
          databaseUrl: settings.odooDbUrl,
          filestoreDir: settings.filestore,
          mode: opts.mode as 'replace' | 'merge',
          dangling: opts.dangling as 'refuse' | 'null',
          allowDroppedColumns: opts.allowDroppedColumns === true,
          acceptEditedWorkbook: opts.acceptEditedWorkbook === true,
        },
        graph: { databaseUrl: settings.graphDbUrl },
        ...(vectors ? { vectors: { settings: vectors } } : {}),
        stateDir,
        ...(opts.safetyBackup === false
          ? {}
          : {
              safety: { dir: join(stateDir, 'safety'), tool: { name: 'sam-backup', version: TOOL_VERSION } },
            }),
        onProgress: engineProgress(progress),
      });
    } catch (err) {
      throw asCliError(err, dryRun ? 'restore (dry-run)' : 'restore');
    } finally {
      progress.finish();
    }
  };
  if (opts.dryRun || !opts.yes) {
    say(`dry-run of ${bundlePath} (${components.join(', ')}; ${opts.mode} mode)`);
    const preview = await run(true);
    const refused = preview.odoo?.verdict === 'refused';
    if (opts.dryRun) {
      state.exitCode = refused ? EXIT.refused : EXIT.ok;
      if (opts.json) printJson(io, preview);
      else io.stdout.write(describeAll(preview, targets));
      return;
    }
    io.stderr.write(describeAll(preview, targets));
    if (refused) {
      throw new CliError('the restore would be refused (see above); nothing was changed', EXIT.refused);
    }
    if (!(await confirm(io, `Replace the data above (${components.join(', ')})? [y/N] `))) {
      throw new CliError('restore cancelled; nothing was changed', EXIT.failed);
    }
  }
  say(`restoring ${bundlePath} (${components.join(', ')}; ${opts.mode} mode)`);
  const report = await run(false);
  state.exitCode = EXIT.ok;
  if (opts.json) {
    printJson(io, report);
    return;
  }
  io.stdout.write(describeAll(report, targets));
  io.stdout.write(
    `OK restore: ${components.join(' and ')} verified and switched in ${formatDuration(report.durationMs)}\n${report.safetyBundle ? `  the state before is in ${report.safetyBundle}: \`sam-backup undo\` puts it back\n` : ''}`,
  );
}

function describeAll(
  r: RestoreInstallationReport,
  targets: { odoo: string; graph: string; vectors: string },
): string {
  const recovery = r.recovery
    ? `An earlier restore of ${r.recovery.bundle} was interrupted while switching: ${r.recovery.outcome === 'kept-new' ? 'it had committed; its data was kept' : 'it was rolled back'}${r.recovery.actions.length > 0 ? ` (${r.recovery.actions.join('; ')})` : ''}\n`
    : '';
  return `${recovery}${r.odoo ? describe(r.odoo, targets.odoo) : ''}${r.graph ? describeGraph(r.graph, targets.graph) : ''}${r.vectors ? describeVectors(r.vectors, targets.vectors) : ''}${describeDisk(r.disk ?? [])}`;
}

/** A person's view of the disk a restore needs, per place (estimates that err high). */
export function describeDisk(places: RestoreInstallationReport['disk']): string {
  if (places.length === 0) return '';
  const out = ['Disk needed (estimates that err high):'];
  for (const p of places) {
    const what =
      p.place === 'backup folder'
        ? `the safety backup of ${p.components.join(', ')}`
        : p.components.join(', ');
    const free =
      p.freeBytes === null
        ? 'free space not measurable from here'
        : p.sharesFilesystemWith.length === 0
          ? `${formatSize(p.freeBytes)} free`
          : `${formatSize(p.freeBytes)} free on a filesystem shared with the ${p.sharesFilesystemWith.join(', the ')} (about ${formatSize(places.filter((q) => q === p || p.sharesFilesystemWith.includes(q.place)).reduce((a, q) => a + q.needBytes, 0))} needed there in all)`;
    out.push(
      `  ${p.place} ${p.path ?? p.server ?? ''}: about ${formatSize(p.needBytes)} (${what}); ${free}${p.fits === false ? ' — NOT ENOUGH' : ''}`,
    );
  }
  return `${out.join('\n')}\n`;
}

/** A person's view of a vector restore report. */
export function describeVectors(r: VectorRestoreReport, target: string): string {
  const out = [
    `${r.dryRun ? 'Dry-run' : 'Restore'} of the vectors (${r.mode}) into ${target}${r.verified ? ': verified' : ''}`,
  ];
  for (const c of r.collections) {
    out.push(
      `  ${c.name}: ${c.recordsInBundle} records in the bundle, ${c.recordsNow ?? 'no collection'} now`,
    );
  }
  if (r.previous)
    out.push(
      `  the replaced data is kept as ${Array.isArray(r.previous) ? r.previous.join(', ') : r.previous}`,
    );
  return `${out.join('\n')}\n`;
}

/** The components a bundle holds, as a --components value ('odoo' when it cannot be read: the restore then reports why). */
async function bundleComponents(path: string): Promise<string> {
  try {
    const b = await openBundle(path);
    try {
      const names = Object.keys(b.metadata.components).filter((c) =>
        (COMPONENTS as readonly string[]).includes(c),
      );
      return names.length > 0 ? names.join(',') : 'odoo';
    } finally {
      await b.close();
    }
  } catch {
    return 'odoo';
  }
}

/** A person's view of a graph restore report. */
export function describeGraph(r: GraphRestoreReport, target: string): string {
  const out: string[] = [];
  out.push(
    `${r.dryRun ? 'Dry-run' : 'Restore'} of the graph database into ${target}: ${r.differences.length === 0 ? 'no difference' : `${r.differences.length} difference(s)`}`,
  );
  for (const t of r.tables)
    out.push(`  ${t.table}: ${t.rowsInBundle} rows in the bundle, ${t.rowsNow ?? 'no table'} now`);
  for (const d of r.differences.slice(0, 20)) out.push(`  - ${d}`);
  if (r.differences.length > 20) out.push(`  - … ${r.differences.length - 20} more`);
  if (r.previous) out.push(`  the replaced database is kept as ${r.previous}`);
  for (const p of r.probe) out.push(`  Cypher on ${p.graph}: ${p.vertices} vertices, ${p.edges} edges`);
  return `${out.join('\n')}\n`;
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
