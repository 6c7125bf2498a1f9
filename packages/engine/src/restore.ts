/**
 * Restore across the stores, all or nothing (DESIGN.md "Restore"): recover what an interrupted
 * restore left → verify every entry of the bundle → check the disk each place needs (disk.ts) →
 * the safety export → prepare every chosen store beside the live one and verify it there (the
 * graph in a new database, the vectors in a new folder or new collections, the Odoo data in an
 * open transaction with its files staged) → write the switch
 * journal → switch: the graph swaps in, the vectors swap in, then the Odoo transaction commits.
 * If a switch fails, what was switched is switched back; if the process dies, the journal lets the
 * next run finish the job either way (journal.ts). Nothing is switched before everything is verified.
 */

import { existsSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type BundleReader, ENTRY, openBundle, verifyBundle } from '@sam-backup/bundle';
import { type GraphRestoreReport, type PreparedGraphRestore, prepareGraphRestore } from '@sam-backup/graph';
import {
  dryRunRestore,
  type PreparedRestore,
  prepareRestore,
  type RestoreOptions,
  type RestoreReport,
} from '@sam-backup/odoo-data';
import {
  type PreparedVectorRestore,
  prepareVectorRestore,
  type VectorRestoreReport,
  type VectorSettings,
} from '@sam-backup/vectors';
import pg from 'pg';
import { checkDisk, type RestoreDiskPlace, restoreDiskNeeds } from './disk.js';
import {
  type Component,
  type EngineProgress,
  type ExportInstallationOptions,
  exportInstallation,
  odooProgress,
  verifyProgress,
} from './export.js';
import { Journal, lockRestore, type RecoveryReport, recoverSwitch } from './journal.js';
import { estimateExport } from './preflight.js';

export interface RestoreInstallationOptions {
  bundlePath: string;
  components: readonly Component[];
  dryRun?: boolean;
  odoo?: Omit<RestoreOptions, 'bundle' | 'onProgress'>;
  graph?: { databaseUrl: string; psqlPath?: string };
  vectors?: { settings: VectorSettings };
  /** Where the switch journal lives (the backup folder): required for a real restore. */
  stateDir?: string;
  /**
   * Before anything is replaced, an export of the current state of the stores to restore into
   * this folder (`sam-backup undo` restores the newest); the last `keep` (default 3) are kept.
   */
  safety?: { dir: string; tool: { name: string; version: string }; keep?: number };
  onProgress?: (p: EngineProgress) => void;
  /** Test hook: called at each named stage; a test kills the process there. */
  onStage?: (stage: string) => void;
}

export interface RestoreInstallationReport {
  dryRun: boolean;
  odoo: RestoreReport | null;
  graph: GraphRestoreReport | null;
  vectors: VectorRestoreReport | null;
  /** What an earlier, interrupted restore left and what was done about it. */
  recovery: RecoveryReport | null;
  /** The export of the state before this restore (null: none was asked for, or nothing existed yet). */
  safetyBundle: string | null;
  /** What happened at the switch: done, or undone (with the reason) when a store failed to switch. */
  switched: boolean;
  /**
   * Per place where the restore writes (the safety export in the backup folder, the vectors'
   * staging folder, the filestore, the database servers): the bytes it needs — estimates that err
   * high — and the free space of its filesystem (null: not measurable from here). A real restore
   * refuses (PreflightError 'disk') before writing anything when a filesystem lacks the space.
   */
  disk: RestoreDiskPlace[];
  durationMs: number;
}

/** The bundle cannot serve this restore (a component asked for is not in it): nothing was touched. */
export class RestoreRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RestoreRefusedError';
  }
}

/** Thrown when the bundle does not verify: nothing was touched. */
export class BundleDamagedError extends Error {
  constructor(
    readonly path: string,
    readonly problems: ReadonlyArray<{ code: string; message: string }>,
  ) {
    super(
      `bundle ${path} refused, nothing was changed:\n${problems.map((p) => `  [${p.code}] ${p.message}`).join('\n')}`,
    );
    this.name = 'BundleDamagedError';
  }
}

