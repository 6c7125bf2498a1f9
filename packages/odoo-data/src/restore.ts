/**
 * Restore: refuse before touching anything, then one transaction — staging tables loaded with
 * COPY FROM STDIN from the workbook, checked against the bundle's content hashes, applied in
 * foreign-key order (cycles in two passes), verified by recomputing every table's hash inside the
 * transaction — and the filestore files moved in under a journal just before COMMIT.
 */
import { BundleError, type BundleReader, ENTRY } from '@sam-backup/bundle';
import { cutCellText } from '@sam-backup/workbook';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { CellError, type ColumnKind, columnKind, fromCell } from './cells.js';
import { escapeCopy } from './copytext.js';
import { OdooDataError, OdooDataRefusedError } from './errors.js';
import { connect, type OdooProgress } from './export.js';
import {
  fileExists,
  MARKER_KEY,
  moveIn,
  newRestoreId,
  planFile,
  recoverFilestore,
  removeJournal,
  type StagedFile,
  stageFile,
  undoFiles,
  writeJournal,
} from './filestore.js';
import { hashQuery } from './hash.js';
import { type ModelList, ModelListSchema, type TableSpec } from './model-list.js';
import { canonicalSelect, filterCondition, quoteIdent } from './sql.js';
import { openWorkbookSource } from './workbook-reader.js';

export interface RestoreOptions {
  databaseUrl: string;
  filestoreDir: string;
  bundle: BundleReader;
  /** replace (default): tables end exactly as in the bundle; merge: upsert by id, other rows stay (same database only). */
  mode?: 'replace' | 'merge';
  /** Outside references the target lacks: refuse (default) or set nullable ones to NULL. */
  dangling?: 'refuse' | 'null';
  /** Allow restoring a bundle whose columns the target no longer has (their values are dropped). */
  allowDroppedColumns?: boolean;
  /** Accept a workbook whose content differs from the bundle's hashes (a person edited it). */
  acceptEditedWorkbook?: boolean;
  onProgress?: (p: OdooProgress) => void;
}

export interface TableReport {
  table: string;
  model: string | null;
  kind: TableSpec['kind'];
  rowsInBundle: number;
  rowsNow: number;
  toInsert: number;
  toUpdate: number;
  toDelete: number;
  /** Extension tables: bundle rows whose record the target lacks (they are not written). */
  missingRows: number;
  missingRefs: Array<{ column: string; table: string; ids: number[] }>;
  nulledReferences: number;
  droppedColumns: string[];
  addedColumns: string[];
  /** The workbook's content for this table differs from the bundle's hash (edited). */
  edited: boolean;
  /** Rows given another id because the bundle's id belongs to another record (ir_model_data only). */
  rekeyed: number;
  /** Set once verified inside the transaction. */
  verified: boolean;
  contentHash: string | null;
}

export interface RestoreReport {
  dryRun: boolean;
  mode: 'replace' | 'merge';
  verdict: 'ok' | 'refused';
  refusals: string[];
  warnings: string[];
  odooVersion: { bundle: string; target: string };
  modules: Array<{
    name: string;
    bundle: string;
    target: string | null;
    verdict: 'same' | 'older' | 'newer' | 'missing';
  }>;
  tables: TableReport[];
  files: { inBundle: number; toAdd: number; present: number };
  sequences: Array<{ table: string; before: number; after: number }>;
  signals: string[];
  committed: boolean;
  durationMs: number;
}

