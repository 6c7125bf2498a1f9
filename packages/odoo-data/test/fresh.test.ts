import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ENTRY, type FinalizedBundle, openBundle } from '@sam-backup/bundle';
import type ExcelJS from 'exceljs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ModelList, OdooDataError, restoreOdooData } from '../src/index.js';
import {
  exportBundle,
  type Fx,
  filestoreListing,
  makeFixture,
  query,
  rowsWhere,
  tableFingerprint,
  withEditedWorkbook,
} from './helpers.js';

let src: Fx;
let dst: Fx;
let dir: string;
let bundle: FinalizedBundle;
let list: ModelList;

async function snapshot(url: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const t of list.tables) {
    const where = rowsWhere(t.filter);
    out[t.table] = await tableFingerprint(
      url,
      t.table,
      where,
      t.kind === 'extension'
        ? t.columns.map((c) => c.name)
        : t.table === 'ir_model_data' // external ids may take other ids in another database
          ? ['module', 'name', 'model', 'res_id', 'noupdate']
          : undefined,
    );
  }
  return out;
}

/**
 * A fresh installation has its own users and contacts; make the target hold the records the
 * bundle refers to outside its own tables (as an administrator would have created them).
 */
async function copyOutsideRecords(from: string, to: string): Promise<void> {
  const tables = [...new Set(list.tables.flatMap((t) => t.outsideRefs.map((r) => r.table)))].sort();
  const c = new pg.Client({ connectionString: to });
  await c.connect();
  try {
    await c.query('SET session_replication_role = replica');
    for (const table of tables) {
      const have = await c.query<{ id: number }>(`SELECT id FROM "${table}"`);
      const rows = await query(from, `SELECT * FROM "${table}" WHERE NOT (id = ANY($1::int[]))`, [
        have.rows.map((r) => r.id),
      ]);
      if (rows.length === 0) continue;
      await c.query(
        `INSERT INTO "${table}" SELECT * FROM json_populate_recordset(null::"${table}", $1::json)`,
        [JSON.stringify(rows)],
      );
    }
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  src = await makeFixture('src', { scale: 0.1 });
  dst = await makeFixture('dst', { withData: false });
  dir = await mkdtemp(join(tmpdir(), 'odoodata-fresh-'));
  ({ bundle } = await exportBundle(src, dir, { includeSecrets: true }));
  const reader = await openBundle(bundle.path);
  list = (await reader.readJson(ENTRY.modelList)) as ModelList;
  await reader.close();
  await copyOutsideRecords(src.url, dst.url);
}, 300_000);

afterAll(async () => {
  await src?.drop();
  await dst?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('restore into another database', () => {
  it('restores into a fresh Odoo-shaped database that has the schema but no SAM data', async () => {
    const reader = await openBundle(bundle.path);
    try {
      const report = await restoreOdooData({
        databaseUrl: dst.url,
        filestoreDir: dst.filestore,
        bundle: reader,
      });
      expect(report.committed).toBe(true);
      expect(report.tables.find((t) => t.table === 'ai_message')?.toInsert).toBeGreaterThan(0);
      expect(await snapshot(dst.url)).toEqual(await snapshot(src.url));
      // Every file of the bundle is in the target's filestore, under its SHA-1 name.
      const have = new Set(await filestoreListing(dst.filestore));
      const names = reader.entries().filter((e) => e.name.startsWith(ENTRY.filestoreDir));
      expect(names.length).toBeGreaterThan(0);
      for (const e of names) {
        const n = e.name.slice(ENTRY.filestoreDir.length);
        expect(have.has(`${n}:${n.slice(3)}`), n).toBe(true);
      }
    } finally {
      await reader.close();
    }
  }, 300_000);

  it('applies exactly one cell a person changed in the workbook with a spreadsheet library', async () => {
    const spec = list.tables.find((t) => t.table === 'ai_conversation');
    const textCol =
      spec?.columns.find((c) => c.pgType.startsWith('character varying') && c.name !== 'id')?.name ?? 'name';
    let id = 0;
    const out = await withEditedWorkbook(bundle.path, dir, 'edited.zip', (wb) => {
      const ws = wb.getWorksheet(spec?.sheets[0] as string);
      const header = ws?.getRow(1).values as unknown[];
      const row = ws?.getRow(2) as ExcelJS.Row;
      id = Number(row.getCell(header.indexOf('id')).value);
      row.getCell(header.indexOf(textCol)).value = 'Edited in a spreadsheet';
      row.commit();
    });

    const before = await query<Record<string, unknown>>(dst.url, 'SELECT * FROM ai_conversation ORDER BY id');
    const editedReader = await openBundle(out.path);
    try {
      // Without consent the edited workbook is refused (its content no longer matches the hash).
      const err = await restoreOdooData({
        databaseUrl: dst.url,
        filestoreDir: dst.filestore,
        bundle: editedReader,
      }).catch((e: unknown) => e);
      expect((err as OdooDataError).code).toBe('HASH_MISMATCH');
      expect(err).toBeInstanceOf(OdooDataError);
      const report = await restoreOdooData({
        databaseUrl: dst.url,
        filestoreDir: dst.filestore,
        bundle: editedReader,
        acceptEditedWorkbook: true,
      });
      const conv = report.tables.find((t) => t.table === 'ai_conversation');
      expect(conv?.edited).toBe(true);
      expect(conv?.toUpdate).toBe(1);
      // exceljs rewrites every cell when it saves; it is known to lose some values on the way
      // (DESIGN.md: '' in shared strings, control characters, CR LF → LF), so only the edited
      // table is held to the exact-change rule here.
      const after = await query<Record<string, unknown>>(
        dst.url,
        'SELECT * FROM ai_conversation ORDER BY id',
      );
      expect(after.length).toBe(before.length);
      // exceljs saves '' as an empty cell (DESIGN.md: its shared strings lose ''), so a value ''
      // may come back NULL through its save; every other value must be unchanged.
      const lossless = (row: Record<string, unknown>, orig: Record<string, unknown> | undefined) =>
        Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v === null && orig?.[k] === '' ? '' : v]));
      for (let i = 0; i < after.length; i++) {
        const a = lossless(after[i] as Record<string, unknown>, before[i]);
        if (a.id === id) expect({ ...a, [textCol]: before[i]?.[textCol] }).toEqual(before[i]);
        else expect(a).toEqual(before[i]);
      }
      expect(after.find((a) => a.id === id)?.[textCol]).toBe('Edited in a spreadsheet');
    } finally {
      await editedReader.close();
    }
  }, 300_000);
});
