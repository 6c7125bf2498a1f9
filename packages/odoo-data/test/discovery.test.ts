/**
 * Discovery beyond the plain case: chatter rows that hang off the backed-up messages and followers
 * (cascade children, selected through their parent), attachments of a binary field a SAM module
 * added to a model it only extends (res_model, res_field), and a model with its own `_table`.
 * Each is exported, damaged in the database and restored, checked by the test's own fingerprints.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BundleWriter, ENTRY, openBundle } from '@sam-backup/bundle';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportOdooData, type ModelList, restoreOdooData } from '../src/index.js';
import { exportBundle, type Fx, makeFixture, query, rowsWhere, tableFingerprint } from './helpers.js';

let fx: Fx;
let dir: string;
let list: ModelList;
let bundlePath: string;
const AVATAR = Buffer.from('a binary-field attachment of res.partner added by ai_brain\n');
const AVATAR_SHA1 = createHash('sha1').update(AVATAR).digest('hex');

/** A SAM model whose `_table` is not its dotted name, made the way Odoo makes one. */
async function addCustomTableModel(url: string): Promise<void> {
  await query(
    url,
    `INSERT INTO ir_model (model, name, "order", state, transient)
     VALUES ('sam.custom.thing', '{"en_US": "SAM Custom Thing"}', 'id', 'base', false)`,
  );
  await query(
    url,
    `INSERT INTO ir_model_data (module, name, model, res_id, noupdate)
     SELECT 'ai_brain', 'model_sam_custom_thing', 'ir.model', id, false FROM ir_model WHERE model = 'sam.custom.thing'`,
  );
  for (const [name, ttype] of [
    ['id', 'integer'],
    ['name', 'char'],
    ['score', 'float'],
  ] as const) {
    await query(
      url,
      `INSERT INTO ir_model_fields (name, model, model_id, ttype, state, field_description, store)
       SELECT $1::varchar, 'sam.custom.thing', id, $2::varchar, 'base', jsonb_build_object('en_US', $1::varchar), true
       FROM ir_model WHERE model = 'sam.custom.thing'`,
      [name, ttype],
    );
  }
  await query(
    url,
    'CREATE TABLE sam_thing_store (id serial PRIMARY KEY, name varchar, score double precision)',
  );
  await query(url, `COMMENT ON TABLE sam_thing_store IS 'SAM Custom Thing'`);
  await query(
    url,
    `INSERT INTO sam_thing_store (name, score) SELECT 'thing ' || g, g / 3.0 FROM generate_series(1, 40) g`,
  );
}

/** sam_backup installed with its job history model, as the addon makes it. */
async function addSamBackupModule(url: string): Promise<void> {
  await query(
    url,
    `INSERT INTO ir_module_module (name, state, latest_version, shortdesc, application, demo, web, license, auto_install, to_buy, sequence)
     SELECT 'sam_backup', state, latest_version, shortdesc, false, demo, web, license, false, false, sequence
     FROM ir_module_module WHERE name = 'ai_brain'`,
  );
  await query(
    url,
    `INSERT INTO ir_model (model, name, "order", state, transient)
     VALUES ('sam.backup.job', '{"en_US": "SAM AI Backup Job"}', 'id desc', 'base', false)`,
  );
  await query(
    url,
    `INSERT INTO ir_model_data (module, name, model, res_id, noupdate)
     SELECT 'sam_backup', 'model_sam_backup_job', 'ir.model', id, false FROM ir_model WHERE model = 'sam.backup.job'`,
  );
  await query(
    url,
    `INSERT INTO ir_model_fields (name, model, model_id, ttype, state, field_description, store)
     SELECT 'id', 'sam.backup.job', id, 'integer', 'base', '{"en_US": "ID"}', true FROM ir_model WHERE model = 'sam.backup.job'`,
  );
  await query(url, 'CREATE TABLE sam_backup_job (id serial PRIMARY KEY, kind varchar)');
  await query(url, "INSERT INTO sam_backup_job (kind) VALUES ('export'), ('restore')");
}

