/**
 * Export: preflight → the consistent cut (cut.ts: Odoo and graph snapshots under one write
 * fence, the Chroma snapshot right after) → every chosen store into one bundle, then the generated
 * restore instructions, the export log and metadata.json (`options.consistentCut` says how the cut
 * was made). The stores are written one after another: a zip is written sequentially, and each
 * reads from its snapshot, so the order changes nothing in what is captured.
 */
import { BundleWriter, ENTRY, type FinalizedBundle } from '@sam-backup/bundle';
import { exportGraph, type GraphExportResult } from '@sam-backup/graph';
import { type ExportResult, exportOdooData } from '@sam-backup/odoo-data';
import {
  beginVectorExport,
  type VectorExportHandle,
  type VectorExportResult,
  type VectorSettings,
} from '@sam-backup/vectors';
import { type Cut, openCut } from './cut.js';
import { type PreflightReport, preflightExport } from './preflight.js';

export const COMPONENTS = ['odoo', 'graph', 'vectors'] as const;
export type Component = (typeof COMPONENTS)[number];

export interface EngineProgress {
  component: Component | 'bundle';
  phase: string;
  item?: string;
  done: number;
  total: number;
  unit: 'items' | 'bytes';
}

/** The Odoo part's progress events as the engine's (export and restore alike). */
export function odooProgress(
  progress: (p: EngineProgress) => void,
): (p: { phase: string; table?: string; rowsDone: number; rowsTotal: number }) => void {
  return (p) =>
    progress({
      component: 'odoo',
      phase: p.phase,
      ...(p.table === undefined ? {} : { item: p.table }),
      done: p.rowsDone,
      total: p.rowsTotal,
      unit: 'items',
    });
}

/** The bundle check's progress events as the engine's (a restore's first step, a verify job). */
export function verifyProgress(
  progress: (p: EngineProgress) => void,
): (p: { entry: string; bytesDone: number; bytesTotal: number }) => void {
  return (p) =>
    progress({
      component: 'bundle',
      phase: 'verify',
      item: p.entry,
      done: p.bytesDone,
      total: p.bytesTotal,
      unit: 'bytes',
    });
}

export interface ExportInstallationOptions {
  components: readonly Component[];
  backupDir: string;
  tool: { name: string; version: string };
  odoo?: {
    databaseUrl: string;
    filestoreDir: string;
    modules?: readonly string[];
    includeSecrets?: boolean;
    secretColumns?: readonly string[];
  };
  graph?: { databaseUrl: string; pgDumpPath?: string };
  vectors?: { settings: VectorSettings };
  /** Longest wait for writers in flight when the cut's fence is taken (default 15 s). */
  lockTimeoutMs?: number;
  onProgress?: (p: EngineProgress) => void;
}

export interface ExportInstallationResult {
  bundle: FinalizedBundle;
  odoo: ExportResult | null;
  graph: GraphExportResult | null;
  vectors: VectorExportResult | null;
  preflight: PreflightReport;
  cut: string;
  durationMs: number;
}

