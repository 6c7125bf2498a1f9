/**
 * Export: every chosen store into one bundle, then the generated restore instructions, the export
 * log and metadata.json. The stores are exported one after another; each is internally consistent
 * (its own snapshot). A cut shared by the Odoo and graph snapshots under a write fence is not done
 * yet: metadata.json says how the cut was made (`options.cut`).
 */
import { BundleWriter, ENTRY, type FinalizedBundle } from '@sam-backup/bundle';
import { exportGraph, type GraphExportResult } from '@sam-backup/graph';
import { type ExportResult, exportOdooData } from '@sam-backup/odoo-data';

export const COMPONENTS = ['odoo', 'graph'] as const;
export type Component = (typeof COMPONENTS)[number];

export interface EngineProgress {
  component: Component | 'bundle';
  phase: string;
  item?: string;
  done: number;
  total: number;
  unit: 'items' | 'bytes';
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
  onProgress?: (p: EngineProgress) => void;
}

export interface ExportInstallationResult {
  bundle: FinalizedBundle;
  odoo: ExportResult | null;
  graph: GraphExportResult | null;
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
  const writer = await BundleWriter.create({ dir: opts.backupDir });
  const log: string[] = [];
  const note = (line: string) => log.push(`${new Date().toISOString()} ${line}`);
  note(`${opts.tool.name} ${opts.tool.version} export of ${[...wants].join(', ')}`);
  try {
    let odoo: ExportResult | null = null;
    let graph: GraphExportResult | null = null;
    if (opts.odoo && wants.has('odoo')) {
      odoo = await exportOdooData({
        ...opts.odoo,
        bundle: writer,
        onProgress: (p) =>
          progress({
            component: 'odoo',
            phase: p.phase,
            ...(p.table === undefined ? {} : { item: p.table }),
            done: p.rowsDone,
            total: p.rowsTotal,
            unit: 'items',
          }),
      });
      note(`odoo: ${odoo.modelList.tables.length} tables, ${odoo.rows} rows, ${odoo.files} files`);
      for (const s of odoo.secretsOmitted)
        note(`odoo: secret column left out: ${s.table}.${s.column} (${s.rows} rows)`);
      for (const f of odoo.missingFiles) note(`odoo: filestore file missing: ${f}`);
    }
    if (opts.graph && wants.has('graph')) {
      graph = await exportGraph({
        ...opts.graph,
        bundle: writer,
        onProgress: (p) =>
          progress({ component: 'graph', phase: p.phase, done: p.bytesDone, total: 0, unit: 'bytes' }),
      });
      note(
        `graph: database ${graph.database} (PostgreSQL ${graph.serverVersion}${graph.fingerprint.age ? `, AGE ${graph.fingerprint.age.version}` : ''}), ${graph.fingerprint.tables.length} tables, ${graph.bytes} bytes of dump`,
      );
    }
    await writer.addEntry(ENTRY.instructions, instructions(odoo, graph));
    note('done');
    await writer.addEntry(ENTRY.exportLog, `${log.join('\n')}\n`);
    const bundle = await writer.finalize({
      tool: opts.tool,
      source: {
        ...(odoo ? { odoo: { version: odoo.odooVersion }, modules: odoo.modules } : {}),
      },
      components: {
        ...(odoo ? { odoo: odoo.component } : {}),
        ...(graph ? { graph: graph.component } : {}),
      },
      options: {
        secretsIncluded: opts.odoo?.includeSecrets === true,
        secretsOmitted: odoo?.secretsOmitted ?? [],
      },
    });
    return { bundle, odoo, graph, durationMs: Math.round(performance.now() - started) };
  } catch (err) {
    await writer.abort();
    throw err;
  }
}

function instructions(odoo: ExportResult | null, graph: GraphExportResult | null): string {
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
    `    sam-backup restore <this file> --components ${[odoo ? 'odoo' : '', graph ? 'graph' : ''].filter(Boolean).join(',')} --dry-run`,
    `    sam-backup restore <this file> --components ${[odoo ? 'odoo' : '', graph ? 'graph' : ''].filter(Boolean).join(',')}`,
    '',
    'Settings: SAM_ODOO_DB_URL, SAM_ODOO_FILESTORE (Odoo data), SAM_GRAPH_DB_URL (graph, a superuser URL).',
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
  return `${parts.join('\n')}\n`;
}