export interface PreparedRestore {
  report: RestoreReport;
  /**
   * Written into ir_config_parameter `sam_backup.odoo_restore_id` inside the restore's transaction:
   * `odooRestoreCommitted` tells, after a crash, whether that transaction committed.
   */
  restoreId: string;
  commit(): Promise<RestoreReport>;
  rollback(): Promise<void>;
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split('.').map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

function expand(ranges: ReadonlyArray<readonly [number, number]>): number[] {
  const ids: number[] = [];
  for (const [a, b] of ranges) for (let i = a; i <= b; i++) ids.push(i);
  return ids;
}

interface Work {
  spec: TableSpec;
  stage: string;
  /** Bundle columns the target has, in bundle order. */
  cols: string[];
  blanked: string[];
  deferred: string[];
  report: TableReport;
  stageHash: string;
}

async function readModelList(bundle: BundleReader): Promise<ModelList> {
  if (!bundle.has(ENTRY.modelList) || !bundle.has(ENTRY.workbook)) {
    throw new OdooDataRefusedError(
      'BAD_BUNDLE',
      `the bundle has no Odoo data (${ENTRY.modelList} and ${ENTRY.workbook}); choose a bundle exported with the odoo component`,
    );
  }
  const raw = await bundle.readJson(ENTRY.modelList);
  const parsed = ModelListSchema.safeParse(raw);
  if (!parsed.success) {
    throw new OdooDataRefusedError(
      'BAD_BUNDLE',
      `${ENTRY.modelList} is not a model list this version understands (${parsed.error.issues[0]?.message ?? 'invalid'}); ` +
        'restore it with the sam-backup version that made it',
    );
  }
  return parsed.data;
}

/** Runs the checks, loads and verifies everything inside an open transaction. */
export async function prepareRestore(opts: RestoreOptions): Promise<PreparedRestore> {
  return prepare(opts, false);
}

/** Dry-run: what a restore would do. Only temporary staging tables are written, and the transaction is rolled back. */
export async function dryRunRestore(opts: RestoreOptions): Promise<RestoreReport> {
  const p = await prepare(opts, true);
  await p.rollback();
  return p.report;
}

/** prepareRestore + commit. */
export async function restoreOdooData(opts: RestoreOptions): Promise<RestoreReport> {
  const p = await prepare(opts, false);
  return p.commit();
}

async function prepare(opts: RestoreOptions, dryRun: boolean): Promise<PreparedRestore> {
  const started = performance.now();
  const mode = opts.mode ?? 'replace';
  const dangling = opts.dangling ?? 'refuse';
  if (mode !== 'replace' && mode !== 'merge') {
    throw new OdooDataError('BAD_OPTIONS', `mode ${String(mode)} is not replace or merge`);
  }
  const progress = (p: OdooProgress) => opts.onProgress?.(p);
  const list = await readModelList(opts.bundle);
  const db = await connect(opts.databaseUrl);
  let open = false;
  let staged: StagedFile[] = [];
  const restoreId = newRestoreId();
  const fail = async (err: unknown): Promise<never> => {
    if (open) await db.query('ROLLBACK').catch(() => undefined);
    open = false;
    await undoFiles(staged, []).catch(() => undefined);
    if (staged.length > 0) await removeJournal(opts.filestoreDir).catch(() => undefined);
    await db.end().catch(() => undefined);
    if (err instanceof OdooDataError) throw err;
    if (err instanceof BundleError) {
      throw new OdooDataRefusedError(
        'BAD_BUNDLE',
        `the bundle is damaged: ${err.message}; nothing was changed`,
        {
          cause: err,
        },
      );
    }
    throw new OdooDataError(
      'RESTORE_FAILED',
      `the Odoo restore failed and was rolled back, nothing changed: ${(err as Error).message}`,
      { cause: err },
    );
  };
  try {
    if (!dryRun) await recoverFilestore(opts.filestoreDir, db);
    await db.query('BEGIN');
    open = true;
    const report: RestoreReport = {
      dryRun,
      mode,
      verdict: 'ok',
      refusals: [],
      warnings: [],
      odooVersion: { bundle: list.odooVersion, target: '' },
      modules: [],
      tables: [],
      files: { inBundle: 0, toAdd: 0, present: 0 },
      sequences: [],
      signals: [],
      committed: false,
      durationMs: 0,
    };
    const refuse: Array<[OdooDataError['code'], string, unknown?]> = [];

    // Versions.
    const mods = await db.query<{ name: string; latest_version: string | null }>(
      `SELECT name, latest_version FROM ir_module_module WHERE state IN ('installed','to upgrade')`,
    );
    const target = new Map(mods.rows.map((m) => [m.name, m.latest_version ?? '']));
    report.odooVersion.target = target.get('base') ?? '';
    const major = (v: string) => v.split('.')[0] ?? '';
    if (major(list.odooVersion) !== major(report.odooVersion.target)) {
      refuse.push([
        'VERSION_REFUSED',
        `the bundle comes from Odoo ${list.odooVersion} and the target runs Odoo ${report.odooVersion.target || '(unknown)'}: ` +
          'restore into a database of the same Odoo major version',
      ]);
    }
    for (const [name, version] of Object.entries(list.modules)) {
      const t = target.get(name) ?? null;
      const verdict =
        t === null
          ? 'missing'
          : compareVersions(version, t) === 0
            ? 'same'
            : compareVersions(version, t) < 0
              ? 'older'
              : 'newer';
      report.modules.push({ name, bundle: version, target: t, verdict });
      if (verdict === 'missing') {
        refuse.push([
          'VERSION_REFUSED',
          `module ${name} (${version} in the bundle) is not installed in the target: install it first`,
        ]);
      } else if (verdict === 'newer') {
        refuse.push([
          'VERSION_REFUSED',
          `module ${name} is ${version} in the bundle but ${t} in the target: a bundle from a newer module version cannot be restored; upgrade ${name} first`,
        ]);
      } else if (verdict === 'older') {
        report.warnings.push(
          `module ${name}: the bundle is from ${version}, the target has ${t}; columns are matched by name`,
        );
      }
    }

    // Tables and columns.
    const work: Work[] = [];
    for (const spec of list.tables) {
      const r = await db.query<{ name: string }>(
        `SELECT a.attname AS name FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relname = $1 AND n.nspname = current_schema() AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
        [spec.table],
      );
      const have = r.rows.map((x) => x.name);
      const tr: TableReport = {
        table: spec.table,
        model: spec.model,
        kind: spec.kind,
        rowsInBundle: spec.rows,
        rowsNow: 0,
        toInsert: 0,
        toUpdate: 0,
        toDelete: 0,
        missingRows: 0,
        missingRefs: [],
        nulledReferences: 0,
        droppedColumns: [],
        addedColumns: [],
        edited: false,
        rekeyed: 0,
        verified: false,
        contentHash: null,
      };
      report.tables.push(tr);
      if (have.length === 0) {
        refuse.push([
          'VERSION_REFUSED',
          `table ${spec.table} (${spec.model ?? 'relation'}) does not exist in the target: install the module that defines it`,
        ]);
        continue;
      }
      const haveSet = new Set(have);
      const bundleCols = spec.columns.map((c) => c.name);
      tr.droppedColumns = bundleCols.filter((c) => !haveSet.has(c));
      if (spec.kind !== 'extension') tr.addedColumns = have.filter((c) => !bundleCols.includes(c));
      if (tr.droppedColumns.length > 0 && !opts.allowDroppedColumns) {
        refuse.push([
          'COLUMNS_DROPPED',
          `table ${spec.table}: the target has no column ${tr.droppedColumns.join(', ')}; their values would be lost — pass allowDroppedColumns (--allow-dropped-columns) to restore without them`,
        ]);
      }
      const deferred = (list.deferredColumns[spec.table] ?? []).filter((c) => haveSet.has(c));
      work.push({
        spec,
        stage: `sam_stage_${work.length}`,
        cols: bundleCols.filter((c) => haveSet.has(c)),
        blanked: spec.blanked.filter((c) => haveSet.has(c)),
        deferred,
        report: tr,
        stageHash: '',
      });
    }

    // Outside references.
    const loaded = new Set(
      list.tables.filter((t) => t.kind === 'model' || t.kind === 'subset').map((t) => t.table),
    );
    const nullify = new Map<string, Array<{ column: string; ids: number[] }>>();
    for (const w of work) {
      for (const ref of w.spec.outsideRefs) {
        if (loaded.has(ref.table) || !w.cols.includes(ref.column)) continue;
        const ids = expand(ref.ids);
        if (ids.length === 0) continue;
        const r = await db.query<{ id: number }>(
          `SELECT x AS id FROM unnest($1::int8[]) x WHERE NOT EXISTS (SELECT 1 FROM ${quoteIdent(ref.table)} r WHERE r.id = x) ORDER BY 1`,
          [ids],
        );
        if (r.rows.length === 0) continue;
        const missing = r.rows.map((x) => Number(x.id));
        w.report.missingRefs.push({ column: ref.column, table: ref.table, ids: missing });
        const what = `${w.spec.table}.${ref.column} → ${ref.table} ids ${missing.slice(0, 20).join(', ')}${missing.length > 20 ? ` (+${missing.length - 20} more)` : ''}`;
        if (dangling === 'null' && ref.nullable) {
          const l = nullify.get(w.spec.table) ?? [];
          l.push({ column: ref.column, ids: missing });
          nullify.set(w.spec.table, l);
          report.warnings.push(`dangling reference set to NULL: ${what}`);
        } else {
          refuse.push([
            'DANGLING_REFERENCES',
            `${what} are not in the target` +
              (ref.nullable
                ? '; create them, or pass dangling: null (--dangling=null) to set these references to NULL'
                : ' and the column is required; create them first'),
          ]);
        }
      }
    }

    const refusalError = () => {
      const [code, , details] = refuse[0] as [OdooDataError['code'], string, unknown?];
      return new OdooDataRefusedError(
        code,
        `the restore is refused, nothing was changed:\n- ${refuse.map((r) => r[1]).join('\n- ')}`,
        { details: details ?? refuse.map((r) => r[1]) },
      );
    };
    if (refuse.length > 0 && !dryRun) throw refusalError();

    // Lock what will be written (reads stay possible), then stage.
    if (!dryRun) {
      for (const w of work)
        await db.query(`LOCK TABLE ${quoteIdent(w.spec.table)} IN SHARE ROW EXCLUSIVE MODE`);
    }
    const rowsTotal = list.tables.reduce((a, t) => a + t.rows, 0);
    let rowsDone = 0;
    const src = await opts.bundle.entryRandomAccess(ENTRY.workbook);
    const book = await openWorkbookSource(src);
    try {
      for (const w of work) {
        if (w.report.droppedColumns.length > 0 && !opts.allowDroppedColumns) continue;
        await db.query(
          `CREATE TEMP TABLE ${w.stage} ON COMMIT DROP AS SELECT ${w.cols.map((c) => quoteIdent(c)).join(', ')} FROM ${quoteIdent(w.spec.table)} WITH NO DATA`,
        );
        const overflow = w.spec.overflow ? await readOverflow(opts.bundle, w.spec.overflow.entry) : undefined;
        const n = await loadStage(db, book, w, overflow, (k) => {
          rowsDone += k;
          progress({ phase: dryRun ? 'dry-run' : 'load', table: w.spec.table, rowsDone, rowsTotal });
        });
        if (n !== w.spec.rows && !opts.acceptEditedWorkbook) {
          throw new OdooDataError(
            'HASH_MISMATCH',
            `table ${w.spec.table}: the workbook holds ${n} rows, model_list.json says ${w.spec.rows}; the bundle is inconsistent — use another bundle`,
          );
        }
        const key = w.spec.key.map((k) => quoteIdent(k)).join(', ');
        await db.query(`CREATE INDEX ON ${w.stage} (${key})`);
        await db.query(`ANALYZE ${w.stage}`);
        for (const nl of nullify.get(w.spec.table) ?? []) {
          const r = await db.query(
            `UPDATE ${w.stage} SET ${quoteIdent(nl.column)} = NULL WHERE ${quoteIdent(nl.column)} = ANY($1::int8[])`,
            [nl.ids],
          );
          w.report.nulledReferences += r.rowCount ?? 0;
        }
        const canon = {
          table: w.spec.table,
          columns: w.cols,
          key: w.spec.key,
          blanked: w.blanked,
          filter: w.spec.filter,
        };
        const h = await hashQuery(db, canonicalSelect(canon, { from: w.stage }));
        w.stageHash = h.hash;
        const comparable = w.report.droppedColumns.length === 0 && w.report.nulledReferences === 0;
        if (comparable && h.hash !== w.spec.contentHash) {
          w.report.edited = true;
          if (!opts.acceptEditedWorkbook) {
            throw new OdooDataError(
              'HASH_MISMATCH',
              `table ${w.spec.table}: the workbook's rows do not match the content hash recorded at export; ` +
                'the workbook was edited or damaged — pass acceptEditedWorkbook to restore an edited workbook',
            );
          }
        }
      }
    } finally {
      await book.close().catch(() => undefined);
      await src.close().catch(() => undefined);
    }

    // External ids are records of their own, known by (module, name): in a database where the
    // bundle's ir_model_data ids belong to other rows, they take the target's id for the same
    // (module, name), or a new id. Nothing refers to ir_model_data by id.
    for (const w of work) {
      if (
        w.stageHash === '' ||
        w.spec.table !== 'ir_model_data' ||
        !w.cols.includes('module') ||
        !w.cols.includes('name')
      ) {
        continue;
      }
      const t = quoteIdent(w.spec.table);
      const a = await db.query(
        `UPDATE ${w.stage} s SET id = t.id FROM ${t} t WHERE t.module = s.module AND t.name = s.name AND t.id <> s.id
         AND ${filterSql(w.spec, 't')}`,
      );
      const b = await db.query(
        `UPDATE ${w.stage} s SET id = nextval(pg_get_serial_sequence('${w.spec.table}', 'id'))
         WHERE EXISTS (SELECT 1 FROM ${t} t WHERE t.id = s.id AND NOT COALESCE(${filterSql(w.spec, 't')}, false))`,
      );
      const moved = (a.rowCount ?? 0) + (b.rowCount ?? 0);
      if (moved > 0) {
        w.report.rekeyed = moved;
        const canon = {
          table: w.spec.table,
          columns: w.cols,
          key: w.spec.key,
          blanked: w.blanked,
          filter: w.spec.filter,
        };
        w.stageHash = (await hashQuery(db, canonicalSelect(canon, { from: w.stage }))).hash;
        report.warnings.push(
          `ir_model_data: ${moved} external ids took the target's id for the same module.name or a new id`,
        );
      }
    }

    // What would change (the same queries for dry-run and restore).
    for (const w of work) {
      if (w.stageHash === '') continue;
      await countChanges(db, w, mode);
      if (w.spec.kind === 'extension' && w.report.missingRows > 0) {
        refuse.push([
          'MISSING_ROWS',
          `${w.spec.table}: ${w.report.missingRows} records of the bundle are not in the target; ` +
            `restore only writes columns of existing ${w.spec.model} records — create them first`,
        ]);
      }
      if (w.spec.kind === 'subset') {
        const r = await db.query<{ n: string }>(
          `SELECT count(*) AS n FROM ${w.stage} s JOIN ${quoteIdent(w.spec.table)} t ON t.id = s.id
           WHERE NOT COALESCE(${filterSql(w.spec, 't')}, false)`,
        );
        const n = Number(r.rows[0]?.n ?? 0);
        if (n > 0) {
          refuse.push([
            'ID_CONFLICT',
            `${w.spec.table}: ${n} ids of the bundle belong to other records in the target; this bundle comes from another database — restore it into a database made from the same one`,
          ]);
        }
      }
    }

    // Filestore files.
    const fileNames = opts.bundle
      .entries()
      .map((e) => e.name)
      .filter((n) => n.startsWith(ENTRY.filestoreDir))
      .map((n) => n.slice(ENTRY.filestoreDir.length));
    report.files.inBundle = fileNames.length;
    const toAdd: StagedFile[] = [];
    for (const name of fileNames) {
      if (!/^[0-9a-f]{2}\/[0-9a-f]{40}$/.test(name)) {
        throw new OdooDataRefusedError(
          'BAD_BUNDLE',
          `filestore entry ${name} is not named <xx>/<sha1>; the bundle is damaged`,
        );
      }
      const f = planFile(opts.filestoreDir, name, restoreId);
      if (await fileExists(f.final)) report.files.present++;
      else toAdd.push(f);
    }
    report.files.toAdd = toAdd.length;

    if (refuse.length > 0) {
      report.verdict = 'refused';
      report.refusals = refuse.map((r) => r[1]);
      if (!dryRun) throw refusalError();
    }
    if (dryRun) {
      report.durationMs = Math.round(performance.now() - started);
      return {
        report,
        restoreId,
        commit: async () => {
          throw new OdooDataError('BAD_OPTIONS', 'a dry-run cannot be committed');
        },
        rollback: async () => {
          if (open) await db.query('ROLLBACK').catch(() => undefined);
          open = false;
          await db.end().catch(() => undefined);
        },
      };
    }

    // Apply.
    await apply(db, list, work, mode, report, progress);

    // Verify inside the transaction.
    let verified = 0;
    for (const w of work) {
      const canon = {
        table: w.spec.table,
        columns: w.cols,
        key: w.spec.key,
        blanked: w.blanked,
        filter: w.spec.filter,
      };
      const keysFrom = mode === 'merge' || w.spec.kind === 'extension' ? w.stage : undefined;
      const h = await hashQuery(db, canonicalSelect(canon, keysFrom ? { keysFrom } : {}));
      if (h.hash !== w.stageHash) {
        throw new OdooDataError(
          'HASH_MISMATCH',
          `table ${w.spec.table}: after loading, its content hash differs from the bundle's; the restore was rolled back and nothing changed`,
        );
      }
      w.report.verified = true;
      w.report.contentHash = h.hash;
      verified += w.spec.rows;
      progress({ phase: 'verify', table: w.spec.table, rowsDone: verified, rowsTotal });
    }

    // Filestore: journal first, then stage under temporary names.
    staged = toAdd;
    if (toAdd.length > 0) {
      await writeJournal(opts.filestoreDir, { restoreId, files: toAdd });
      progress({ phase: 'filestore', rowsDone: 0, rowsTotal: toAdd.length });
      let i = 0;
      for (const f of toAdd) {
        await stageFile(await opts.bundle.openEntry(`${ENTRY.filestoreDir}${f.name}`), f);
        if (++i % 50 === 0) progress({ phase: 'filestore', rowsDone: i, rowsTotal: toAdd.length });
      }
    }
    // The marker tells a later recovery whether this transaction committed.
    await db.query(
      `INSERT INTO ir_config_parameter (key, value, create_date, write_date) VALUES ($1, $2, now() at time zone 'UTC', now() at time zone 'UTC')
       ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, write_date = EXCLUDED.write_date`,
      [MARKER_KEY, restoreId],
    );
    report.durationMs = Math.round(performance.now() - started);

    let done = false;
    return {
      report,
      restoreId,
      commit: async () => {
        if (done) throw new OdooDataError('BAD_OPTIONS', 'this restore was already committed or rolled back');
        done = true;
        let moved: StagedFile[] = [];
        try {
          moved = await moveIn(staged);
          progress({ phase: 'commit', rowsDone: moved.length, rowsTotal: staged.length });
          await db.query('COMMIT');
          open = false;
        } catch (err) {
          await undoFiles(staged, moved).catch(() => undefined);
          staged = [];
          await removeJournal(opts.filestoreDir).catch(() => undefined);
          return fail(err);
        }
        report.committed = true;
        await removeJournal(opts.filestoreDir).catch(() => undefined);
        report.signals = await bumpSignals(db).catch((err: Error) => {
          report.warnings.push(`Odoo's cache signals could not be bumped (${err.message}); restart Odoo`);
          return [];
        });
        await db.end().catch(() => undefined);
        report.durationMs = Math.round(performance.now() - started);
        return report;
      },
      rollback: async () => {
        if (done) return;
        done = true;
        await db.query('ROLLBACK').catch(() => undefined);
        open = false;
        await undoFiles(staged, []).catch(() => undefined);
        await removeJournal(opts.filestoreDir).catch(() => undefined);
        await db.end().catch(() => undefined);
      },
    };
  } catch (err) {
    return fail(err);
  }
}

