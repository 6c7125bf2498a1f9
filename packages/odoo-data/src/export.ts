/** Export: one REPEATABLE READ READ ONLY snapshot, COPY out, cells into the workbook, all streamed. */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { type BundleWriter, type Component, ENTRY } from '@sam-backup/bundle';
import {
  type Cell,
  cutCellText,
  MAX_CELL_CHARS,
  MAX_ROWS,
  type SheetWriter,
  safeSheetName,
  WorkbookWriter,
} from '@sam-backup/workbook';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { type ColumnKind, columnKind, toCell } from './cells.js';
import { CopyTextParser } from './copytext.js';
import { type Discovery, discover, type PlannedTable } from './discover.js';
import { OdooDataError } from './errors.js';
import { HASH_ALGORITHM } from './hash.js';
import {
  MODEL_LIST_FORMAT,
  MODEL_LIST_VERSION,
  type ModelList,
  type OutsideRef,
  type TableSpec,
} from './model-list.js';
import { canonicalSelect, filterCondition, quoteIdent, SESSION_SETTINGS } from './sql.js';

export interface OdooProgress {
  phase: string;
  table?: string;
  rowsDone: number;
  rowsTotal: number;
}

export interface ExportOptions {
  databaseUrl: string;
  /** Odoo's filestore folder of this database (<data_dir>/filestore/<db>). */
  filestoreDir: string;
  modules?: readonly string[];
  includeSecrets?: boolean;
  secretColumns?: readonly string[];
  bundle: BundleWriter;
  onProgress?: (p: OdooProgress) => void;
  /** Data rows per sheet before continuing on another sheet (default and maximum MAX_ROWS - 1). */
  maxRowsPerSheet?: number;
  /** Deflate level of the workbook's own parts (default 1). */
  workbookCompressionLevel?: number;
  /**
   * A snapshot exported by another transaction (`pg_export_snapshot()`, still open) to read in,
   * so that this export and others share one cut (the engine's write fence).
   */
  snapshot?: string;
}

export interface SecretOmitted {
  table: string;
  column: string;
  rows: number;
}

export interface ExportResult {
  component: Component;
  secretsOmitted: SecretOmitted[];
  modules: Record<string, string>;
  odooVersion: string;
  modelList: ModelList;
  rows: number;
  files: number;
  missingFiles: string[];
  durationMs: number;
}

export async function connect(databaseUrl: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'sam-backup odoo-data' });
  // A connection lost while idle (terminated, server gone) surfaces as the next query's error.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    throw new OdooDataError(
      'CONNECT_FAILED',
      `cannot connect to the Odoo database (${(err as Error).message}); check the database URL and that PostgreSQL runs`,
      { cause: err },
    );
  }
  for (const s of SESSION_SETTINGS) await client.query(s);
  return client;
}

/** Distinct non-null ids as inclusive ranges. */
function ranges(ids: number[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const id of ids) {
    const last = out.at(-1);
    if (last && id === last[1] + 1) last[1] = id;
    else out.push([id, id]);
  }
  return out;
}

async function outsideRefs(db: pg.ClientBase, t: PlannedTable, inside: Set<string>): Promise<OutsideRef[]> {
  const refs: OutsideRef[] = [];
  for (const fk of t.foreignKeys) {
    if (inside.has(fk.refTable)) continue;
    const r = await db.query<{ v: number }>(
      `SELECT DISTINCT t.${quoteIdent(fk.column)}::int8 AS v FROM ${quoteIdent(t.table)} t
       WHERE ${filterCondition(t.filter, 't')} AND t.${quoteIdent(fk.column)} IS NOT NULL ORDER BY 1`,
    );
    refs.push({
      column: fk.column,
      table: fk.refTable,
      ids: ranges(r.rows.map((x) => Number(x.v))),
      nullable: fk.nullable,
    });
  }
  return refs;
}

/** Reads what would be exported, without exporting. */
export async function discoverOdooData(opts: {
  databaseUrl: string;
  modules?: readonly string[];
  secretColumns?: readonly string[];
}): Promise<Discovery> {
  const db = await connect(opts.databaseUrl);
  try {
    await db.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    return await discover(db, opts);
  } finally {
    await db.query('ROLLBACK').catch(() => undefined);
    await db.end();
  }
}

/** Filestore files up to this size are read whole and handed to the bundle writer as buffers. */
const SMALL_FILE = 4 << 20;