/** A binary field ai_brain adds to res.partner, stored as attachments (no column). */
async function addPartnerBinaryField(url: string, filestore: string): Promise<void> {
  await query(
    url,
    `INSERT INTO ir_model_fields (name, model, model_id, ttype, state, field_description, store)
     SELECT 'ai_avatar', 'res.partner', id, 'binary', 'base', '{"en_US": "AI Avatar"}', true
     FROM ir_model WHERE model = 'res.partner'`,
  );
  await query(
    url,
    `INSERT INTO ir_model_data (module, name, model, res_id, noupdate)
     SELECT 'ai_brain', 'field_res_partner__ai_avatar', 'ir.model.fields', id, false
     FROM ir_model_fields WHERE model = 'res.partner' AND name = 'ai_avatar'`,
  );
  const fname = `${AVATAR_SHA1.slice(0, 2)}/${AVATAR_SHA1}`;
  await mkdir(join(filestore, AVATAR_SHA1.slice(0, 2)), { recursive: true });
  await writeFile(join(filestore, fname), AVATAR);
  await query(
    url,
    `INSERT INTO ir_attachment (name, type, res_model, res_field, res_id, store_fname, file_size, checksum, mimetype)
     SELECT 'ai_avatar', 'binary', 'res.partner', 'ai_avatar', id, $1, $2, $3, 'text/plain'
     FROM res_partner ORDER BY id LIMIT 3`,
    [fname, AVATAR.length, AVATAR_SHA1],
  );
  // A binary-field attachment of a field no SAM module added: not part of the backup.
  await query(
    url,
    `INSERT INTO ir_attachment (name, type, res_model, res_field, res_id, db_datas)
     SELECT 'image_1920', 'binary', 'res.partner', 'image_1920', id, '\\x00'::bytea FROM res_partner ORDER BY id LIMIT 1`,
  );
}

beforeAll(async () => {
  fx = await makeFixture('disc', { scale: 0.2 });
  dir = await mkdtemp(join(tmpdir(), 'odoodata-disc-'));
  await addCustomTableModel(fx.url);
  await addPartnerBinaryField(fx.url, fx.filestore);
  await addSamBackupModule(fx.url);
  const { bundle } = await exportBundle(fx, dir);
  bundlePath = bundle.path;
  const reader = await openBundle(bundlePath);
  list = (await reader.readJson(ENTRY.modelList)) as ModelList;
  await reader.close();
}, 300_000);

