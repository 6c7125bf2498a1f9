import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BundleWriter, ENTRY, type FinalizedBundle, openBundle } from '@sam-backup/bundle';
import { createFixture, dropFixture, type FixtureSummary } from '@sam-backup/fixtures';
import ExcelJS from 'exceljs';
import pg from 'pg';
import { type ExportResult, exportOdooData } from '../src/index.js';

export const ADMIN_URL = process.env.SAM_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:55432/postgres';

export interface Fx {
  summary: FixtureSummary;
  database: string;
  url: string;
  filestore: string;
  drop(): Promise<void>;
}

export async function makeFixture(
  tag: string,
  opts: { withData?: boolean; scale?: 'S' | number } = {},
): Promise<Fx> {
  const database = `odoodata_${tag}_${randomBytes(4).toString('hex')}`;
  const root = await mkdtemp(join(tmpdir(), 'odoodata-fs-'));
  const filestore = join(root, database);
  const summary = await createFixture({
    adminUrl: ADMIN_URL,
    database,
    filestoreDir: filestore,
    scale: opts.scale ?? 'S',
    seed: 7,
    odooVersion: 18,
    withData: opts.withData ?? true,
  });
  return {
    summary,
    database,
    url: summary.databaseUrl,
    filestore,
    drop: async () => {
      await dropFixture({ adminUrl: ADMIN_URL, database, filestoreDir: filestore }).catch(() => undefined);
      await rm(root, { recursive: true, force: true });
    },
  };
}

export async function exportBundle(
  fx: Fx,
  dir: string,
  extra: { includeSecrets?: boolean; maxRowsPerSheet?: number } = {},
): Promise<{ result: ExportResult; bundle: FinalizedBundle }> {
  const writer = await BundleWriter.create({ dir, name: `b-${randomBytes(4).toString('hex')}.zip` });
  const result = await exportOdooData({
    databaseUrl: fx.url,
    filestoreDir: fx.filestore,
    bundle: writer,
    ...extra,
  });
  const bundle = await writer.finalize({
    tool: { name: 'sam-backup', version: '0.0.0-test' },
    source: { odoo: { version: result.odooVersion }, modules: result.modules },
    components: { odoo: result.component },
    options: { secretsIncluded: extra.includeSecrets === true, secretsOmitted: result.secretsOmitted },
  });
  return { result, bundle };
}

/**
 * The test's own fingerprint of a table: md5 of every row's text form (`t::text`), in id (or
 * whole-row) order, computed by PostgreSQL — independent of the product's hash code.
 */
export async function tableFingerprint(
  url: string,
  table: string,
  where = 'true',
  columns?: string[],
): Promise<string> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const row = columns ? `ROW(${columns.map((x) => `t."${x}"`).join(', ')})::text` : 't::text';
    const r = await c.query<{ h: string | null; n: string }>(
      `SELECT md5(string_agg(x.r, E'\\n' ORDER BY x.r COLLATE "C")) AS h, count(*) AS n
       FROM (SELECT ${row} AS r FROM "${table}" t WHERE ${where}) x`,
    );
    return `${r.rows[0]?.n}:${r.rows[0]?.h ?? 'empty'}`;
  } finally {
    await c.end();
  }
}

/**
 * The test's own SQL for which rows of a shared table a bundle holds (model_list.json's row
 * filter, bundle-format.md §7.1), written here independently of the product's SQL.
 */
export function rowsWhere(
  filter: {
    column: string;
    values: string[];
    pairs?: { columns: [string, string]; values: Array<[string, string]> };
    parent?: { table: string; column: string };
  } | null,
): string {
  if (!filter) return 'true';
  const lit = (v: string) => `'${v.replace(/'/g, "''")}'`;
  const inList = filter.values.length > 0 ? filter.values.map(lit).join(',') : "''";
  if (filter.parent) {
    return `"${filter.column}" IN (SELECT id FROM "${filter.parent.table}" WHERE "${filter.parent.column}" IN (${inList}))`;
  }
  let where = `"${filter.column}" IN (${inList})`;
  if (filter.pairs && filter.pairs.values.length > 0) {
    const [a, b] = filter.pairs.columns;
    where = `(${where} OR ("${a}", "${b}") IN (${filter.pairs.values.map(([x, y]) => `(${lit(x)}, ${lit(y)})`).join(',')}))`;
  }
  return where;
}

export async function query<T extends pg.QueryResultRow = Record<string, unknown>>(
  url: string,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(sql, params)).rows;
  } finally {
    await c.end();
  }
}

/** Every file of a filestore folder with its SHA-1, sorted. */
export async function filestoreListing(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, rel: string) => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) await walk(join(d, e.name), `${rel}${e.name}/`);
      else {
        const sha = createHash('sha1')
          .update(await readFile(join(d, e.name)))
          .digest('hex');
        out.push(`${rel}${e.name}:${sha}`);
      }
    }
  };
  await walk(dir, '');
  return out.sort();
}

/**
 * A person's edit of the workbook: the bundle's workbook opened with exceljs, changed by `edit`,
 * saved, and written with every other entry as it was into a new bundle `name` in `dir`.
 */
export async function withEditedWorkbook(
  bundlePath: string,
  dir: string,
  name: string,
  edit: (wb: ExcelJS.Workbook) => void,
): Promise<FinalizedBundle> {
  const reader = await openBundle(bundlePath);
  try {
    const chunks: Buffer[] = [];
    for await (const c of await reader.openEntry(ENTRY.workbook)) chunks.push(c as Buffer);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(Buffer.concat(chunks) as unknown as ArrayBuffer);
    edit(wb);
    const edited = Buffer.from(await wb.xlsx.writeBuffer());
    const writer = await BundleWriter.create({ dir, name });
    for (const e of reader.entries()) {
      if (e.name === 'metadata.json') continue;
      if (e.name === ENTRY.workbook) await writer.addEntry(e.name, edited, { compression: 'store' });
      else await writer.addEntry(e.name, await reader.openEntry(e.name), { compression: e.compression });
    }
    return await writer.finalize({
      tool: reader.metadata.tool,
      source: reader.metadata.source,
      components: reader.metadata.components,
      options: reader.metadata.options,
    });
  } finally {
    await reader.close();
  }
}
