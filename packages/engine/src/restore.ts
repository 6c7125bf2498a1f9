/**
 * Restore across the stores, all or nothing (DESIGN.md "Restore"): verify every entry of the
 * bundle → prepare every chosen store beside the live one and verify it there (the graph in a new
 * database, the Odoo data in an open transaction with its files staged) → switch: the graph swaps
 * in, then the Odoo transaction commits; if the commit fails the graph swap is undone, so the
 * installation is fully old or fully new. Nothing is switched before everything is verified.
 */
import { type BundleReader, ENTRY, openBundle, verifyBundle } from '@sam-backup/bundle';
import { type GraphRestoreReport, type PreparedGraphRestore, prepareGraphRestore } from '@sam-backup/graph';
import {
  dryRunRestore,
  type PreparedRestore,
  prepareRestore,
  type RestoreOptions,
  type RestoreReport,
} from '@sam-backup/odoo-data';
import type { Component, EngineProgress } from './export.js';

export interface RestoreInstallationOptions {
  bundlePath: string;
  components: readonly Component[];
  dryRun?: boolean;
  odoo?: Omit<RestoreOptions, 'bundle' | 'onProgress'>;
  graph?: { databaseUrl: string; psqlPath?: string };
  onProgress?: (p: EngineProgress) => void;
}

export interface RestoreInstallationReport {
  dryRun: boolean;
  odoo: RestoreReport | null;
  graph: GraphRestoreReport | null;
  /** What happened at the switch: done, or undone (with the reason) when a store failed to switch. */
  switched: boolean;
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
  const progress = (p: EngineProgress) => opts.onProgress?.(p);
  const wants = new Set(opts.components);
  if (wants.has('odoo') && !opts.odoo)
    throw new Error('restoreInstallation: components has odoo but no odoo settings');
  if (wants.has('graph') && !opts.graph)
    throw new Error('restoreInstallation: components has graph but no graph settings');

  const check = await verifyBundle(opts.bundlePath, {
    onProgress: (p) =>
      progress({
        component: 'bundle',
        phase: 'verify',
        item: p.entry,
        done: p.bytesDone,
        total: p.bytesTotal,
        unit: 'bytes',
      }),
  });
  if (!check.ok) throw new BundleDamagedError(opts.bundlePath, check.problems);
  const bundle = await openBundle(opts.bundlePath);
  const report: RestoreInstallationReport = {
    dryRun: opts.dryRun === true,
    odoo: null,
    graph: null,
    switched: false,
    durationMs: 0,
  };
  let graph: PreparedGraphRestore | null = null;
  let odoo: PreparedRestore | null = null;
  try {
    for (const c of wants) {
      if (!bundle.metadata.components[c]) {
        throw new RestoreRefusedError(
          `the bundle holds no ${c} component (it has: ${Object.keys(bundle.metadata.components).join(', ') || 'none'}): restore only the components it has`,
        );
      }
    }
    const odooOpts = (b: BundleReader): RestoreOptions | null =>
      opts.odoo && wants.has('odoo')
        ? {
            ...opts.odoo,
            bundle: b,
            onProgress: (p) =>
              progress({
                component: 'odoo',
                phase: p.phase,
                ...(p.table === undefined ? {} : { item: p.table }),
                done: p.rowsDone,
                total: p.rowsTotal,
                unit: 'items',
              }),
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
                phase: p.phase,
                done: p.bytesDone,
                // Loading reads the dump entry once: its size is the total.
                total: p.phase === 'graph load' ? dumpBytes : 0,
                unit: 'bytes' as const,
              }),
          }
        : null;

    if (opts.dryRun) {
      const o = odooOpts(bundle);
      if (o) report.odoo = await dryRunRestore(o);
      if (graphOpts) report.graph = (await prepareGraphRestore(graphOpts)).report;
      report.durationMs = Math.round(performance.now() - started);
      return report;
    }

    // Prepare and verify every store; nothing live has changed yet.
    if (graphOpts) graph = await prepareGraphRestore(graphOpts);
    const o = odooOpts(bundle);
    if (o) odoo = await prepareRestore(o);

    // Switch: the graph first (it can be undone), then the Odoo COMMIT.
    progress({ component: 'bundle', phase: 'switch', done: 0, total: 0, unit: 'items' });
    if (graph) report.graph = await graph.swap();
    if (odoo) {
      try {
        report.odoo = await odoo.commit();
        odoo = null;
      } catch (err) {
        odoo = null;
        if (graph && report.graph) {
          await graph.undo().catch((undoErr: unknown) => {
            throw new Error(
              `the Odoo data could not be committed (${(err as Error).message}) and putting the previous graph database back failed too (${(undoErr as Error).message}): the replaced graph database is ${report.graph?.previous}; rename it back by hand`,
              { cause: err },
            );
          });
          graph = null;
        }
        throw err;
      }
    }
    // Everything switched: only now are the graph databases older restores kept dropped.
    if (graph && report.graph) report.graph = await graph.finish();
    graph = null;
    report.switched = true;
    report.durationMs = Math.round(performance.now() - started);
    return report;
  } finally {
    // Whatever was prepared and not switched is dropped: the live stores stay as they were.
    if (odoo) await odoo.rollback().catch(() => undefined);
    if (graph && !report.graph) await graph.discard().catch(() => undefined);
    await bundle.close();
  }
}