export async function restoreInstallation(
  opts: RestoreInstallationOptions,
): Promise<RestoreInstallationReport> {
  const started = performance.now();
  const wants = new Set(opts.components);
  if (wants.has('odoo') && !opts.odoo)
    throw new Error('restoreInstallation: components has odoo but no odoo settings');
  if (wants.has('graph') && !opts.graph)
    throw new Error('restoreInstallation: components has graph but no graph settings');
  if (wants.has('vectors') && !opts.vectors)
    throw new Error('restoreInstallation: components has vectors but no vectors settings');
  if (!opts.dryRun && !opts.stateDir)
    throw new Error('restoreInstallation: a restore needs stateDir (the switch journal)');

  const report: RestoreInstallationReport = {
    dryRun: opts.dryRun === true,
    odoo: null,
    graph: null,
    vectors: null,
    recovery: null,
    safetyBundle: null,
    switched: false,
    disk: [],
    durationMs: 0,
  };
  // One restore at a time; an earlier one that died while switching is finished first.
  const unlock = !opts.dryRun && opts.stateDir ? await lockRestore(opts.stateDir) : null;
  try {
    return await restoreLocked(opts, report, started);
  } finally {
    await unlock?.();
  }
}

async function restoreLocked(
  opts: RestoreInstallationOptions,
  report: RestoreInstallationReport,
  started: number,
): Promise<RestoreInstallationReport> {
  const progress = (p: EngineProgress) => opts.onProgress?.(p);
  const stage = (name: string) => opts.onStage?.(name);
  const wants = new Set(opts.components);
  if (!opts.dryRun && opts.stateDir) {
    const r = await recoverSwitch(opts.stateDir, {
      ...(opts.odoo ? { odooDatabaseUrl: opts.odoo.databaseUrl, odooFilestore: opts.odoo.filestoreDir } : {}),
      ...(opts.graph ? { graphDatabaseUrl: opts.graph.databaseUrl } : {}),
      ...(opts.vectors ? { vectors: opts.vectors.settings } : {}),
    });
    if (r.found) report.recovery = r;
  }

  const check = await verifyBundle(opts.bundlePath, { onProgress: verifyProgress(progress) });
  if (!check.ok) throw new BundleDamagedError(opts.bundlePath, check.problems);
  const bundle = await openBundle(opts.bundlePath);
  let graph: PreparedGraphRestore | null = null;
  let vectors: PreparedVectorRestore | null = null;
  let odoo: PreparedRestore | null = null;
  let journal: Journal | null = null;
  let graphSwapped = false;
  let vectorsSwapped = false;
  try {
    for (const c of wants) {
      if (!bundle.metadata.components[c]) {
        throw new RestoreRefusedError(
          `the bundle holds no ${c} component (it has: ${Object.keys(bundle.metadata.components).join(', ') || 'none'}): restore only the components it has`,
        );
      }
    }
    // The disk each place needs, checked before anything is written (a dry run only reports it).
    let safety: SafetyPlan | null = null;
    if (opts.safety) {
      safety = await planSafety(opts, wants, bundle).catch((err: Error) => {
        if (opts.dryRun) return null;
        throw safetyRefused(err);
      });
    }
    report.disk = await restoreDiskNeeds({
      bundle,
      wants,
      odoo: opts.odoo,
      graph: opts.graph,
      vectors: opts.vectors,
      safety: safety && opts.safety ? { dir: opts.safety.dir, ...safety } : null,
    });
    if (!opts.dryRun) checkDisk(report.disk);
    const odooOpts = (b: BundleReader): RestoreOptions | null =>
      opts.odoo && wants.has('odoo')
        ? {
            ...opts.odoo,
            bundle: b,
            onProgress: odooProgress(progress),
          }
        : null;
    const dumpBytes = wants.has('graph') ? bundle.entry(ENTRY.graphDump).size : 0;
    const graphOpts =
      opts.graph && wants.has('graph')
        ? {
            ...opts.graph,
            bundle,
            dryRun: opts.dryRun === true,
            onProgress: (p: { phase: string; bytesDone: number }) =>
              progress({
                component: 'graph' as const,
                phase: p.phase.replace(/^graph /, ''),
                done: p.bytesDone,
                // Loading reads the dump entry once: its size is the total.
                total: p.phase === 'graph load' ? dumpBytes : 0,
                unit: 'bytes' as const,
              }),
          }
        : null;
    const vectorOpts =
      opts.vectors && wants.has('vectors')
        ? {
            settings: opts.vectors.settings,
            bundle,
            dryRun: opts.dryRun === true,
            onProgress: (p: {
              phase: string;
              done: number;
              total: number;
              unit: 'items' | 'bytes';
              item?: string;
            }) => progress({ ...p, component: 'vectors' as const, phase: p.phase.replace(/^vectors /, '') }),
          }
        : null;

    if (opts.dryRun) {
      const o = odooOpts(bundle);
      if (o) report.odoo = await dryRunRestore(o);
      if (graphOpts) report.graph = (await prepareGraphRestore(graphOpts)).report;
      if (vectorOpts) report.vectors = (await prepareVectorRestore(vectorOpts)).report;
      report.durationMs = Math.round(performance.now() - started);
      return report;
    }

    // The state about to be replaced, kept first: `sam-backup undo` restores it.
    if (opts.safety) {
      stage('safety backup');
      if (safety) report.safetyBundle = await safetyExport(opts, safety.components, bundle, progress);
    }

    // Prepare and verify every store; nothing live has changed yet.
    stage('prepare graph');
    if (graphOpts) graph = await prepareGraphRestore(graphOpts);
    stage('prepare vectors');
    if (vectorOpts) vectors = await prepareVectorRestore(vectorOpts);
    stage('prepare odoo');
    const o = odooOpts(bundle);
    if (o) odoo = await prepareRestore(o);

    // Switch. The journal first: from here a crash is finished by the next run's recovery.
    journal = await Journal.begin(opts.stateDir as string, {
      bundle: opts.bundlePath,
      odoo: odoo ? { restoreId: odoo.restoreId } : null,
      graph: graph ? { temp: graph.temp, liveExisted: graph.liveExisted } : null,
      vectors: vectors?.journal ?? null,
    });
    stage('journal written');
    progress({ component: 'bundle', phase: 'switch', done: 0, total: 0, unit: 'items' });
    try {
      if (graph) {
        report.graph = await graph.swap();
        graphSwapped = true;
        await journal.update({
          graph: { temp: graph.temp, liveExisted: graph.liveExisted, previous: report.graph.previous },
        });
      }
      stage('graph switched');
      if (vectors) {
        report.vectors = await vectors.swap();
        vectorsSwapped = true;
      }
      stage('vectors switched');
      if (odoo) {
        const committing = odoo;
        odoo = null;
        report.odoo = await committing.commit();
      } else {
        await journal.update({ switched: true });
      }
      stage('committed');
    } catch (err) {
      // Switch back what was switched: the installation stays fully old.
      const problems: string[] = [];
      if (vectors && vectorsSwapped)
        await vectors.undo().catch((e: Error) => problems.push(`vectors: ${e.message}`));
      else if (vectors) await vectors.discard().catch(() => undefined);
      if (graph && graphSwapped) await graph.undo().catch((e: Error) => problems.push(`graph: ${e.message}`));
      else if (graph) await graph.discard().catch(() => undefined);
      vectors = null;
      graph = null;
      if (problems.length > 0) {
        // The journal stays: `sam-backup recover` (or the next restore) finishes putting things back.
        journal = null;
        throw new Error(
          `the restore failed while switching (${(err as Error).message}) and switching back failed too (${problems.join('; ')}): run \`sam-backup recover\` to put the installation back`,
          { cause: err },
        );
      }
      report.graph = null;
      report.vectors = null;
      throw err;
    }
    // Everything switched: only now are the copies older restores kept dropped.
    if (graph && report.graph) report.graph = await graph.finish();
    if (vectors && report.vectors) report.vectors = await vectors.finish();
    graph = null;
    vectors = null;
    report.switched = true;
    if (opts.safety) await pruneSafety(opts.safety.dir, opts.safety.keep ?? 3);
    report.durationMs = Math.round(performance.now() - started);
    return report;
  } finally {
    // Whatever was prepared and not switched is dropped: the live stores stay as they were.
    if (odoo) await odoo.rollback().catch(() => undefined);
    if (vectors && !vectorsSwapped) await vectors.discard().catch(() => undefined);
    if (graph && !graphSwapped) await graph.discard().catch(() => undefined);
    if (journal) await journal.end();
    await bundle.close();
  }
}

