import { mkdtemp, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ENTRY, type FinalizedBundle, openBundle } from '@sam-backup/bundle';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  dryRunRestore,
  type ModelList,
  OdooDataError,
  prepareRestore,
  recoverOdooFilestore,
  restoreOdooData,
} from '../src/index.js';
import {
  exportBundle,
  type Fx,
  filestoreListing,
  makeFixture,
  query,
  rowsWhere,
  tableFingerprint,
} from './helpers.js';

let fx: Fx;
let dir: string;
let bundle: FinalizedBundle;
let list: ModelList;

/** The test's own view of every backed-up table (extension tables: only their columns). */
async function snapshot(url: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const t of list.tables) {
    const where = rowsWhere(t.filter);
    out[t.table] = await tableFingerprint(
      url,
      t.table,
      where,
      t.kind === 'extension' ? t.columns.map((c) => c.name) : undefined,
    );
  }
  return out;
}

async function mutate(url: string): Promise<void> {
  await query(url, `UPDATE ai_conversation SET name = 'changed ' || id WHERE id % 7 = 0`);
  await query(url, `DELETE FROM ai_message WHERE id IN (SELECT id FROM ai_message ORDER BY id LIMIT 50)`);
  await query(
    url,
    `INSERT INTO ai_conversation (name, user_id, active, create_date, write_date)
     SELECT 'added after backup', user_id, true, now(), now() FROM ai_conversation ORDER BY id LIMIT 1`,
  );
  await query(
    url,
    `DELETE FROM ai_conversation_ai_workspace_rel WHERE ctid IN (SELECT ctid FROM ai_conversation_ai_workspace_rel LIMIT 5)`,
  );
  await query(url, `UPDATE res_users SET ai_conversation_count = coalesce(ai_conversation_count, 0) + 1000`);
  await query(
    url,
    `UPDATE mail_message SET body = 'edited' WHERE id IN (SELECT id FROM mail_message WHERE model = 'ai.conversation' LIMIT 3)`,
  );
}

beforeAll(async () => {
  fx = await makeFixture('rt');
  dir = await mkdtemp(join(tmpdir(), 'odoodata-rt-'));
  ({ bundle } = await exportBundle(fx, dir));
  const reader = await openBundle(bundle.path);
  list = (await reader.readJson(ENTRY.modelList)) as ModelList;
  await reader.close();
}, 300_000);