export async function exportInstallation(opts: ExportInstallationOptions): Promise<ExportInstallationResult> {
  const started = performance.now();
  const progress = (p: EngineProgress) => opts.onProgress?.(p);
  const wants = new Set(opts.components);
  if (wants.has('odoo') && !opts.odoo)
    throw new Error('exportInstallation: components has odoo but no odoo settings');
  if (wants.has('graph') && !opts.graph)
    throw new Error('exportInstallation: components has graph but no graph settings');
  if (wants.has('vectors') && !opts.vectors)
    throw new Error('exportInstallation: components has vectors but no vectors settings');
  const odooOpts = opts.odoo && wants.has('odoo') ? opts.odoo : null;
  const graphOpts = opts.graph && wants.has('graph') ? opts.graph : null;
  const vectorOpts = opts.vectors && wants.has('vectors') ? opts.vectors : null;

  progress({ component: 'bundle', phase: 'preflight', done: 0, total: 0, unit: 'items' });
  const preflight = await preflightExport({
    backupDir: opts.backupDir,
    ...(odooOpts ? { odoo: odooOpts } : {}),
    ...(graphOpts ? { graph: graphOpts } : {}),
    ...(vectorOpts ? { vectors: { settings: vectorOpts.settings } } : {}),
  });
  const log: string[] = [];
  const note = (line: string) => log.push(`${new Date().toISOString()} ${line}`);
  note(`${opts.tool.name} ${opts.tool.version} export of ${[...wants].join(', ')}`);
  for (const c of preflight.checks) note(`preflight: ${c}`);

  let cut: Cut | null = null;
  let vectorHandle: VectorExportHandle | null = null;
  let snapshotting: Promise<VectorExportHandle> | null = null;
  let writer: BundleWriter | null = null;
  try {
    progress({ component: 'bundle', phase: 'cut', done: 0, total: 0, unit: 'items' });
    cut = await openCut({
      ...(odooOpts ? { odoo: { databaseUrl: odooOpts.databaseUrl, tables: preflight.odooTables } } : {}),
      ...(graphOpts ? { graph: { databaseUrl: graphOpts.databaseUrl } } : {}),
      ...(opts.lockTimeoutMs === undefined ? {} : { lockTimeoutMs: opts.lockTimeoutMs }),
    });
    const cutText = vectorOpts
      ? `${cut.description === 'no database' ? 'the Chroma snapshot alone' : `${cut.description}; the Chroma snapshot started right after, beside the databases' export`}`
      : cut.description;
    note(`cut: ${cutText}`);
    // The Chroma snapshot starts now and runs beside the databases' export (its own process and
    // disk work on the second core); its progress is not shown, the databases' is.
    snapshotting = vectorOpts
      ? beginVectorExport({ settings: vectorOpts.settings, workDir: opts.backupDir }).then((h) => {
          vectorHandle = h;
          return h;
        })
      : null;
    // A failure elsewhere must still wait for the snapshot, to remove its work folder.
    snapshotting?.catch(() => undefined);
    writer = await BundleWriter.create({ dir: opts.backupDir });
    let odoo: ExportResult | null = null;
    let graph: GraphExportResult | null = null;
    let vectors: VectorExportResult | null = null;
    if (odooOpts) {
      odoo = await exportOdooData({
        ...odooOpts,
        bundle: writer,
        ...(cut.odooSnapshot ? { snapshot: cut.odooSnapshot } : {}),
        onProgress: odooProgress(progress),
      });
      note(`odoo: ${odoo.modelList.tables.length} tables, ${odoo.rows} rows, ${odoo.files} files`);
      for (const s of odoo.secretsOmitted)
        note(`odoo: secret column left out: ${s.table}.${s.column} (${s.rows} rows)`);
      for (const f of odoo.missingFiles) note(`odoo: filestore file missing: ${f}`);
    }
    if (graphOpts) {
      graph = await exportGraph({
        ...graphOpts,
        bundle: writer,
        ...(cut.graphSnapshot ? { snapshot: cut.graphSnapshot } : {}),
        onProgress: (p) =>
          progress({
            component: 'graph',
            phase: p.phase.replace(/^graph /, ''),
            done: p.bytesDone,
            total: 0,
            unit: 'bytes',
          }),
      });
      note(
        `graph: database ${graph.database} (PostgreSQL ${graph.serverVersion}${graph.fingerprint.age ? `, AGE ${graph.fingerprint.age.version}` : ''}), ${graph.fingerprint.tables.length} tables, ${graph.bytes} bytes of dump`,
      );
    }
    // Every database row is read: the snapshots can go.
    await cut.release();
    if (snapshotting) {
      const handle = await snapshotting;
      note(`vectors: snapshot taken at ${handle.takenAt}`);
      vectors = await handle.write(writer);
      for (const line of vectors.log) note(line);
    }
    await writer.addEntry(ENTRY.instructions, instructions(odoo, graph, vectors));
    note('done');
    await writer.addEntry(ENTRY.exportLog, `${log.join('\n')}\n`);
    const bundle = await writer.finalize({
      tool: opts.tool,
      source: {
        ...(odoo ? { odoo: { version: odoo.odooVersion }, modules: odoo.modules } : {}),
        ...(graph
          ? {
              postgres: { version: graph.serverVersion },
              age: graph.fingerprint.age ? { version: graph.fingerprint.age.version } : null,
            }
          : {}),
        ...(vectors
          ? {
              chroma: {
                version: vectors.details.chromaVersion ?? 'unknown (directory mode)',
                mode: vectors.details.mode,
              },
            }
          : {}),
      },
      components: {
        ...(odoo ? { odoo: odoo.component } : {}),
        ...(graph ? { graph: graph.component } : {}),
        ...(vectors ? { vectors: vectors.component } : {}),
      },
      options: {
        secretsIncluded: opts.odoo?.includeSecrets === true,
        secretsOmitted: odoo?.secretsOmitted ?? [],
        consistentCut: cutText,
      },
    });
    writer = null;
    return {
      bundle,
      odoo,
      graph,
      vectors,
      preflight,
      cut: cutText,
      durationMs: Math.round(performance.now() - started),
    };
  } finally {
    if (writer) await writer.abort().catch(() => undefined);
    if (cut) await cut.release();
    if (snapshotting) await snapshotting.catch(() => undefined);
    if (vectorHandle) await (vectorHandle as VectorExportHandle).cleanup();
  }
}

