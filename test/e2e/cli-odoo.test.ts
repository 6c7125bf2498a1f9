/**
 * `sam-backup export` and `sam-backup restore` for the Odoo data, in-process, against the real
 * PostgreSQL: settings from the environment and --config, the round trip, the dry-run, the
 * confirmation rule, and configuration errors that name the setting.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFixture, dropFixture } from '@sam-backup/fixtures';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { samWith } from '../support/cli.js';
import { pgUrl } from '../support/services.js';

const database = `e2e_cli_odoo_${randomBytes(4).toString('hex')}`;
let root = '';
let env: NodeJS.ProcessEnv = {};
let dbUrl = '';
let bundle = '';

/** The test's own fingerprint of a table: md5 over its rows' text, ordered (not the product's hash). */
async function fingerprint(tables: readonly string[]): Promise<Record<string, string>> {
  const c = new pg.Client({ connectionString: dbUrl });
  await c.connect();
  try {
    const out: Record<string, string> = {};
    for (const t of tables) {
      const r = await c.query<{ h: string | null; n: string }>(
        `SELECT md5(string_agg(x::text, E'\\n' ORDER BY x::text COLLATE "C")) AS h, count(*) AS n FROM "${t}" x`,
      );
      out[t] = `${r.rows[0]?.n}:${r.rows[0]?.h}`;
    }
    return out;
  } finally {
    await c.end();
  }
}

async function sql(text: string): Promise<void> {
  const c = new pg.Client({ connectionString: dbUrl });
  await c.connect();
  try {
    await c.query(text);
  } finally {
    await c.end();
  }
}

const TABLES = ['ai_conversation', 'ai_message', 'ai_conversation_ai_workspace_rel', 'ir_attachment'];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'sam-cli-odoo-'));
  const filestore = join(root, 'filestore');
  const fx = await createFixture({ adminUrl: pgUrl, database, filestoreDir: filestore, scale: 0.2, seed: 5 });
  dbUrl = fx.databaseUrl;
  env = { SAM_ODOO_DB_URL: dbUrl, SAM_ODOO_FILESTORE: filestore, SAM_BACKUP_DIR: join(root, 'backups') };
}, 300_000);

afterAll(async () => {
  await dropFixture({ adminUrl: pgUrl, database, filestoreDir: join(root, 'filestore') }).catch(
    () => undefined,
  );
  if (root) await rm(root, { recursive: true, force: true });
});

