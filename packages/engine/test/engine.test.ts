/**
 * The engine across the three stores — the Odoo data and the graph database on the real
 * PostgreSQL, the vectors in a real Chroma persist directory: one bundle, one restore that
 * switches all or none, also when the process is killed at any stage. Contents are compared with
 * the test's own queries (md5 of table rows, SQLite rows of Chroma's files), not the product's.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ENTRY, openBundle } from '@sam-backup/bundle';
import { createFixture, createVectorFixture, dropFixture } from '@sam-backup/fixtures';
import { ChromaHttp, startChromaServer } from '@sam-backup/vectors';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BundleDamagedError,
  exportInstallation,
  JOURNAL_FILE,
  PreflightError,
  recoverSwitch,
  restoreInstallation,
} from '../src/index.js';

const ADMIN = process.env.SAM_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:55432/postgres';
const urlOf = (database: string) => {
  const u = new URL(ADMIN);
  u.pathname = `/${database}`;
  return u.toString();
};
const tag = randomBytes(3).toString('hex');
const odooDb = `engine_odoo_${tag}`;
const graphDb = `engine_graph_${tag}`;
let root = '';
let filestore = '';
let chroma = '';
let bundlePath = '';

async function sql<T extends pg.QueryResultRow = Record<string, unknown>>(
  url: string,
  text: string,
): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(text)).rows;
  } finally {
    await c.end();
  }
}

async function md5(url: string, table: string): Promise<string> {
  const [r] = await sql<{ h: string | null; n: string }>(
    url,
    `SELECT md5(string_agg(x::text, E'\\n' ORDER BY x::text COLLATE "C")) AS h, count(*) AS n FROM ${table} x`,
  );
  return `${r?.n}:${r?.h}`;
}

/** The test's own view of the Chroma directory: its SQLite rows (records, metadata, write log). */
function chromaRows(): string {
  if (!existsSync(join(chroma, 'chroma.sqlite3'))) return 'no directory';
  const out = execFileSync(
    'sqlite3',
    [
      '-readonly',
      join(chroma, 'chroma.sqlite3'),
      `SELECT c.name, e.embedding_id, m.key, m.string_value, m.int_value, m.float_value, m.bool_value
     FROM collections c JOIN segments s ON s.collection = c.id AND s.scope = 'METADATA'
     JOIN embeddings e ON e.segment_id = s.id LEFT JOIN embedding_metadata m ON m.id = e.id ORDER BY 1, 2, 3;
     SELECT c.name, q.id, q.operation, hex(q.vector) FROM embeddings_queue q
     JOIN collections c ON q.topic LIKE '%/' || c.id ORDER BY q.seq_id;`,
    ],
    { maxBuffer: 1 << 30 },
  );
  return createHash('sha256').update(out).digest('hex');
}

/** The test's own view of the three stores. */
async function state(): Promise<Record<string, string>> {
  return {
    conversations: await md5(urlOf(odooDb), 'ai_conversation'),
    messages: await md5(urlOf(odooDb), 'ai_message'),
    nodes: await md5(urlOf(graphDb), 'knowledge.node'),
    edges: await md5(urlOf(graphDb), 'knowledge.edge'),
    vectors: chromaRows(),
  };
}

async function damageVectors(label: string): Promise<void> {
  const server = await startChromaServer(chroma);
  try {
    const http = new ChromaHttp(server.url);
    const cols = await http.listCollections();
    const docs = cols.find((c) => c.name === 'sam_documents');
    if (docs) await http.deleteCollection(docs.name);
    const mem = cols.find((c) => c.name === 'sam_memories');
    await http.add(mem?.id as string, {
      ids: [`${label}-1`, `${label}-2`],
      embeddings: [Array(384).fill(0.5), Array(384).fill(-0.25)],
      documents: [label, label],
      metadatas: null,
      uris: null,
    });
  } finally {
    await server.stop();
  }
}

async function damage(label: string): Promise<void> {
  await damageVectors(label.replace(/\W/g, '_'));
  await sql(urlOf(odooDb), `UPDATE ai_conversation SET name = '${label}' WHERE id % 3 = 0`);
  await sql(
    urlOf(odooDb),
    `DELETE FROM ai_message WHERE id IN (SELECT id FROM ai_message ORDER BY id LIMIT 30)`,
  );
  await sql(
    urlOf(graphDb),
    `DELETE FROM knowledge.edge WHERE id % 4 = 0; UPDATE knowledge.node SET label = '${label}' WHERE id < 20`,
  );
}