/** The live stores among `wants` that exist (a fresh target has nothing to keep). */
async function existingStores(opts: RestoreInstallationOptions, wants: Set<Component>): Promise<Component[]> {
  const out: Component[] = [];
  if (wants.has('odoo')) out.push('odoo');
  if (wants.has('graph') && opts.graph) {
    const c = new pg.Client({ connectionString: opts.graph.databaseUrl });
    const exists = await c.connect().then(
      () => true,
      (err: Error & { code?: string }) => {
        if (err.code === '3D000') return false;
        throw err;
      },
    );
    await c.end().catch(() => undefined);
    if (exists) out.push('graph');
  }
  if (wants.has('vectors') && opts.vectors) {
    const v = opts.vectors.settings;
    if (v.mode === 'server' || existsSync(join(v.path, 'chroma.sqlite3'))) out.push('vectors');
  }
  return out;
}

/** The safety export about to be made: the live stores it keeps and its estimate (preflight.ts). */
interface SafetyPlan {
  components: Component[];
  estimate: Record<string, number>;
}

/** The options of the safety export of `components` (the same for its estimate and for the export). */
function safetyExportOptions(
  opts: RestoreInstallationOptions,
  components: Component[],
  bundle: BundleReader,
): ExportInstallationOptions {
  const safety = opts.safety as NonNullable<RestoreInstallationOptions['safety']>;
  const modules = Object.keys(bundle.metadata.source.modules ?? {});
  const has = (c: Component) => components.includes(c);
  return {
    components,
    backupDir: safety.dir,
    tool: safety.tool,
    ...(opts.odoo && has('odoo')
      ? {
          odoo: {
            databaseUrl: opts.odoo.databaseUrl,
            filestoreDir: opts.odoo.filestoreDir,
            // Secrets change in a restore only when the bundle carries them: only then must undo.
            includeSecrets: bundle.metadata.options.secretsIncluded,
            ...(modules.length > 0 ? { modules } : {}),
          },
        }
      : {}),
    ...(opts.graph && has('graph') ? { graph: { databaseUrl: opts.graph.databaseUrl } } : {}),
    ...(opts.vectors && has('vectors') ? { vectors: opts.vectors } : {}),
  };
}