async function readOverflow(bundle: BundleReader, entry: string): Promise<Map<string, string>> {
  const map = new Map<string, string>();
  let rest = '';
  const add = (line: string) => {
    if (line.length === 0) return;
    const o = JSON.parse(line) as { key: string; column: string; value: string };
    map.set(`${o.key}\u0000${o.column}`, o.value);
  };
  const dec = new TextDecoder();
  for await (const chunk of await bundle.openEntry(entry)) {
    rest += dec.decode(chunk as Buffer, { stream: true });
    const lines = rest.split('\n');
    rest = lines.pop() ?? '';
    for (const l of lines) add(l);
  }
  add(rest + dec.decode());
  return map;
}

async function loadStage(
  db: pg.ClientBase,
  book: Awaited<ReturnType<typeof openWorkbookSource>>,
  w: Work,
  overflow: Map<string, string> | undefined,
  onRows: (n: number) => void,
): Promise<number> {
  const kinds = new Map<string, ColumnKind>(w.spec.columns.map((c) => [c.name, columnKind(c.pgType)]));
  const stream = db.query(
    copyFrom(`COPY ${w.stage} (${w.cols.map((c) => quoteIdent(c)).join(', ')}) FROM STDIN`),
  );
  const done = new Promise<void>((resolve, reject) => {
    stream.on('finish', resolve);
    stream.on('error', reject);
  });
  done.catch(() => undefined);
  let rows = 0;
  let buf = '';
  const keyName = w.spec.key[0] as string;
  try {
    for (const sheet of w.spec.sheets) {
      let positions: Array<{ col: string; kind: ColumnKind; idx: number }> | undefined;
      let keyIdx = -1;
      for await (const row of book.rows(sheet)) {
        if (positions === undefined) {
          const header = row.cells.map((c) => (c && c.t === 's' ? c.v : ''));
          positions = w.cols.map((col) => {
            const idx = header.indexOf(col);
            if (idx < 0) {
              throw new OdooDataError(
                'BAD_BUNDLE',
                `sheet ${sheet}: the header has no column ${col}; the workbook was damaged — restore the header row`,
              );
            }
            return { col, kind: kinds.get(col) ?? 'text', idx };
          });
          keyIdx = header.indexOf(keyName);
          continue;
        }
        const cellText = (kind: ColumnKind, idx: number, col: string): string | null => {
          try {
            return fromCell(kind, row.cells[idx]);
          } catch (err) {
            if (!(err instanceof CellError)) throw err;
            throw new OdooDataError(
              'BAD_BUNDLE',
              `sheet ${sheet}, row ${row.rowNumber}, column ${col}: ${err.message}; put the value back (or clear the cell for NULL) and restore again`,
            );
          }
        };
        const keyText = keyIdx >= 0 ? cellText(kinds.get(keyName) ?? 'text', keyIdx, keyName) : null;
        let line = '';
        for (let i = 0; i < positions.length; i++) {
          const p = positions[i] as { col: string; kind: ColumnKind; idx: number };
          let v = cellText(p.kind, p.idx, p.col);
          if (overflow && v !== null) {
            const full = overflow.get(`${keyText}\u0000${p.col}`);
            if (full !== undefined && cutCellText(full) === v) v = full;
          }
          line += i === 0 ? escapeCopy(v) : `\t${escapeCopy(v)}`;
        }
        buf += `${line}\n`;
        rows++;
        if (buf.length >= 256 * 1024) {
          const ok = stream.write(buf);
          buf = '';
          onRows(0);
          if (!ok) await new Promise<void>((resolve) => stream.once('drain', resolve));
        }
        if (rows % 10000 === 0) onRows(10000);
      }
    }
    if (buf.length > 0) stream.write(buf);
    stream.end();
  } catch (err) {
    // A row that cannot be loaded: end the COPY with CopyFail (the server aborts it and the
    // connection stays usable for the ROLLBACK), never leave it open.
    stream.destroy(err as Error);
    await done.catch(() => undefined);
    throw err;
  }
  await done;
  onRows(rows % 10000);
  return rows;
}