afterAll(async () => {
  await fx?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('restore', () => {
  it('dry-run changes nothing and its counts equal what the restore then does; the restore brings every table back', async () => {
    const original = await snapshot(fx.url);
    const originalFiles = await filestoreListing(fx.filestore);
    await mutate(fx.url);
    const [{ id: addedId } = { id: 0 }] = await query<{ id: number }>(
      fx.url,
      `SELECT id FROM ai_conversation WHERE name = 'added after backup'`,
    );
    const someFile = originalFiles[0]?.split(':')[0] as string;
    await unlink(join(fx.filestore, someFile));
    const mutated = await snapshot(fx.url);
    expect(mutated).not.toEqual(original);

    const reader = await openBundle(bundle.path);
    try {
      const dry = await dryRunRestore({ databaseUrl: fx.url, filestoreDir: fx.filestore, bundle: reader });
      expect(dry.verdict).toBe('ok');
      expect(await snapshot(fx.url)).toEqual(mutated);
      const conv = dry.tables.find((t) => t.table === 'ai_conversation');
      expect(conv?.toDelete).toBe(1);
      expect(conv?.toUpdate).toBeGreaterThan(0);
      expect(dry.tables.find((t) => t.table === 'ai_message')?.toInsert).toBe(50);
      expect(dry.files.toAdd).toBe(1);

      const done = await restoreOdooData({ databaseUrl: fx.url, filestoreDir: fx.filestore, bundle: reader });
      expect(done.committed).toBe(true);
      for (const t of done.tables) {
        const d = dry.tables.find((x) => x.table === t.table);
        expect([t.toInsert, t.toUpdate, t.toDelete], t.table).toEqual([
          d?.toInsert,
          d?.toUpdate,
          d?.toDelete,
        ]);
        expect(t.verified, t.table).toBe(true);
      }
      expect(await snapshot(fx.url)).toEqual(original);
      expect(await filestoreListing(fx.filestore)).toEqual(originalFiles);
      // The id of the row created after the backup is never handed out again.
      const [seq] = await query<{ last_value: string }>(
        fx.url,
        'SELECT last_value FROM ai_conversation_id_seq',
      );
      expect(Number(seq?.last_value)).toBeGreaterThanOrEqual(addedId);
      expect(done.signals).toContain('base_registry_signaling');
    } finally {
      await reader.close();
    }
  }, 300_000);

  it('a constraint violation inside the restore leaves the target unchanged and no stray file', async () => {
    await mutate(fx.url);
    const someFile = (await filestoreListing(fx.filestore))[0]?.split(':')[0] as string;
    await unlink(join(fx.filestore, someFile));
    // A row outside the backed-up set that refers to a conversation the restore must delete.
    await query(
      fx.url,
      `CREATE TABLE odoodata_blocker (conv int REFERENCES ai_conversation(id) ON DELETE RESTRICT)`,
    );
    await query(
      fx.url,
      `INSERT INTO odoodata_blocker SELECT id FROM ai_conversation WHERE name = 'added after backup'`,
    );
    const before = await snapshot(fx.url);
    const files = await filestoreListing(fx.filestore);
    const reader = await openBundle(bundle.path);
    try {
      await expect(
        restoreOdooData({ databaseUrl: fx.url, filestoreDir: fx.filestore, bundle: reader }),
      ).rejects.toBeInstanceOf(OdooDataError);
      expect(await snapshot(fx.url)).toEqual(before);
      expect(await filestoreListing(fx.filestore)).toEqual(files);
      // prepare + rollback also leaves everything as it was.
      await query(fx.url, `DROP TABLE odoodata_blocker`);
      const p = await prepareRestore({ databaseUrl: fx.url, filestoreDir: fx.filestore, bundle: reader });
      expect(p.report.tables.every((t) => t.verified)).toBe(true);
      await p.rollback();
      expect(await snapshot(fx.url)).toEqual(before);
      expect(await filestoreListing(fx.filestore)).toEqual(files);
    } finally {
      await reader.close();
    }
  }, 300_000);

  it('a restore connection killed with pg_terminate_backend leaves the target unchanged; recovery removes its files', async () => {
    await mutate(fx.url);
    const someFile = (await filestoreListing(fx.filestore))[0]?.split(':')[0] as string;
    await unlink(join(fx.filestore, someFile));
    const before = await snapshot(fx.url);
    const files = await filestoreListing(fx.filestore);
    const reader = await openBundle(bundle.path);
    try {
      const p = await prepareRestore({ databaseUrl: fx.url, filestoreDir: fx.filestore, bundle: reader });
      // The restore's files are staged beside the live ones (journal + temporary names).
      expect((await filestoreListing(fx.filestore)).length).toBeGreaterThan(files.length);
      await query(
        fx.url,
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'sam-backup odoo-data' AND pid <> pg_backend_pid()`,
      );
      await expect(p.commit()).rejects.toBeInstanceOf(OdooDataError);
      expect(await snapshot(fx.url)).toEqual(before);
      await recoverOdooFilestore({ databaseUrl: fx.url, filestoreDir: fx.filestore });
      expect(await filestoreListing(fx.filestore)).toEqual(files);
    } finally {
      await reader.close();
    }
  }, 300_000);

  it('an interrupted restore (process gone after staging) is undone by the next recovery', async () => {
    const files = await filestoreListing(fx.filestore);
    const before = await snapshot(fx.url);
    const reader = await openBundle(bundle.path);
    try {
      // Prepared and then abandoned, as if the process had been killed: its connection closes
      // (PostgreSQL rolls the transaction back) and its staged files and journal stay behind.
      const p = await prepareRestore({ databaseUrl: fx.url, filestoreDir: fx.filestore, bundle: reader });
      await query(
        fx.url,
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'sam-backup odoo-data' AND pid <> pg_backend_pid()`,
      );
      void p;
      const removed = await recoverOdooFilestore({ databaseUrl: fx.url, filestoreDir: fx.filestore });
      expect(removed.length).toBeGreaterThan(0);
      expect(await filestoreListing(fx.filestore)).toEqual(files);
      expect(await snapshot(fx.url)).toEqual(before);
    } finally {
      await reader.close();
    }
  }, 300_000);

  it('refuses a bundle from a newer module version or another Odoo major, changing nothing', async () => {
    const before = await snapshot(fx.url);
    const reader = await openBundle(bundle.path);
    try {
      await query(
        fx.url,
        `UPDATE ir_module_module SET latest_version = '18.0.3.11.0' WHERE name = 'ai_brain'`,
      );
      const err = await restoreOdooData({
        databaseUrl: fx.url,
        filestoreDir: fx.filestore,
        bundle: reader,
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OdooDataError);
      expect((err as OdooDataError).kind).toBe('refused');
      expect((err as OdooDataError).code).toBe('VERSION_REFUSED');
      expect((err as Error).message).toContain('ai_brain');
      const dry = await dryRunRestore({ databaseUrl: fx.url, filestoreDir: fx.filestore, bundle: reader });
      expect(dry.verdict).toBe('refused');
      expect(dry.modules.find((m) => m.name === 'ai_brain')?.verdict).toBe('newer');
      // An older bundle than the target is allowed (a warning).
      await query(
        fx.url,
        `UPDATE ir_module_module SET latest_version = '18.0.3.13.0' WHERE name = 'ai_brain'`,
      );
      const older = await dryRunRestore({ databaseUrl: fx.url, filestoreDir: fx.filestore, bundle: reader });
      expect(older.modules.find((m) => m.name === 'ai_brain')?.verdict).toBe('older');
      expect(older.refusals).toEqual([]);
      await query(
        fx.url,
        `UPDATE ir_module_module SET latest_version = '18.0.3.12.0' WHERE name = 'ai_brain'`,
      );
      await query(fx.url, `UPDATE ir_module_module SET latest_version = '17.0.1.3' WHERE name = 'base'`);
      await expect(
        restoreOdooData({ databaseUrl: fx.url, filestoreDir: fx.filestore, bundle: reader }),
      ).rejects.toThrow(/Odoo/);
      await query(fx.url, `UPDATE ir_module_module SET latest_version = '18.0.1.3' WHERE name = 'base'`);
      expect(await snapshot(fx.url)).toEqual(before);
    } finally {
      await reader.close();
    }
  }, 300_000);

  it('refuses outside references the target lacks, with the list', async () => {
    const [ref] = await query<{ id: number }>(fx.url, `SELECT max(user_id) AS id FROM ai_conversation`);
    const reader = await openBundle(bundle.path);
    try {
      // Hide the referenced user the way a different target database would lack it.
      await query(
        fx.url,
        `CREATE TABLE odoodata_saved_user AS SELECT * FROM res_users WHERE id = ${ref?.id}`,
      );
      await query(
        fx.url,
        `SET session_replication_role = replica; DELETE FROM res_users WHERE id = ${ref?.id}`,
      );
      const err = await restoreOdooData({
        databaseUrl: fx.url,
        filestoreDir: fx.filestore,
        bundle: reader,
      }).catch((e: unknown) => e);
      expect((err as OdooDataError).code).toBe('DANGLING_REFERENCES');
      expect((err as Error).message).toContain(`res_users ids`);
      expect((err as Error).message).toContain(String(ref?.id));
      const dry = await dryRunRestore({ databaseUrl: fx.url, filestoreDir: fx.filestore, bundle: reader });
      const conv = dry.tables.find((t) => t.table === 'ai_conversation');
      expect(conv?.missingRefs.find((m) => m.column === 'user_id')?.ids).toEqual([ref?.id]);
    } finally {
      await query(
        fx.url,
        `SET session_replication_role = replica; INSERT INTO res_users SELECT * FROM odoodata_saved_user; DROP TABLE odoodata_saved_user`,
      );
      await reader.close();
    }
  }, 300_000);

  it('keeps the target value of blanked secrets and writes only the extension columns of res_users', async () => {
    const reader = await openBundle(bundle.path);
    try {
      expect(list.tables.find((t) => t.table === 'api_service_provider')?.blanked).toContain('api_key');
      await query(fx.url, `UPDATE api_service_provider SET api_key = 'kept-' || id, name = 'renamed'`);
      await query(fx.url, `UPDATE res_users SET login = 'changed-' || id, ai_conversation_count = 424242`);
      const [users] = await query<{ n: string }>(fx.url, 'SELECT count(*) AS n FROM res_users');
      await restoreOdooData({ databaseUrl: fx.url, filestoreDir: fx.filestore, bundle: reader });
      const keys = await query<{ id: number; api_key: string | null; name: string }>(
        fx.url,
        'SELECT id, api_key, name FROM api_service_provider',
      );
      for (const k of keys) expect(k.api_key).toBe(`kept-${k.id}`);
      expect(keys.some((k) => k.name === 'renamed')).toBe(false);
      const u = await query<{ login: string; id: number; c: number | null }>(
        fx.url,
        'SELECT id, login, ai_conversation_count AS c FROM res_users',
      );
      expect(u.length).toBe(Number(users?.n));
      for (const r of u) expect(r.login).toBe(`changed-${r.id}`);
      expect(u.some((r) => r.c === 424242)).toBe(false);
    } finally {
      await reader.close();
    }
  }, 300_000);
});
