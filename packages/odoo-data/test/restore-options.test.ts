/**
 * The restore's options and rules, each against the real PostgreSQL on a fifth of fixture S:
 * merge mode, the sequence rule, dangling references (refuse / null), columns the target dropped
 * or added, sheet continuation, overflow of long text, and a spreadsheet error cell. Contents are
 * compared with the test's own fingerprints (helpers.tableFingerprint), never the product's hash.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ENTRY, type FinalizedBundle, openBundle } from '@sam-backup/bundle';
import type ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ModelList, OdooDataError, type RestoreOptions, restoreOdooData } from '../src/index.js';
import {
  exportBundle,
  type Fx,
  makeFixture,
  query,
  tableFingerprint,
  withEditedWorkbook,
} from './helpers.js';

let dir: string;
const fixtures: Fx[] = [];

async function fixture(tag: string): Promise<Fx> {
  const fx = await makeFixture(tag, { scale: 0.2 });
  fixtures.push(fx);
  return fx;
}

async function restore(fx: Fx, bundle: FinalizedBundle, extra: Partial<RestoreOptions> = {}) {
  const reader = await openBundle(bundle.path);
  try {
    return await restoreOdooData({
      databaseUrl: fx.url,
      filestoreDir: fx.filestore,
      bundle: reader,
      ...extra,
    });
  } finally {
    await reader.close();
  }
}

async function modelList(bundle: FinalizedBundle): Promise<ModelList> {
  const reader = await openBundle(bundle.path);
  try {
    return (await reader.readJson(ENTRY.modelList)) as ModelList;
  } finally {
    await reader.close();
  }
}

const fp = (fx: Fx, table: string, where = 'true', columns?: string[]) =>
  tableFingerprint(fx.url, table, where, columns);

async function columnsOf(fx: Fx, table: string): Promise<string[]> {
  const rows = await query<{ c: string }>(
    fx.url,
    `SELECT column_name AS c FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position`,
    [table],
  );
  return rows.map((r) => r.c);
}

async function seqLast(fx: Fx, table: string): Promise<number> {
  const [r] = await query<{ v: string }>(
    fx.url,
    `SELECT last_value AS v FROM ${(await query<{ s: string }>(fx.url, `SELECT pg_get_serial_sequence($1, 'id') AS s`, [table]))[0]?.s}`,
  );
  return Number(r?.v);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'odoodata-opts-'));
});

afterAll(async () => {
  for (const fx of fixtures) await fx.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('restore modes and the sequence rule', () => {
  it('merge puts the bundle rows back and keeps rows added since; replace then removes them without lowering the sequence', async () => {
    const fx = await fixture('merge');
    const { bundle } = await exportBundle(fx, dir);
    const original = await fp(fx, 'ai_conversation');
    const [{ m } = { m: '0' }] = await query<{ m: string }>(
      fx.url,
      'SELECT max(id) AS m FROM ai_conversation',
    );
    const maxId = Number(m);

    await query(fx.url, `UPDATE ai_conversation SET name = 'changed' WHERE id % 4 = 0`);
    await query(
      fx.url,
      `DELETE FROM ai_conversation WHERE id IN (SELECT id FROM ai_conversation ORDER BY id DESC LIMIT 3)`,
    );
    await query(
      fx.url,
      `INSERT INTO ai_conversation (name, user_id, active, create_date, write_date)
       SELECT 'added after the backup', user_id, true, now(), now() FROM ai_conversation ORDER BY id LIMIT 2`,
    );
    const seqAfterInsert = await seqLast(fx, 'ai_conversation');
    expect(seqAfterInsert).toBeGreaterThan(maxId);

    const merged = await restore(fx, bundle, { mode: 'merge' });
    expect(merged.mode).toBe('merge');
    expect(merged.tables.every((t) => t.toDelete === 0)).toBe(true);
    const conv = merged.tables.find((t) => t.table === 'ai_conversation');
    expect(conv?.toInsert).toBe(3);
    expect(conv?.toUpdate).toBeGreaterThan(0);
    // The bundle's rows are back exactly; the two added ones are still there.
    expect(await fp(fx, 'ai_conversation', `id <= ${maxId}`)).toBe(original);
    const added = await query(fx.url, `SELECT id FROM ai_conversation WHERE name = 'added after the backup'`);
    expect(added).toHaveLength(2);

    const replaced = await restore(fx, bundle);
    expect(replaced.tables.find((t) => t.table === 'ai_conversation')?.toDelete).toBe(2);
    expect(await fp(fx, 'ai_conversation')).toBe(original);
    // The sequence was not lowered to max(id): the ids of the removed rows are not handed out again.
    expect(await seqLast(fx, 'ai_conversation')).toBeGreaterThanOrEqual(seqAfterInsert);
    const [next] = await query<{ v: string }>(
      fx.url,
      `SELECT nextval(pg_get_serial_sequence('ai_conversation', 'id')) AS v`,
    );
    expect(Number(next?.v)).toBeGreaterThan(seqAfterInsert);
    // Every restored table's sequence is at least at its max(id).
    for (const s of replaced.sequences) expect(s.after, s.table).toBeGreaterThanOrEqual(s.before);
  }, 240_000);
});

describe('dangling references', () => {
  it('refuses by default with the list; null sets nullable ones to NULL; a required one stays refused', async () => {
    const fx = await fixture('dangle');
    // Outside records (tables no SAM module owns or extends) that the target will lose.
    const [cur] = await query<{ id: number }>(
      fx.url,
      `INSERT INTO res_currency (name, symbol) VALUES ('XDM', 'D$') RETURNING id`,
    );
    const currency = Number(cur?.id);
    await query(fx.url, `UPDATE ai_token_usage SET currency_id = ${currency} WHERE id % 9 = 0`);
    const { bundle: nullable } = await exportBundle(fx, dir);
    const usageColumns = (await columnsOf(fx, 'ai_token_usage')).filter((c) => c !== 'currency_id');
    const atExport = await fp(fx, 'ai_token_usage', 'true', usageColumns);
    // A required reference: a conversation owned by a user the target will lose.
    const [user] = await query<{ id: number }>(
      fx.url,
      `INSERT INTO res_users (login, partner_id, company_id, notification_type, active)
       SELECT 'doomed-user', partner_id, company_id, notification_type, true FROM res_users ORDER BY id LIMIT 1
       RETURNING id`,
    );
    const uid = Number(user?.id);
    await query(
      fx.url,
      `UPDATE ai_conversation SET user_id = ${uid} WHERE id = (SELECT min(id) FROM ai_conversation)`,
    );
    const { bundle: required } = await exportBundle(fx, dir);

    // The target loses both: currency_id becomes NULL, the user's conversation goes with it.
    await query(fx.url, `DELETE FROM res_users WHERE id = ${uid}`);
    await query(fx.url, `DELETE FROM res_currency WHERE id = ${currency}`);
    const target = await fp(fx, 'ai_token_usage');

    for (const [bundle, dangling, missing] of [
      [
        required,
        'refuse',
        `ai_conversation.user_id → res_users ids ${uid} are not in the target and the column is required`,
      ],
      [
        required,
        'null',
        `ai_conversation.user_id → res_users ids ${uid} are not in the target and the column is required`,
      ],
      [
        nullable,
        'refuse',
        `ai_token_usage.currency_id → res_currency ids ${currency} are not in the target; create them`,
      ],
    ] as const) {
      const err = await restore(fx, bundle, { dangling }).catch((e: unknown) => e);
      expect(err, dangling).toBeInstanceOf(OdooDataError);
      expect((err as OdooDataError).kind).toBe('refused');
      expect((err as Error).message).toContain(missing);
      expect(await fp(fx, 'ai_token_usage')).toBe(target);
    }
    const report = await restore(fx, nullable, { dangling: 'null' });
    const t = report.tables.find((x) => x.table === 'ai_token_usage');
    expect(t?.nulledReferences).toBeGreaterThan(0);
    expect(t?.missingRefs).toEqual([
      expect.objectContaining({ column: 'currency_id', table: 'res_currency', ids: [currency] }),
    ]);
    expect(report.warnings.some((w) => w.includes('dangling reference set to NULL'))).toBe(true);
    const [{ n } = { n: '0' }] = await query<{ n: string }>(
      fx.url,
      `SELECT count(*) AS n FROM ai_token_usage WHERE id % 9 = 0 AND currency_id IS NULL`,
    );
    expect(Number(n)).toBe(t?.nulledReferences);
    // Every other value is the bundle's.
    expect(await fp(fx, 'ai_token_usage', 'true', usageColumns)).toBe(atExport);
  }, 300_000);
});

describe('columns the target does not have, or has more of', () => {
  it('refuses a dropped column unless allowed; new target columns get their default', async () => {
    const fx = await fixture('cols');
    const { bundle } = await exportBundle(fx, dir);
    const list = await modelList(bundle);
    const spec = list.tables.find((t) => t.table === 'ai_conversation');
    const dropped = spec?.columns.find(
      (c) => c.name !== 'id' && c.name !== 'name' && !c.notNull && c.odooType === 'char',
    )?.name as string;
    expect(dropped).toBeTruthy();
    await query(fx.url, `ALTER TABLE ai_conversation DROP COLUMN "${dropped}"`);
    await query(fx.url, 'ALTER TABLE ai_conversation ADD COLUMN sam_extra integer DEFAULT 7');
    await query(
      fx.url,
      `DELETE FROM ai_message WHERE conversation_id IN (SELECT id FROM ai_conversation ORDER BY id DESC LIMIT 2)`,
    );
    await query(
      fx.url,
      `DELETE FROM ai_conversation WHERE id IN (SELECT id FROM ai_conversation ORDER BY id DESC LIMIT 2)`,
    );
    await query(fx.url, `UPDATE ai_conversation SET sam_extra = 1`);
    const before = await fp(fx, 'ai_conversation');

    const err = await restore(fx, bundle).catch((e: unknown) => e);
    expect((err as OdooDataError).code).toBe('COLUMNS_DROPPED');
    expect((err as Error).message).toContain(dropped);
    expect(await fp(fx, 'ai_conversation')).toBe(before);

    const report = await restore(fx, bundle, { allowDroppedColumns: true });
    const t = report.tables.find((x) => x.table === 'ai_conversation');
    expect(t?.droppedColumns).toEqual([dropped]);
    expect(t?.addedColumns).toEqual(['sam_extra']);
    expect(t?.toInsert).toBe(2);
    // Re-inserted rows get the column's default; rows that stayed keep their value.
    const extra = await query<{ v: number | null; n: string }>(
      fx.url,
      'SELECT sam_extra AS v, count(*) AS n FROM ai_conversation GROUP BY 1 ORDER BY 1',
    );
    expect(extra.map((r) => [r.v, Number(r.n)])).toEqual([
      [1, Number(spec?.rows) - 2],
      [7, 2],
    ]);
  }, 240_000);
});

describe('sheets, overflow and a person’s edits', () => {
  let fx: Fx;
  let bundle: FinalizedBundle;
  let textColumn: string;
  const long = `${'0123456789'.repeat(4000)}…the end`;

  beforeAll(async () => {
    fx = await fixture('sheets');
    const cols = await query<{ c: string }>(
      fx.url,
      `SELECT column_name AS c FROM information_schema.columns
       WHERE table_name = 'ai_message' AND data_type = 'text' ORDER BY ordinal_position LIMIT 1`,
    );
    textColumn = cols[0]?.c as string;
    await query(
      fx.url,
      `UPDATE ai_message SET "${textColumn}" = $1 WHERE id = (SELECT min(id) FROM ai_message)`,
      [long],
    );
    ({ bundle } = await exportBundle(fx, dir, { maxRowsPerSheet: 500 }));
  }, 300_000);

  it('continues a table past the sheet row limit on further sheets and restores it whole', async () => {
    const list = await modelList(bundle);
    const spec = list.tables.find((t) => t.table === 'ai_message');
    expect(spec?.sheets.length).toBe(Math.ceil((spec?.rows ?? 0) / 500));
    expect(spec?.sheets[1]).toBe('ai_message_2');
    const original = await fp(fx, 'ai_message');
    await query(fx.url, `DELETE FROM ai_message WHERE id % 3 = 0`);
    await query(
      fx.url,
      `UPDATE ai_message SET "${textColumn}" = 'short now' WHERE id = (SELECT min(id) FROM ai_message)`,
    );
    await restore(fx, bundle);
    expect(await fp(fx, 'ai_message')).toBe(original);
  }, 240_000);

  it('keeps text longer than a cell whole in odoo_data/overflow/ and brings it back exactly', async () => {
    const list = await modelList(bundle);
    const spec = list.tables.find((t) => t.table === 'ai_message');
    expect(spec?.overflow?.entry).toBe(`${ENTRY.overflowDir}ai_message.jsonl`);
    expect(spec?.overflow?.cells).toBeGreaterThanOrEqual(1);
    const reader = await openBundle(bundle.path);
    const lines: string[] = [];
    for await (const c of await reader.openEntry(`${ENTRY.overflowDir}ai_message.jsonl`))
      lines.push(String(c));
    await reader.close();
    const entries = lines
      .join('')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { key: string; column: string; value: string });
    const [first] = await query<{ id: number }>(fx.url, 'SELECT min(id) AS id FROM ai_message');
    const entry = entries.find((e) => e.key === String(first?.id) && e.column === textColumn);
    expect(entry?.value).toBe(long);
    // After the previous test's restore the database holds the whole value again.
    const [row] = await query<{ v: string }>(
      fx.url,
      `SELECT "${textColumn}" AS v FROM ai_message WHERE id = (SELECT min(id) FROM ai_message)`,
    );
    expect(row?.v).toBe(long);
  });

  it('refuses a spreadsheet error value in a cell, naming sheet, row and column, and changes nothing', async () => {
    const out = await withEditedWorkbook(bundle.path, dir, 'error-cell.zip', (wb) => {
      const ws = wb.getWorksheet('ai_conversation');
      const header = ws?.getRow(1).values as unknown[];
      const row = ws?.getRow(3) as ExcelJS.Row;
      row.getCell(header.indexOf('name')).value = { error: '#N/A' } as ExcelJS.CellErrorValue;
      row.commit();
    });
    await query(fx.url, `UPDATE ai_conversation SET name = 'changed' WHERE id % 2 = 0`);
    const before = await fp(fx, 'ai_conversation');
    const err = await restore(fx, out, { acceptEditedWorkbook: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OdooDataError);
    expect((err as Error).message).toMatch(
      /sheet ai_conversation, row 3, column name: the cell holds the spreadsheet error #N\/A/,
    );
    expect(await fp(fx, 'ai_conversation')).toBe(before);
  }, 240_000);
});