afterAll(async () => {
  await fx?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const spec = (table: string) => list.tables.find((t) => t.table === table);

async function fingerprints(url: string, tables: readonly string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const table of tables)
    out[table] = await tableFingerprint(url, table, rowsWhere(spec(table)?.filter ?? null));
  return out;
}

describe('discovery', () => {
  it('carries the chatter rows of the backed-up messages and followers, selected through their parent', async () => {
    const children = {
      mail_message_res_partner_rel: 'mail_message',
      message_attachment_rel: 'mail_message',
      mail_followers_mail_message_subtype_rel: 'mail_followers',
    } as const;
    for (const [table, parent] of Object.entries(children)) {
      const s = spec(table);
      expect(s, table).toBeDefined();
      expect(s?.filter?.parent?.table).toBe(parent);
      // The count is the test's own: rows whose parent row belongs to a backed-up model.
      const [n] = await query<{ n: string }>(
        fx.url,
        `SELECT count(*) AS n FROM "${table}" WHERE ${rowsWhere(s?.filter ?? null)}`,
      );
      expect(s?.rows, table).toBe(Number(n?.n));
      expect(s?.rows, table).toBeGreaterThan(0);
    }
    // Rows of messages on other models are not carried.
    const [other] = await query<{ n: string }>(
      fx.url,
      `SELECT count(*) AS n FROM mail_message_res_partner_rel r JOIN mail_message m ON m.id = r.mail_message_id
       WHERE m.model IS NULL OR NOT (m.model = ANY($1))`,
      [spec('mail_message')?.filter?.values],
    );
    const [all] = await query<{ n: string }>(
      fx.url,
      'SELECT count(*) AS n FROM mail_message_res_partner_rel',
    );
    expect(spec('mail_message_res_partner_rel')?.rows).toBe(Number(all?.n) - Number(other?.n));
  });

  it('never carries sam_backup itself, though sam_* matches it (a restore would roll back its job history)', async () => {
    expect(spec('sam_backup_job')).toBeUndefined();
    const reader = await openBundle(bundlePath);
    expect(Object.keys(reader.metadata.source.modules ?? {})).not.toContain('sam_backup');
    await reader.close();
    await expect(
      exportOdooData({
        databaseUrl: fx.url,
        filestoreDir: fx.filestore,
        bundle: await BundleWriter.create({ dir, name: 'never.zip' }),
        modules: ['sam_backup'],
      }),
    ).rejects.toMatchObject({ code: 'NO_MODULES' });
  });

  it('finds a model by its table comment when its _table is not its dotted name', () => {
    const s = spec('sam_thing_store');
    expect(s?.model).toBe('sam.custom.thing');
    expect(s?.kind).toBe('model');
    expect(s?.rows).toBe(40);
  });

  it('carries the attachments of a binary field added to an extended model, and their files', async () => {
    const att = spec('ir_attachment');
    expect(att?.filter?.pairs?.values).toEqual([['res.partner', 'ai_avatar']]);
    const [n] = await query<{ n: string }>(
      fx.url,
      `SELECT count(*) AS n FROM ir_attachment WHERE res_model = 'res.partner' AND res_field = 'ai_avatar'`,
    );
    expect(Number(n?.n)).toBe(3);
    const reader = await openBundle(bundlePath);
    expect(
      reader
        .entries()
        .some((e) => e.name === `${ENTRY.filestoreDir}${AVATAR_SHA1.slice(0, 2)}/${AVATAR_SHA1}`),
    ).toBe(true);
    await reader.close();
  });

  it('restores all three after they were damaged, and leaves rows outside the backup alone', async () => {
    const tables = [
      'mail_message_res_partner_rel',
      'message_attachment_rel',
      'mail_followers_mail_message_subtype_rel',
      'sam_thing_store',
      'ir_attachment',
    ];
    const before = await fingerprints(fx.url, tables);
    const outside = await tableFingerprint(
      fx.url,
      'ir_attachment',
      `res_field = 'image_1920' AND res_model = 'res.partner'`,
    );
    await query(
      fx.url,
      'DELETE FROM mail_message_res_partner_rel WHERE mail_message_id IN (SELECT id FROM mail_message ORDER BY id LIMIT 20)',
    );
    await query(
      fx.url,
      'DELETE FROM mail_followers_mail_message_subtype_rel WHERE ctid IN (SELECT ctid FROM mail_followers_mail_message_subtype_rel LIMIT 10)',
    );
    await query(
      fx.url,
      'DELETE FROM message_attachment_rel WHERE ctid IN (SELECT ctid FROM message_attachment_rel LIMIT 5)',
    );
    await query(fx.url, `UPDATE sam_thing_store SET score = -1 WHERE id % 4 = 0`);
    await query(
      fx.url,
      `DELETE FROM ir_attachment WHERE res_field = 'ai_avatar' AND res_id = (SELECT min(res_id) FROM ir_attachment WHERE res_field = 'ai_avatar')`,
    );
    const damaged = await fingerprints(fx.url, tables);
    for (const t of tables) expect(damaged[t], t).not.toBe(before[t]);

    const reader = await openBundle(bundlePath);
    try {
      const report = await restoreOdooData({
        databaseUrl: fx.url,
        filestoreDir: fx.filestore,
        bundle: reader,
      });
      expect(report.verdict).toBe('ok');
    } finally {
      await reader.close();
    }
    expect(await fingerprints(fx.url, tables)).toEqual(before);
    expect(
      await tableFingerprint(
        fx.url,
        'ir_attachment',
        `res_field = 'image_1920' AND res_model = 'res.partner'`,
      ),
    ).toBe(outside);
  }, 240_000);
});