export async function exportOdooData(opts: ExportOptions): Promise<ExportResult> {
  const started = performance.now();
  const maxData = Math.min(opts.maxRowsPerSheet ?? MAX_ROWS - 1, MAX_ROWS - 1);
  if (!Number.isInteger(maxData) || maxData < 1) {
    throw new OdooDataError(
      'BAD_OPTIONS',
      `maxRowsPerSheet ${opts.maxRowsPerSheet} must be a positive integer`,
    );
  }
  const includeSecrets = opts.includeSecrets === true;
  const db = await connect(opts.databaseUrl);
  let copyCutShort = false;
  const scratch = await mkdtemp(join(tmpdir(), 'sam-odoo-export-'));
  const progress = (p: OdooProgress) => opts.onProgress?.(p);
  try {
    await db.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    if (opts.snapshot) await db.query(`SET TRANSACTION SNAPSHOT '${opts.snapshot.replace(/'/g, "''")}'`);
    const found = await discover(db, { modules: opts.modules, secretColumns: opts.secretColumns });
    const inside = new Set(
      found.tables.filter((t) => t.kind === 'model' || t.kind === 'subset').map((t) => t.table),
    );
    // Row counts first (same snapshot): sheet names and progress totals.
    const counts = new Map<string, number>();
    for (const t of found.tables) {
      const r = await db.query<{ n: string }>(
        `SELECT count(*) AS n FROM ${quoteIdent(t.table)} t WHERE ${filterCondition(t.filter, 't')}`,
      );
      counts.set(t.table, Number(r.rows[0]?.n ?? 0));
    }
    const rowsTotal = [...counts.values()].reduce((a, b) => a + b, 0);
    const taken = new Set<string>(['Index', 'Schema']);
    const sheetsOf = new Map<string, string[]>();
    for (const t of found.tables) {
      const n = Math.max(1, Math.ceil((counts.get(t.table) ?? 0) / maxData));
      const names: string[] = [];
      for (let i = 0; i < n; i++) {
        const name = safeSheetName(i === 0 ? t.table : `${t.table}_${i + 1}`, taken);
        taken.add(name);
        names.push(name);
      }
      sheetsOf.set(t.table, names);
    }

    const out = new PassThrough();
    // The writer keeps Excel's own limit for every sheet; exportTable continues a table on its next
    // sheet after maxData rows (a smaller maxRowsPerSheet applies to table sheets only).
    const wb = new WorkbookWriter(out, { compressionLevel: opts.workbookCompressionLevel ?? 1 });
    const entryDone = opts.bundle.addEntry(ENTRY.workbook, out, { compression: 'store' });
    entryDone.catch(() => undefined);

    const specs: TableSpec[] = [];
    const secretsOmitted: SecretOmitted[] = [];
    let rowsDone = 0;
    try {
      await writeSmallSheet(wb, 'Index', [
        ['sheet', 'table', 'model', 'kind', 'module', 'rows', 'description'],
        ...found.tables.flatMap((t) =>
          (sheetsOf.get(t.table) ?? []).map((s) => [
            s,
            t.table,
            t.model,
            t.kind,
            t.module,
            String(counts.get(t.table) ?? 0),
            t.description,
          ]),
        ),
      ]);
      await writeSmallSheet(wb, 'Schema', [
        ['table', 'field', 'label', 'odoo type', 'postgresql type', 'relation', 'required'],
        ...found.tables.flatMap((t) =>
          t.columns.map((c) => [
            t.table,
            c.name,
            c.label,
            c.odooType,
            c.pgType,
            c.relation,
            c.required ? 'yes' : 'no',
          ]),
        ),
      ]);
      for (const t of found.tables) {
        const blanked = includeSecrets ? [] : t.secretColumns;
        for (const col of blanked) {
          const r = await db.query<{ n: string }>(
            `SELECT count(*) AS n FROM ${quoteIdent(t.table)} t WHERE t.${quoteIdent(col)} IS NOT NULL AND ${filterCondition(t.filter, 't')}`,
          );
          const n = Number(r.rows[0]?.n ?? 0);
          if (n > 0) secretsOmitted.push({ table: t.table, column: col, rows: n });
        }
        const sheets = sheetsOf.get(t.table) as string[];
        const overflowEntry = `${ENTRY.overflowDir}${t.table}.jsonl`;
        const overflowPath = join(scratch, `${t.table}.jsonl`);
        const res = await exportTable(db, wb, t, blanked, sheets, maxData, overflowPath, (n) => {
          rowsDone += n;
          progress({ phase: 'export', table: t.table, rowsDone, rowsTotal });
        }).catch((err: unknown) => {
          copyCutShort = true;
          throw err;
        });
        specs.push({
          table: t.table,
          model: t.model,
          kind: t.kind,
          module: t.module,
          filter: t.filter,
          key: t.key,
          columns: t.columns,
          blanked,
          sheets,
          rows: res.rows,
          contentHash: res.hash,
          outsideRefs: await outsideRefs(db, t, inside),
          overflow: res.overflowCells > 0 ? { entry: overflowEntry, cells: res.overflowCells } : null,
          description: t.description,
        });
      }
      await wb.finalize();
    } catch (err) {
      wb.abort(err as Error);
      throw err;
    }
    await entryDone;

    for (const s of specs) {
      if (s.overflow)
        await opts.bundle.addEntry(s.overflow.entry, createReadStream(join(scratch, `${s.table}.jsonl`)));
    }

    // Filestore files of the backed-up attachments, once per SHA-1 name.
    const att = found.tables.find((t) => t.table === 'ir_attachment' && t.kind === 'subset');
    const missingFiles: string[] = [];
    let files = 0;
    let bytes = 0;
    if (att?.columns.some((c) => c.name === 'store_fname')) {
      const r = await db.query<{ f: string }>(
        `SELECT DISTINCT t.store_fname AS f FROM ir_attachment t WHERE ${filterCondition(att.filter, 't')} AND t.store_fname IS NOT NULL ORDER BY 1`,
      );
      let i = 0;
      for (const { f } of r.rows) {
        i++;
        if (!/^[0-9a-f]{2}\/[0-9a-f]{40}$/.test(f)) {
          missingFiles.push(f);
          continue;
        }
        const path = join(opts.filestoreDir, f);
        const st = await stat(path).catch(() => undefined);
        if (!st?.isFile()) {
          missingFiles.push(f);
          continue;
        }
        // Small files go in as buffers: the bundle writer queues them without a round trip through
        // the stream machinery per file (≈ 1.8× faster on the fixture's filestore, bench figures).
        const data = st.size <= SMALL_FILE ? await readFile(path) : createReadStream(path);
        await opts.bundle.addEntry(`${ENTRY.filestoreDir}${f}`, data);
        files++;
        bytes += st.size;
        if (i % 50 === 0) progress({ phase: 'filestore', rowsDone: i, rowsTotal: r.rows.length });
      }
    }
    await db.query('COMMIT');

    const tablesInOrder = specs;
    const modelList: ModelList = {
      format: MODEL_LIST_FORMAT,
      formatVersion: MODEL_LIST_VERSION,
      odooVersion: found.odooVersion,
      modules: found.modules,
      modulePatterns: found.modulePatterns,
      restoreOrder: found.restoreOrder,
      deferredColumns: found.deferredColumns,
      tables: tablesInOrder,
      sheets: Object.fromEntries(specs.flatMap((s) => s.sheets.map((n) => [n, s.table]))),
      filestore: { files, bytes },
      secretsIncluded: includeSecrets,
      hashAlgorithm: HASH_ALGORITHM,
    };
    await opts.bundle.addEntry(ENTRY.modelList, `${JSON.stringify(modelList, null, 1)}\n`);
    const rows = specs.reduce((a, s) => a + s.rows, 0);
    const component: Component = {
      entries: [ENTRY.workbook, ENTRY.modelList, ENTRY.overflowDir, ENTRY.filestoreDir],
      counts: {
        models: found.models.length,
        extendedModels: found.extendedModels.length,
        tables: specs.length,
        rows,
        files,
      },
      contentHash: componentHash(specs),
      details: {
        hashAlgorithm: HASH_ALGORITHM,
        tables: Object.fromEntries(specs.map((s) => [s.table, { rows: s.rows, contentHash: s.contentHash }])),
        skippedModels: found.skipped,
        missingFiles,
      },
    };
    return {
      component,
      secretsOmitted,
      modules: found.modules,
      odooVersion: found.odooVersion,
      modelList,
      rows,
      files,
      missingFiles,
      durationMs: Math.round(performance.now() - started),
    };
  } catch (err) {
    if (err instanceof OdooDataError) throw err;
    throw new OdooDataError(
      'EXPORT_FAILED',
      `exporting the Odoo data failed: ${(err as Error).message}; nothing was changed in the database — fix the cause and export again`,
      { cause: err },
    );
  } finally {
    // A COPY cut short (an error thrown while its rows were read: a cancel, a full disk) leaves the
    // connection inside the COPY, where ROLLBACK would wait forever: close the connection instead.
    if (!copyCutShort) await db.query('ROLLBACK').catch(() => undefined);
    await db.end().catch(() => undefined);
    await rm(scratch, { recursive: true, force: true });
  }
}