function instructions(
  odoo: ExportResult | null,
  graph: GraphExportResult | null,
  vectors: VectorExportResult | null,
): string {
  const list = [odoo ? 'odoo' : '', graph ? 'graph' : '', vectors ? 'vectors' : ''].filter(Boolean).join(',');
  const parts = [
    '# Restoring this bundle',
    '',
    'Check it first — every entry against metadata.json, and the whole file against its .sha256:',
    '',
    '    sam-backup verify <this file>',
    '    sha256sum -c <this file>.sha256',
    '',
    'Preview, then restore (the restore asks before it writes; --yes does not ask):',
    '',
    `    sam-backup restore <this file> --components ${list} --dry-run`,
    `    sam-backup restore <this file> --components ${list}`,
    '',
    'Settings: SAM_ODOO_DB_URL, SAM_ODOO_FILESTORE (Odoo data), SAM_GRAPH_DB_URL (graph, a superuser URL),',
    'SAM_CHROMA_PATH or SAM_CHROMA_URL (vectors), SAM_BACKUP_DIR (bundles, and the journal of a restore).',
    'If a restore is interrupted, `sam-backup recover` puts the installation back (fully old or fully new).',
    '',
    '## By hand, with standard tools',
    '',
  ];
  if (odoo) {
    parts.push(
      `- Odoo data (Odoo ${odoo.odooVersion}): \`odoo_data/ai_brain_backup.xlsx\` opens in any spreadsheet program;`,
      '  one sheet per table, row 1 the column names, cells in PostgreSQL text form; `odoo_data/model_list.json`',
      '  says which sheet holds which table and in which order tables load. Attachment files are in',
      '  `odoo_data/filestore/`, named as Odoo names them: copy them under `<data_dir>/filestore/<database>/`.',
    );
  }
  if (graph) {
    parts.push(
      `- Graph database (${graph.database}): \`databases/postgres_graph_dump.sql\` is a plain pg_dump. Load it into a`,
      '  NEW database: `createdb -T template0 NEW && psql -X -1 -v ON_ERROR_STOP=1 -d NEW -f postgres_graph_dump.sql`.',
      graph.fingerprint.age
        ? `  With Apache AGE (${graph.fingerprint.age.version}), re-key the catalog afterwards (apache/age#2503), in NEW:\n\n      WITH g AS (UPDATE ag_catalog.ag_graph SET graphid = namespace::oid WHERE graphid <> namespace::oid RETURNING graphid AS new_id, name),\n           old AS (SELECT o.graphid AS old_id, g.new_id FROM ag_catalog.ag_graph o JOIN g ON g.name = o.name)\n      UPDATE ag_catalog.ag_label l SET graph = old.new_id FROM old WHERE l.graph = old.old_id;\n`
        : '  (No Apache AGE in this graph database: nothing more to do.)',
    );
  }
  if (vectors) {
    parts.push(
      vectors.details.mode === 'directory'
        ? '- Vectors (Chroma persist directory): `databases/chroma_data/` is the directory itself (`chroma.sqlite3` and one\n  folder of index files per collection). Stop Chroma, copy it to a NEW folder, point Chroma at it, start Chroma.'
        : `- Vectors (Chroma server ${vectors.details.chromaVersion}): \`databases/chroma_data/collections.json\` lists the collections (metadata,\n  configuration, counts); each \`collections/NNNN.jsonl\` holds one record a line: id, e (the vector, float32\n  little-endian, base64), d (document), m (metadata), u (URI). Create each collection and add its records.`,
    );
  }
  return `${parts.join('\n')}\n`;
}