function differ(cols: readonly string[], a: string, b: string): string {
  if (cols.length === 0) return 'false';
  return `(${cols.map((c) => `${a}.${quoteIdent(c)}`).join(', ')}) IS DISTINCT FROM (${cols.map((c) => `${b}.${quoteIdent(c)}`).join(', ')})`;
}

function filterSql(spec: TableSpec, alias: string): string {
  return filterCondition(spec.filter, alias);
}

async function count(db: pg.ClientBase, sql: string): Promise<number> {
  const r = await db.query<{ n: string }>(sql);
  return Number(r.rows[0]?.n ?? 0);
}

async function countChanges(db: pg.ClientBase, w: Work, mode: 'replace' | 'merge'): Promise<void> {
  const t = quoteIdent(w.spec.table);
  const s = w.stage;
  const keyEq = w.spec.key.map((k) => `t.${quoteIdent(k)} = s.${quoteIdent(k)}`).join(' AND ');
  const valueCols = w.cols.filter((c) => !w.spec.key.includes(c) && !w.blanked.includes(c));
  const r = w.report;
  r.rowsNow = await count(db, `SELECT count(*) AS n FROM ${t} t WHERE ${filterSql(w.spec, 't')}`);
  if (w.spec.kind === 'extension') {
    r.missingRows = await count(
      db,
      `SELECT count(*) AS n FROM ${s} s WHERE NOT EXISTS (SELECT 1 FROM ${t} t WHERE ${keyEq})`,
    );
    r.toUpdate = await count(
      db,
      `SELECT count(*) AS n FROM ${s} s JOIN ${t} t ON ${keyEq} WHERE ${differ(valueCols, 't', 's')}`,
    );
    return;
  }
  r.toInsert = await count(
    db,
    `SELECT count(*) AS n FROM ${s} s WHERE NOT EXISTS (SELECT 1 FROM ${t} t WHERE ${keyEq})`,
  );
  if (w.spec.kind !== 'relation') {
    r.toUpdate = await count(
      db,
      `SELECT count(*) AS n FROM ${s} s JOIN ${t} t ON ${keyEq} WHERE ${differ(valueCols, 't', 's')}`,
    );
  }
  if (mode === 'replace') {
    r.toDelete = await count(
      db,
      `SELECT count(*) AS n FROM ${t} t WHERE ${filterSql(w.spec, 't')} AND NOT EXISTS (SELECT 1 FROM ${s} s WHERE ${keyEq})`,
    );
  }
}