/** The component's hash: SHA-256 over "<table>\t<content hash>\n" for every table, sorted by name. */
export function componentHash(specs: ReadonlyArray<{ table: string; contentHash: string }>): string {
  const h = createHash('sha256');
  for (const s of [...specs].sort((a, b) => (a.table < b.table ? -1 : a.table > b.table ? 1 : 0))) {
    h.update(`${s.table}\t${s.contentHash}\n`);
  }
  return h.digest('hex');
}

async function writeSmallSheet(
  wb: WorkbookWriter,
  name: string,
  rows: Array<Array<string | null>>,
): Promise<void> {
  const sheet = wb.addSheet(name, { freezeHeader: true, headerStyle: true });
  for (const r of rows) {
    if (
      !sheet.writeRow(
        r.map((v) => (v === null ? null : { t: 's', v: v.length > MAX_CELL_CHARS ? cutCellText(v) : v })),
      )
    ) {
      await sheet.drain();
    }
  }
  await sheet.end();
}

async function exportTable(
  db: pg.ClientBase,
  wb: WorkbookWriter,
  t: PlannedTable,
  blanked: readonly string[],
  sheets: readonly string[],
  maxData: number,
  overflowPath: string,
  onRows: (n: number) => void,
): Promise<{ rows: number; hash: string; overflowCells: number }> {
  const select = canonicalSelect({
    table: t.table,
    columns: t.columns.map((c) => c.name),
    key: t.key,
    blanked,
    filter: t.filter,
  });
  const kinds: ColumnKind[] = t.columns.map((c) => columnKind(c.pgType));
  const header: Cell[] = t.columns.map((c) => ({ t: 's', v: c.name }));
  const keyIndex = t.columns.findIndex((c) => c.name === t.key[0]);
  const hash = createHash('sha256');
  let sheetNo = 0;
  let sheet: SheetWriter = wb.addSheet(sheets[0] as string, { freezeHeader: true, headerStyle: true });
  sheet.writeRow(header);
  let inSheet = 0;
  let rows = 0;
  let overflowCells = 0;
  let overflow: ReturnType<typeof createWriteStream> | undefined;
  let batch: Cell[][] = [];
  const parser = new CopyTextParser((values) => {
    const cells: Cell[] = new Array(values.length);
    for (let i = 0; i < values.length; i++) {
      const v = values[i] as string | null;
      if (v !== null && v.length > MAX_CELL_CHARS) {
        overflow ??= createWriteStream(overflowPath);
        overflow.write(
          `${JSON.stringify({ key: values[keyIndex], column: t.columns[i]?.name, value: v })}\n`,
        );
        overflowCells++;
        cells[i] = { t: 's', v: cutCellText(v) };
      } else cells[i] = toCell(kinds[i] as ColumnKind, v);
    }
    batch.push(cells);
  });
  const stream = db.query(copyTo(`COPY (${select}) TO STDOUT`));
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    parser.push(chunk as Buffer);
    const rowsNow = batch;
    batch = [];
    let wait = false;
    for (const cells of rowsNow) {
      if (inSheet === maxData) {
        await sheet.end();
        sheetNo++;
        sheet = wb.addSheet(sheets[sheetNo] as string, { freezeHeader: true, headerStyle: true });
        sheet.writeRow(header);
        inSheet = 0;
      }
      if (!sheet.writeRow(cells)) wait = true;
      inSheet++;
    }
    rows += rowsNow.length;
    if (rowsNow.length > 0) onRows(rowsNow.length);
    if (wait) await sheet.drain();
  }
  parser.end();
  for (const cells of batch) sheet.writeRow(cells);
  rows += batch.length;
  await sheet.end();
  // Sheets planned from the count but left empty (cannot happen in one snapshot) are still written.
  while (sheetNo < sheets.length - 1) {
    sheetNo++;
    const s = wb.addSheet(sheets[sheetNo] as string, { freezeHeader: true, headerStyle: true });
    s.writeRow(header);
    await s.end();
  }
  if (overflow) {
    const o = overflow;
    await new Promise<void>((resolve, reject) => {
      o.once('error', reject);
      o.end(() => resolve());
    });
  }
  return { rows, hash: hash.digest('hex'), overflowCells };
}