function safetyRefused(err: Error): RestoreRefusedError {
  return new RestoreRefusedError(
    `the safety backup of the current state failed (${err.message}); nothing was changed: fix the cause, or restore with --no-safety-backup`,
  );
}

/** Which live stores the safety export keeps, and what it needs in the backup folder (null: nothing exists yet). */
async function planSafety(
  opts: RestoreInstallationOptions,
  wants: Set<Component>,
  bundle: BundleReader,
): Promise<SafetyPlan | null> {
  const components = await existingStores(opts, wants);
  if (components.length === 0) return null;
  const o = safetyExportOptions(opts, components, bundle);
  const { estimate } = await estimateExport({
    ...(o.odoo ? { odoo: o.odoo } : {}),
    ...(o.graph ? { graph: o.graph } : {}),
    ...(o.vectors ? { vectors: { settings: o.vectors.settings } } : {}),
  });
  return { components, estimate };
}

async function safetyExport(
  opts: RestoreInstallationOptions,
  components: Component[],
  bundle: BundleReader,
  progress: (p: EngineProgress) => void,
): Promise<string | null> {
  try {
    const r = await exportInstallation({
      ...safetyExportOptions(opts, components, bundle),
      onProgress: (p) => progress({ ...p, phase: `safety ${p.phase}` }),
    });
    return r.bundle.path;
  } catch (err) {
    throw safetyRefused(err as Error);
  }
}

/** Keeps the newest `keep` safety bundles (and their .sha256). */
async function pruneSafety(dir: string, keep: number): Promise<void> {
  const zips = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.zip')).sort();
  for (const old of zips.slice(0, Math.max(0, zips.length - keep))) {
    await rm(join(dir, old), { force: true });
    await rm(join(dir, `${old}.sha256`), { force: true });
  }
}

/** The newest safety bundle in `dir`, or null. */
export async function newestSafetyBundle(dir: string): Promise<string | null> {
  const zips = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.zip')).sort();
  const last = zips.at(-1);
  return last ? join(dir, last) : null;
}