describe('sam-backup export / restore --components odoo', () => {
  it('exports with the settings from the environment, reporting JSON on stdout', async () => {
    // The server trusts local connections, so a password in the URL is accepted and ignored: it
    // must still never reach the output.
    const withPassword = new URL(dbUrl);
    withPassword.password = 'secret-password';
    const res = await samWith(
      { env: { ...env, SAM_ODOO_DB_URL: withPassword.toString() } },
      'export',
      '--components',
      'odoo',
      '--json',
    );
    expect(res.code, res.stderr).toBe(0);
    const report = JSON.parse(res.stdout);
    expect(report.ok).toBe(true);
    expect(report.rows).toBeGreaterThan(1000);
    expect(report.secretsOmitted.length).toBeGreaterThan(0);
    bundle = report.bundle;
    expect((await readdir(join(root, 'backups'))).sort()).toEqual(
      [bundle.split('/').pop(), `${bundle.split('/').pop()}.sha256`].sort(),
    );
    expect(`${res.stdout}${res.stderr}`).not.toContain('secret-password');
    const human = await samWith(
      { env: { ...env, SAM_ODOO_DB_URL: withPassword.toString(), SAM_BACKUP_DIR: join(root, 'more') } },
      'export',
    );
    expect(human.code, human.stderr).toBe(0);
    expect(human.stderr).toContain('***');
    expect(`${human.stdout}${human.stderr}`).not.toContain('secret-password');
  }, 120_000);

  it('a dry-run shows the changes and writes nothing; without --yes and a terminal it refuses', async () => {
    await sql(`UPDATE ai_conversation SET name = 'changed' WHERE id % 5 = 0`);
    await sql(`DELETE FROM ai_message WHERE id IN (SELECT id FROM ai_message ORDER BY id LIMIT 40)`);
    const damaged = await fingerprint(TABLES);
    const dry = await samWith({ env }, 'restore', bundle, '--dry-run', '--json');
    expect(dry.code, dry.stderr).toBe(0);
    const preview = JSON.parse(dry.stdout);
    expect(preview.dryRun).toBe(true);
    expect(preview.graph).toBeNull();
    const table = (n: string) => preview.odoo.tables.find((t: { table: string }) => t.table === n);
    expect(table('ai_message').toInsert).toBe(40);
    expect(table('ai_conversation').toUpdate).toBeGreaterThan(0);
    expect(await fingerprint(TABLES)).toEqual(damaged);

    const noYes = await samWith({ env }, 'restore', bundle);
    expect(noYes.code).toBe(2);
    expect(noYes.stderr).toContain('--yes');
    expect(await fingerprint(TABLES)).toEqual(damaged);
  }, 120_000);

  it('restore --yes brings every table back, from a --config file', async () => {
    const before = await samWith({ env }, 'restore', bundle, '--dry-run', '--json');
    expect(before.code).toBe(0);
    const config = join(root, 'settings.json');
    await writeFile(
      config,
      JSON.stringify({ odooDbUrl: env.SAM_ODOO_DB_URL, filestore: env.SAM_ODOO_FILESTORE }),
    );
    const res = await samWith({ env: {} }, 'restore', bundle, '--yes', '--config', config);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain('OK restore');
    // Nothing left to change: a dry-run now finds the database equal to the bundle.
    const after = JSON.parse((await samWith({ env }, 'restore', bundle, '--dry-run', '--json')).stdout);
    for (const t of after.odoo.tables) {
      expect([t.table, t.toInsert, t.toUpdate, t.toDelete]).toEqual([t.table, 0, 0, 0]);
    }
  }, 180_000);

  it('refuses bad settings, naming the setting, before any work', async () => {
    const cases: Array<[NodeJS.ProcessEnv, string[], RegExp]> = [
      [{ ...env, SAM_ODOO_DB_URL: '' }, ['export'], /SAM_ODOO_DB_URL is not set/],
      [
        { ...env, SAM_ODOO_DB_URL: 'mysql://x@h/d' },
        ['export'],
        /SAM_ODOO_DB_URL .* is not a PostgreSQL URL/,
      ],
      [{ ...env, SAM_BACKUP_DIR: '' }, ['export'], /SAM_BACKUP_DIR is not set/],
      [env, ['export', '--components', 'chroma'], /chroma cannot be backed up by this version/],
      [env, ['export', '--components', 'vectors'], /neither SAM_CHROMA_PATH nor SAM_CHROMA_URL is set/],
      [
        { ...env, SAM_CHROMA_PATH: '/x', SAM_CHROMA_URL: 'http://127.0.0.1:8000' },
        ['export', '--components', 'vectors'],
        /both SAM_CHROMA_PATH and SAM_CHROMA_URL are set/,
      ],
      [
        { ...env, SAM_CHROMA_URL: 'ftp://h' },
        ['export', '--components', 'vectors'],
        /SAM_CHROMA_URL "ftp:\/\/h" is not an http\(s\) URL/,
      ],
      [env, ['export', '--components', 'odoo,graph'], /SAM_GRAPH_DB_URL is not set/],
      [env, ['restore', bundle, '--mode', 'upsert', '--yes'], /--mode upsert: expected replace or merge/],
      [env, ['restore', bundle, '--dangling', 'drop', '--yes'], /--dangling drop/],
      [env, ['export', '--config', join(root, 'nope.json')], /--config .*nope.json: cannot be read/],
    ];
    for (const [e, argv, message] of cases) {
      const res = await samWith({ env: e }, ...argv);
      expect(res.code, argv.join(' ')).toBe(2);
      expect(res.stderr).toMatch(message);
    }
    await writeFile(
      join(root, 'bad.json'),
      JSON.stringify({ odooDbUrl: 'postgres://x@h/d', colour: 'blue' }),
    );
    const bad = await samWith({ env }, 'export', '--config', join(root, 'bad.json'));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/bad\.json/);
  }, 60_000);

  it('a damaged bundle is refused with exit 3 and changes nothing', async () => {
    const copy = join(root, 'damaged.zip');
    const { readFile } = await import('node:fs/promises');
    const bytes = await readFile(bundle);
    const at = Math.floor(bytes.length / 2);
    bytes[at] = (bytes[at] as number) ^ 0xff;
    await writeFile(copy, bytes);
    const before = await fingerprint(TABLES);
    const res = await samWith({ env }, 'restore', copy, '--yes');
    expect(res.code, res.stderr).toBe(3);
    expect(res.stderr).toMatch(/refused/);
    expect(await fingerprint(TABLES)).toEqual(before);
  }, 120_000);
});