async function apply(
  db: pg.ClientBase,
  list: ModelList,
  work: Work[],
  mode: 'replace' | 'merge',
  report: RestoreReport,
  progress: (p: OdooProgress) => void,
): Promise<void> {
  const byTable = new Map(work.map((w) => [w.spec.table, w]));
  const ordered = list.restoreOrder.map((t) => byTable.get(t)).filter((w): w is Work => w !== undefined);
  const rowTables = ordered.filter((w) => w.spec.kind === 'model' || w.spec.kind === 'subset');
  const relations = ordered.filter((w) => w.spec.kind === 'relation');
  const extensions = ordered.filter((w) => w.spec.kind === 'extension');
  const keyEq = (w: Work) => w.spec.key.map((k) => `t.${quoteIdent(k)} = s.${quoteIdent(k)}`).join(' AND ');

  if (mode === 'replace') {
    progress({ phase: 'delete', rowsDone: 0, rowsTotal: 0 });
    for (const w of [...relations, ...[...rowTables].reverse()]) {
      if (w.report.toDelete === 0) continue;
      await db.query(
        `DELETE FROM ${quoteIdent(w.spec.table)} t WHERE ${filterSql(w.spec, 't')} AND NOT EXISTS (SELECT 1 FROM ${w.stage} s WHERE ${keyEq(w)})`,
      );
    }
  }
  for (const w of rowTables) {
    progress({ phase: 'write', table: w.spec.table, rowsDone: 0, rowsTotal: w.spec.rows });
    const cols = w.cols;
    const deferred = new Set(w.deferred);
    const select = cols.map((c) => (deferred.has(c) ? `NULL` : `s.${quoteIdent(c)}`)).join(', ');
    const upd = cols.filter((c) => !w.spec.key.includes(c) && !w.blanked.includes(c) && !deferred.has(c));
    const conflict =
      upd.length === 0
        ? 'DO NOTHING'
        : `DO UPDATE SET ${upd.map((c) => `${quoteIdent(c)} = EXCLUDED.${quoteIdent(c)}`).join(', ')} WHERE ${differ(upd, 't', 'EXCLUDED')}`;
    await db.query(
      `INSERT INTO ${quoteIdent(w.spec.table)} AS t (${cols.map((c) => quoteIdent(c)).join(', ')})
       SELECT ${select} FROM ${w.stage} s ORDER BY s.id ON CONFLICT (id) ${conflict}`,
    );
  }
  for (const w of rowTables) {
    if (w.deferred.length === 0) continue;
    await db.query(
      `UPDATE ${quoteIdent(w.spec.table)} t SET ${w.deferred.map((c) => `${quoteIdent(c)} = s.${quoteIdent(c)}`).join(', ')}
       FROM ${w.stage} s WHERE ${keyEq(w)} AND ${differ(w.deferred, 't', 's')}`,
    );
  }
  for (const w of relations) {
    await db.query(
      `INSERT INTO ${quoteIdent(w.spec.table)} (${w.cols.map((c) => quoteIdent(c)).join(', ')})
       SELECT ${w.cols.map((c) => `s.${quoteIdent(c)}`).join(', ')} FROM ${w.stage} s
       WHERE NOT EXISTS (SELECT 1 FROM ${quoteIdent(w.spec.table)} t WHERE ${keyEq(w)})`,
    );
  }
  for (const w of extensions) {
    const upd = w.cols.filter((c) => !w.spec.key.includes(c) && !w.blanked.includes(c));
    if (upd.length === 0) continue;
    await db.query(
      `UPDATE ${quoteIdent(w.spec.table)} t SET ${upd.map((c) => `${quoteIdent(c)} = s.${quoteIdent(c)}`).join(', ')}
       FROM ${w.stage} s WHERE ${keyEq(w)} AND ${differ(upd, 't', 's')}`,
    );
  }
  // Sequences: at least max(id), never lower than before.
  for (const w of rowTables) {
    const r = await db.query<{ seq: string | null }>(`SELECT pg_get_serial_sequence($1, 'id') AS seq`, [
      quoteIdent(w.spec.table),
    ]);
    const seq = r.rows[0]?.seq;
    if (!seq) continue;
    const cur = await db.query<{ last: string; called: boolean }>(
      `SELECT last_value AS last, is_called AS called FROM ${seq}`,
    );
    const before = Number(cur.rows[0]?.last ?? 0);
    const max = await count(db, `SELECT COALESCE(max(id), 0) AS n FROM ${quoteIdent(w.spec.table)}`);
    if (max > before || (max === before && cur.rows[0]?.called === false && max > 0)) {
      await db.query('SELECT setval($1::regclass, $2, true)', [seq, max]);
      report.sequences.push({ table: w.spec.table, before, after: max });
    }
  }
}