const settings = () => ({
  odoo: { databaseUrl: urlOf(odooDb), filestoreDir: filestore },
  graph: { databaseUrl: urlOf(graphDb) },
  vectors: { settings: { mode: 'directory' as const, path: chroma } },
  stateDir: join(root, 'backups'),
});
const ALL = ['odoo', 'graph', 'vectors'] as const;

let original: Record<string, string>;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'engine-test-'));
  filestore = join(root, 'filestore');
  chroma = join(root, 'chroma_data');
  await createVectorFixture({ path: chroma, scale: 0.2 });
  await createFixture({ adminUrl: ADMIN, database: odooDb, filestoreDir: filestore, scale: 0.1, seed: 3 });
  await sql(ADMIN, `CREATE DATABASE ${graphDb}`);
  await sql(
    urlOf(graphDb),
    `CREATE SCHEMA knowledge;
     CREATE TABLE knowledge.node (id bigserial PRIMARY KEY, label text NOT NULL, props jsonb);
     CREATE TABLE knowledge.edge (id bigserial PRIMARY KEY, start_id bigint REFERENCES knowledge.node(id),
       end_id bigint REFERENCES knowledge.node(id), props jsonb);
     INSERT INTO knowledge.node (label, props) SELECT 'Memory', jsonb_build_object('i', g) FROM generate_series(1, 500) g;
     INSERT INTO knowledge.edge (start_id, end_id, props)
       SELECT 1 + g % 500, 1 + (g * 7) % 500, jsonb_build_object('w', g) FROM generate_series(1, 1500) g;`,
  );
  original = await state();
  const r = await exportInstallation({
    components: ALL,
    backupDir: join(root, 'backups'),
    tool: { name: 'sam-backup', version: '0.0.0-test' },
    ...settings(),
  });
  bundlePath = r.bundle.path;
  expect(r.cut).toMatch(/write fence/);
  expect(r.bundle.metadata.options.consistentCut).toBe(r.cut);
  expect(r.vectors?.component.counts).toEqual({ collections: 3, records: 480 });
}, 300_000);

afterAll(async () => {
  await dropFixture({ adminUrl: ADMIN, database: odooDb, filestoreDir: filestore }).catch(() => undefined);
  for (const { d } of await sql<{ d: string }>(
    ADMIN,
    `SELECT datname AS d FROM pg_database WHERE datname LIKE '${graphDb}%'`,
  )) {
    await sql(ADMIN, `DROP DATABASE IF EXISTS "${d}" WITH (FORCE)`);
  }
  if (root) await rm(root, { recursive: true, force: true });
});

