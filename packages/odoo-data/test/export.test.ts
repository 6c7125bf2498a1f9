import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ENTRY, openBundle } from '@sam-backup/bundle';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ModelList, ModelListSchema } from '../src/index.js';
import { exportBundle, type Fx, makeFixture, query } from './helpers.js';

let fx: Fx;
let dir: string;

beforeAll(async () => {
  fx = await makeFixture('exp');
  dir = await mkdtemp(join(tmpdir(), 'odoodata-exp-'));
}, 240_000);

afterAll(async () => {
  await fx?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('export', () => {
  it('discovers the SAM models from the catalog and writes workbook, model list and files', async () => {
    const { result, bundle } = await exportBundle(fx, dir);
    const reader = await openBundle(bundle.path);
    const list = ModelListSchema.parse(await reader.readJson(ENTRY.modelList)) as ModelList;
    const byTable = new Map(list.tables.map((t) => [t.table, t]));
    // Whole models: defined by SAM modules; abstract and transient ones are left out.
    expect(byTable.get('ai_conversation')?.kind).toBe('model');
    expect(byTable.get('ai_message')?.kind).toBe('model');
    expect(byTable.has('workflow_duplicate_wizard')).toBe(false);
    expect(byTable.has('ai_conversation_import_wizard')).toBe(false);
    // Models SAM only extends: only the columns SAM added, keyed by id.
    const users = byTable.get('res_users');
    expect(users?.kind).toBe('extension');
    expect(users?.columns.map((c) => c.name).sort()).toEqual(
      [
        'ai_conversation_count',
        'ai_default_provider_id',
        'id',
        'sam_onboarding_done',
        'sam_profile_id',
      ].sort(),
    );
    expect(byTable.get('res_partner')?.columns.map((c) => c.name)).not.toContain('name');
    expect(byTable.get('ai_knowledge_domain_res_partner_rel')?.kind).toBe('relation');
    // Row counts equal the database's.
    for (const t of list.tables.filter((x) => x.kind === 'model')) {
      const [r] = await query<{ n: string }>(fx.url, `SELECT count(*) AS n FROM "${t.table}"`);
      expect(t.rows, t.table).toBe(Number(r?.n));
    }
    const [mm] = await query<{ n: string }>(
      fx.url,
      `SELECT count(*) AS n FROM mail_message WHERE model = ANY($1)`,
      [byTable.get('mail_message')?.filter?.values],
    );
    expect(byTable.get('mail_message')?.rows).toBe(Number(mm?.n));
    // Secrets are blanked by default and reported.
    expect(result.secretsOmitted.some((s) => s.column === 'api_key')).toBe(true);
    // Sheet names fit Excel's rule.
    for (const s of Object.keys(list.sheets)) expect(s.length).toBeLessThanOrEqual(31);
    // Filestore files are carried once per SHA-1.
    const [files] = await query<{ n: string }>(
      fx.url,
      `SELECT count(DISTINCT store_fname) AS n FROM ir_attachment WHERE res_model = ANY($1) AND store_fname IS NOT NULL`,
      [byTable.get('ir_attachment')?.filter?.values],
    );
    expect(result.files).toBe(Number(files?.n));
    expect(result.files).toBeGreaterThan(0);
    await reader.close();
  }, 240_000);
});