/** Odoo's cache-invalidation signals: sequences up to 18, insert-only orm_signaling_* tables on 19. */
async function bumpSignals(db: pg.ClientBase): Promise<string[]> {
  const seqs = await db.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = current_schema() AND c.relkind = 'S'
       AND (c.relname = 'base_registry_signaling' OR c.relname LIKE 'base\\_cache\\_signaling%') ORDER BY 1`,
  );
  const done: string[] = [];
  for (const s of seqs.rows) {
    await db.query('SELECT nextval($1::regclass)', [quoteIdent(s.name)]);
    done.push(s.name);
  }
  const tables = await db.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname LIKE 'orm\\_signaling\\_%' ORDER BY 1`,
  );
  for (const t of tables.rows) {
    await db.query(`INSERT INTO ${quoteIdent(t.name)} DEFAULT VALUES`);
    done.push(t.name);
  }
  return done;
}

/** Whether the restore that wrote `restoreId` committed (its marker is the database's current one). */
export async function odooRestoreCommitted(databaseUrl: string, restoreId: string): Promise<boolean> {
  const db = await connect(databaseUrl);
  try {
    const r = await db.query<{ value: string }>('SELECT value FROM ir_config_parameter WHERE key = $1', [
      MARKER_KEY,
    ]);
    return r.rows[0]?.value === restoreId;
  } finally {
    await db.end().catch(() => undefined);
  }
}

/**
 * Cleans up after a restore that died (process killed, connection lost) between staging its
 * filestore files and finishing: see filestore.ts. Every restore runs this first; it is exported
 * for operators and tests. Returns the files removed.
 */
export async function recoverOdooFilestore(opts: {
  databaseUrl: string;
  filestoreDir: string;
}): Promise<string[]> {
  const db = await connect(opts.databaseUrl);
  try {
    return await recoverFilestore(opts.filestoreDir, db);
  } finally {
    await db.end().catch(() => undefined);
  }
}