describe('engine: the three stores in one bundle, one restore', () => {
  it('restores every store after each was damaged; a dry-run then finds nothing to change', async () => {
    await damage('first damage');
    const damaged = await state();
    for (const k of Object.keys(original)) expect(damaged[k], k).not.toEqual(original[k]);
    const report = await restoreInstallation({ bundlePath, components: ALL, ...settings() });
    expect(report.switched).toBe(true);
    expect(report.graph?.verified).toBe(true);
    expect(report.vectors?.verified).toBe(true);
    expect(report.odoo?.committed).toBe(true);
    expect(await state()).toEqual(original);
    expect(existsSync(join(root, 'backups', JOURNAL_FILE))).toBe(false);
    const dry = await restoreInstallation({
      bundlePath,
      components: ALL,
      dryRun: true,
      ...settings(),
    });
    expect(dry.graph?.differences).toEqual([]);
    expect(dry.odoo?.tables.every((t) => t.toInsert + t.toUpdate + t.toDelete === 0)).toBe(true);
    expect(dry.vectors?.collections.every((c) => c.recordsNow === c.recordsInBundle)).toBe(true);
  }, 240_000);

  it('when the Odoo COMMIT fails after the graph and the vectors were swapped in, both swaps are undone: all stay old', async () => {
    await damage('second damage');
    const before = await state();
    const kept = async () =>
      (
        await sql<{ d: string }>(
          ADMIN,
          `SELECT datname AS d FROM pg_database WHERE datname LIKE '${graphDb}\\_\\_before\\_%' ORDER BY 1`,
        )
      ).map((r) => r.d);
    const keptBefore = await kept();
    expect(keptBefore).toHaveLength(1);
    const err = await restoreInstallation({
      bundlePath,
      components: ALL,
      ...settings(),
      onProgress: (p) => {
        // The moment before COMMIT: the connection holding the Odoo transaction is cut.
        if (p.component === 'odoo' && p.phase === 'commit') {
          execFileSync('psql', [
            '-X',
            '-q',
            '-d',
            ADMIN,
            '-c',
            `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${odooDb}' AND state LIKE 'idle in transaction%'`,
          ]);
        }
      },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(await state()).toEqual(before);
    const left = await sql<{ d: string }>(
      ADMIN,
      `SELECT datname AS d FROM pg_database WHERE datname LIKE '${graphDb}\\_\\_%' AND datname NOT LIKE '%\\_\\_before\\_%'`,
    );
    expect(left).toEqual([]);
    // The database the previous (successful) restore kept is still there: a failed restore drops nothing.
    expect(await kept()).toEqual(keptBefore);
  }, 240_000);

  it('a second restore into the same installation is refused while one runs', async () => {
    let second: Promise<unknown> | undefined;
    const first = await restoreInstallation({
      bundlePath,
      components: ALL,
      ...settings(),
      onStage: (s) => {
        if (s === 'prepare odoo' && !second) {
          second = restoreInstallation({ bundlePath, components: ALL, ...settings() }).catch(
            (e: unknown) => e,
          );
        }
      },
    });
    expect(first.switched).toBe(true);
    const err = await second;
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/another restore \(process \d+\) is running/);
    expect(await state()).toEqual(original);
  }, 240_000);

  it('refuses a damaged bundle before touching any store', async () => {
    const { readFile, writeFile } = await import('node:fs/promises');
    const bytes = await readFile(bundlePath);
    const at = Math.floor(bytes.length / 3);
    bytes[at] = (bytes[at] as number) ^ 0x55;
    const damaged = join(root, 'damaged.zip');
    await writeFile(damaged, bytes);
    const before = await state();
    const err = await restoreInstallation({
      bundlePath: damaged,
      components: ALL,
      ...settings(),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BundleDamagedError);
    expect(await state()).toEqual(before);
  }, 120_000);
});

const here = dirname(fileURLToPath(import.meta.url));
const dist = (pkg: string) => join(here, '..', '..', pkg, 'dist', 'index.js');

/** Runs a restore in a child process that SIGKILLs itself when the engine reaches `stage`. */
async function restoreKilledAt(stage: string): Promise<string | null> {
  if (!existsSync(dist('engine'))) throw new Error(`${dist('engine')} is missing: run \`pnpm build\` first`);
  const script = join(root, 'kill-restore.mjs');
  await writeFile(
    script,
    `import { restoreInstallation } from ${JSON.stringify(dist('engine'))};
const [bundlePath, settings, stage] = [process.argv[2], JSON.parse(process.argv[3]), process.argv[4]];
await restoreInstallation({
  bundlePath, components: ['odoo', 'graph', 'vectors'], ...settings,
  onStage: (s) => { if (s === stage) process.kill(process.pid, 'SIGKILL'); },
});
process.exit(0);
`,
  );
  const child = spawn(process.execPath, [script, bundlePath, JSON.stringify(settings()), stage], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const signal = await new Promise<string | null>((resolve) =>
    child.on('exit', (_code, sig) => resolve(sig)),
  );
  if (signal !== 'SIGKILL') throw new Error(`the restore was not killed at ${stage}: ${stderr.slice(-2000)}`);
  return signal;
}

describe('engine: a restore killed (SIGKILL) at each stage ends fully old or fully new', () => {
  const stages = [
    ['prepare graph', 'old'],
    ['prepare vectors', 'old'],
    ['prepare odoo', 'old'],
    ['journal written', 'old'],
    ['graph switched', 'old'],
    ['vectors switched', 'old'],
    ['committed', 'new'],
  ] as const;
  it.each(stages)(
    'killed at "%s" → %s after recovery',
    async (stage, expected) => {
      await damage(`before kill at ${stage}`);
      const old = await state();
      await restoreKilledAt(stage);
      const recovery = await recoverSwitch(join(root, 'backups'), {
        odooDatabaseUrl: urlOf(odooDb),
        odooFilestore: filestore,
        graphDatabaseUrl: urlOf(graphDb),
        vectors: settings().vectors.settings,
      });
      expect(recovery.found).toBe(!stage.startsWith('prepare'));
      expect(await state()).toEqual(expected === 'old' ? old : original);
      expect(existsSync(join(root, 'backups', JOURNAL_FILE))).toBe(false);
    },
    240_000,
  );

  it('the next restore after the kills succeeds and leaves no prepared copies behind', async () => {
    const report = await restoreInstallation({ bundlePath, components: ALL, ...settings() });
    expect(report.switched).toBe(true);
    expect(await state()).toEqual(original);
    const dbs = await sql<{ d: string }>(
      ADMIN,
      `SELECT datname AS d FROM pg_database WHERE datname LIKE '${graphDb}\\_\\_restore%'`,
    );
    expect(dbs).toEqual([]);
    expect((await readdir(root)).filter((n) => n.includes('__restore_'))).toEqual([]);
  }, 240_000);
});

/** Whether this machine lets the test mount a small tmpfs (root in a sandbox that allows it). */
function canMount(): boolean {
  const dir = join(tmpdir(), `sam-mount-probe-${process.pid}`);
  try {
    execFileSync('mkdir', ['-p', dir]);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { stdio: 'ignore' });
    execFileSync('umount', [dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    execFileSync('rm', ['-rf', dir]);
  }
}
const MOUNT = canMount();
if (!MOUNT)
  console.warn('SKIPPED: the no-space preflight test needs to mount a tmpfs (root with CAP_SYS_ADMIN)');

describe('engine: preflight refuses before anything is written', () => {
  const bundles = async (dir: string) =>
    existsSync(dir) ? (await readdir(dir)).filter((n) => n.endsWith('.zip')) : [];

  it.skipIf(!MOUNT)(
    'not enough space in the backup folder: the need, the place and the fix are said',
    async () => {
      const tiny = join(root, 'tiny');
      await mkdir(tiny, { recursive: true });
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', tiny]);
      try {
        const err = await exportInstallation({
          components: ALL,
          backupDir: tiny,
          tool: { name: 'sam-backup', version: '0.0.0-test' },
          ...settings(),
        }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(PreflightError);
        expect((err as PreflightError).check).toBe('disk');
        expect((err as Error).message).toMatch(
          /needs about .* in .*tiny \(odoo ≈ .*graph ≈ .*vectors ≈ .*\) and only .* is free there: free some space or set SAM_BACKUP_DIR/,
        );
        expect(await readdir(tiny)).toEqual([]);
      } finally {
        execFileSync('umount', [tiny]);
      }
    },
    120_000,
  );

  it('a pg_dump older than the server is refused naming the fix', async () => {
    const fake = join(root, 'pg_dump_14');
    await writeFile(fake, '#!/bin/sh\necho "pg_dump (PostgreSQL) 14.11"\n');
    await chmod(fake, 0o755);
    const dir = join(root, 'backups-old-tool');
    const err = await exportInstallation({
      components: ['graph'],
      backupDir: dir,
      tool: { name: 'sam-backup', version: '0.0.0-test' },
      graph: { databaseUrl: urlOf(graphDb), pgDumpPath: fake },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PreflightError);
    expect((err as Error).message).toMatch(
      /pg_dump 14 .* is older than server 1\d: install postgresql-client-1\d/,
    );
    expect(await bundles(dir)).toEqual([]);
  });

  it('an unreachable Chroma is refused naming the setting', async () => {
    const dir = join(root, 'backups-no-chroma');
    const err = await exportInstallation({
      components: ['odoo', 'vectors'],
      backupDir: dir,
      tool: { name: 'sam-backup', version: '0.0.0-test' },
      odoo: settings().odoo,
      vectors: { settings: { mode: 'server', url: 'http://127.0.0.1:9' } },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PreflightError);
    expect((err as Error).message).toMatch(
      /Chroma at http:\/\/127\.0\.0\.1:9 is not reachable .*SAM_CHROMA_URL/,
    );
    expect(await bundles(dir)).toEqual([]);
    const err2 = await exportInstallation({
      components: ['vectors'],
      backupDir: dir,
      tool: { name: 'sam-backup', version: '0.0.0-test' },
      vectors: { settings: { mode: 'directory', path: join(root, 'no-such-chroma') } },
    }).catch((e: unknown) => e);
    expect((err2 as Error).message).toMatch(
      /no-such-chroma is not a Chroma persist directory .*SAM_CHROMA_PATH/,
    );
    expect(await bundles(dir)).toEqual([]);
  });
});

/** The test's own byte-level view of a folder: every file's path and content. */
async function treeHash(dir: string): Promise<string> {
  const h = createHash('sha256');
  if (!existsSync(dir)) return 'no folder';
  const names = (await readdir(dir, { recursive: true })).map(String).sort();
  for (const n of names) {
    const p = join(dir, n);
    const st = await stat(p);
    h.update(
      `${n}\0${
        st.isFile()
          ? createHash('sha256')
              .update(await readFile(p))
              .digest('hex')
          : 'dir'
      }\n`,
    );
  }
  return h.digest('hex');
}

/** Bytes of the bundle's entries that `pick` selects (their uncompressed sizes, from metadata.json). */
async function bundleBytes(pick: (name: string) => boolean): Promise<number> {
  const b = await openBundle(bundlePath);
  try {
    return b
      .entries()
      .filter((e) => pick(e.name))
      .reduce((a, e) => a + e.size, 0);
  } finally {
    await b.close();
  }
}

const TOOL = { name: 'sam-backup', version: '0.0.0-test' };

describe('engine: the disk a restore needs', () => {
  it("a dry run says, per place, about how much it needs (at least the bundle's bytes) and what is free", async () => {
    const safetyDir = join(root, 'backups', 'safety');
    const dry = await restoreInstallation({
      bundlePath,
      components: ALL,
      dryRun: true,
      ...settings(),
      safety: { dir: safetyDir, tool: TOOL },
    });
    const by = Object.fromEntries(dry.disk.map((d) => [d.place, d]));
    expect(Object.keys(by).sort()).toEqual([
      'backup folder',
      'filestore',
      'graph database server',
      'odoo database server',
      'vector folder',
    ]);
    const chromaBytes = await bundleBytes((n) => n.startsWith(ENTRY.chromaDir));
    const fileBytes = await bundleBytes((n) => n.startsWith(ENTRY.filestoreDir));
    const odooText = await bundleBytes(
      (n) => n === ENTRY.workbook || n === ENTRY.modelList || n.startsWith(ENTRY.overflowDir),
    );
    const dump = await bundleBytes((n) => n === ENTRY.graphDump);
    for (const n of [chromaBytes, fileBytes, odooText, dump]) expect(n).toBeGreaterThan(0);
    // The safety export of the current state: at least a bundle of that state takes.
    expect(by['backup folder']).toMatchObject({ path: safetyDir, components: [...ALL] });
    expect(by['backup folder']?.needBytes).toBeGreaterThanOrEqual((await stat(bundlePath)).size);
    expect(by['vector folder']).toMatchObject({ path: root, components: ['vectors'] });
    expect(by['vector folder']?.needBytes).toBeGreaterThanOrEqual(chromaBytes);
    expect(by.filestore).toMatchObject({ path: filestore, components: ['odoo'] });
    expect(by.filestore?.needBytes).toBeGreaterThanOrEqual(fileBytes);
    expect(by['odoo database server']?.needBytes).toBeGreaterThanOrEqual(odooText);
    expect(by['graph database server']?.needBytes).toBeGreaterThanOrEqual(dump);
    // Folders measured; database servers not measurable from here; no password in a server.
    const { statfsSync } = await import('node:fs');
    const fs = statfsSync(root);
    for (const place of ['backup folder', 'vector folder', 'filestore']) {
      const d = by[place];
      expect(d?.freeBytes, place).toBeGreaterThan(0);
      expect(Math.abs((d?.freeBytes as number) - fs.bavail * fs.bsize), place).toBeLessThan(256 << 20);
      // All three are on the test's one temporary filesystem: each names the other two.
      expect(d?.sharesFilesystemWith.length, place).toBe(2);
      expect(d?.fits, place).toBe(true);
    }
    for (const place of ['odoo database server', 'graph database server']) {
      expect(by[place]?.freeBytes, place).toBeNull();
      expect(by[place]?.fits, place).toBeNull();
      expect(by[place]?.server, place).toMatch(/^postgres:\/\/.*127\.0\.0\.1/);
    }
  }, 120_000);

  it.skipIf(!MOUNT)(
    'a safety backup that does not fit the backup folder: refused before anything is written, the stores byte-identical',
    async () => {
      await damage('before the disk refusal');
      const before = await state();
      const trees = async () => ({ filestore: await treeHash(filestore), chroma: await treeHash(chroma) });
      const treesBefore = await trees();
      const rootBefore = (await readdir(root)).sort();
      const tiny = join(root, 'tiny-safety');
      await mkdir(tiny, { recursive: true });
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', tiny]);
      try {
        const err = await restoreInstallation({
          bundlePath,
          components: ALL,
          ...settings(),
          safety: { dir: join(tiny, 'safety'), tool: TOOL },
        }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(PreflightError);
        expect((err as PreflightError).check).toBe('disk');
        expect((err as Error).message).toMatch(
          /^the restore needs about .* in the backup folder .*tiny-safety\/safety \(the safety backup of odoo, graph, vectors\), and only .* is free there: free some space there, or restore with --no-safety-backup/,
        );
        expect(await readdir(tiny)).toEqual([]);
      } finally {
        execFileSync('umount', [tiny]);
      }
      expect(await state()).toEqual(before);
      expect(await trees()).toEqual(treesBefore);
      expect((await readdir(root)).sort()).toEqual([...rootBefore, 'tiny-safety'].sort());
      expect(existsSync(join(root, 'backups', JOURNAL_FILE))).toBe(false);
      const staged = await sql<{ d: string }>(
        ADMIN,
        `SELECT datname AS d FROM pg_database WHERE datname LIKE '${graphDb}\\_\\_restore%'`,
      );
      expect(staged).toEqual([]);
    },
    120_000,
  );

  it.skipIf(!MOUNT)(
    'places on one filesystem are summed: each fits alone, together they do not — refused, nothing written',
    async () => {
      const disk = join(root, 'one-disk');
      await mkdir(disk, { recursive: true });
      const chromaBytes = await bundleBytes((n) => n.startsWith(ENTRY.chromaDir));
      execFileSync('mount', [
        '-t',
        'tmpfs',
        '-o',
        `size=${Math.ceil((4 * chromaBytes + (4 << 20)) / 4096) * 4}k`,
        'tmpfs',
        disk,
      ]);
      try {
        const live = join(disk, 'chroma_data');
        await cp(chroma, live, { recursive: true });
        const liveBefore = await treeHash(live);
        const vectors = { settings: { mode: 'directory' as const, path: live } };
        const dryRun = async () => {
          const dry = await restoreInstallation({
            bundlePath,
            components: ['vectors'],
            dryRun: true,
            vectors,
            safety: { dir: join(disk, 'safety'), tool: TOOL },
          });
          return Object.fromEntries(dry.disk.map((d) => [d.place, d]));
        };
        let by = await dryRun();
        expect(by['backup folder']?.sharesFilesystemWith).toEqual(['vector folder']);
        expect(by['vector folder']?.sharesFilesystemWith).toEqual(['backup folder']);
        expect(by['vector folder']?.fits).toBe(true);
        // Shrink the filesystem so that each place's need fits in its free space, but not both.
        const a = by['vector folder']?.needBytes as number;
        const b = by['backup folder']?.needBytes as number;
        const { statfsSync } = await import('node:fs');
        const fs = statfsSync(disk);
        const used = (fs.blocks - fs.bfree) * fs.bsize;
        const room = (Math.max(a, b) + a + b) / 2;
        execFileSync('mount', ['-o', `remount,size=${Math.ceil((used + room) / 4096) * 4}k`, disk]);
        by = await dryRun();
        const free = by['vector folder']?.freeBytes as number;
        expect(by['backup folder']?.freeBytes).toBe(free);
        expect(a).toBeLessThanOrEqual(free);
        expect(b).toBeLessThanOrEqual(free);
        expect(a + b).toBeGreaterThan(free);
        expect(by['vector folder']?.fits).toBe(false);
        expect(by['backup folder']?.fits).toBe(false);
        const err = await restoreInstallation({
          bundlePath,
          components: ['vectors'],
          vectors,
          stateDir: join(root, 'backups-one-disk'),
          safety: { dir: join(disk, 'safety'), tool: TOOL },
        }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(PreflightError);
        expect((err as Error).message).toMatch(
          /^the restore needs about .* on the one filesystem of the backup folder .*one-disk\/safety \(the safety backup of vectors\) ≈ .*, the vector folder .*one-disk ≈ .*, and only .* is free there: free some space on that filesystem, or restore with --no-safety-backup/,
        );
        expect(await readdir(disk)).toEqual(['chroma_data']);
        expect(await treeHash(live)).toBe(liveBefore);
      } finally {
        execFileSync('umount', [disk]);
      }
    },
    120_000,
  );
});
