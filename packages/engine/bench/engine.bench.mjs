// Benchmark (not a test): export and restore of a whole SAM AI installation — Odoo data, graph
// database, Chroma directory — through the engine, and in the same run the raw pipeline with
// standard tools (pg_dump of the Odoo tables and of the graph database, tar of the Chroma
// directory, all zipped; then psql / createdb + psql / untar back), with ratios. One JSON object.
// Run: pnpm build && node packages/engine/bench/engine.bench.mjs [S|L]
// SAM-S: fixture S (≈ 100 k Odoo rows), graph S (8 k vertices, 20 k edges), 2,400 vectors × 384.
// SAM-L: fixture L (≈ 1 M rows), graph × 122 (1 M vertices, 2.4 M edges), 100 k vectors × 1,536.
// Each engine run is a child process of its own, so its peak RSS is its own.
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openBundle } from '@sam-backup/bundle';
import { createFixture, createGraphFixture, createVectorFixture, dropFixture } from '@sam-backup/fixtures';
import { exportInstallation, restoreInstallation } from '../dist/index.js';

const ADMIN = process.env.SAM_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:55432/postgres';
const self = fileURLToPath(import.meta.url);
const peak = () => Math.round(process.resourceUsage().maxRSS / 1024);
const ALL = ['odoo', 'graph', 'vectors'];

function phaseClock(start) {
  const spent = {};
  let phase = 'start';
  let since = start;
  return {
    onProgress(p) {
      const name = `${p.component} ${p.phase}`;
      if (name === phase) return;
      const now = performance.now();
      spent[phase] = (spent[phase] ?? 0) + Math.round(now - since);
      phase = name;
      since = now;
    },
    done() {
      spent[phase] = (spent[phase] ?? 0) + Math.round(performance.now() - since);
      return spent;
    },
  };
}

const settingsOf = (s) => ({
  odoo: { databaseUrl: s.odooUrl, filestoreDir: s.filestore },
  graph: { databaseUrl: s.graphUrl },
  vectors: { settings: { mode: 'directory', path: s.chroma } },
});

if (process.argv[2] === '--export') {
  const s = JSON.parse(process.argv[3]);
  const t = performance.now();
  const phases = phaseClock(t);
  const r = await exportInstallation({
    components: ALL,
    backupDir: s.backups,
    tool: { name: 'bench', version: '0' },
    ...settingsOf(s),
    onProgress: phases.onProgress,
  });
  console.log(
    JSON.stringify({
      ms: Math.round(performance.now() - t),
      phases: phases.done(),
      peakRssMB: peak(),
      bundle: r.bundle.path,
      bytes: r.bundle.size,
      rows: r.odoo?.rows ?? 0,
      tables: r.odoo?.modelList.tables.map((x) => x.table) ?? [],
      cut: r.cut,
    }),
  );
  process.exit(0);
}
if (process.argv[2] === '--restore') {
  const s = JSON.parse(process.argv[3]);
  const t = performance.now();
  const phases = phaseClock(t);
  const r = await restoreInstallation({
    bundlePath: process.argv[4],
    components: ALL,
    ...settingsOf(s),
    stateDir: s.backups,
    onProgress: phases.onProgress,
  });
  console.log(
    JSON.stringify({
      ms: Math.round(performance.now() - t),
      phases: phases.done(),
      peakRssMB: peak(),
      switched: r.switched,
      verified: r.graph?.verified === true && r.vectors?.verified === true && r.odoo?.committed === true,
    }),
  );
  process.exit(0);
}

const scaleArg = process.argv[2] ?? 'S';
const big = scaleArg === 'L';
const root = await mkdtemp(join(tmpdir(), 'engine-bench-'));
const tag = `${scaleArg.toLowerCase()}_${process.pid}`;
const urlOf = (db) => {
  const u = new URL(ADMIN);
  u.pathname = `/${db}`;
  return u.toString();
};
const s = {
  odooUrl: urlOf(`bench_odoo_${tag}`),
  graphUrl: urlOf(`bench_graph_${tag}`),
  filestore: join(root, 'filestore'),
  chroma: join(root, 'chroma_data'),
  backups: join(root, 'backups'),
};
const child = (...args) => {
  const r = spawnSync(process.execPath, [self, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').at(-1));
};
const sh = (cmd, args, opts = {}) => {
  const t = performance.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 26, ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return performance.now() - t;
};
async function duBytes(dir) {
  let total = 0;
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) total += (await stat(join(e.parentPath, e.name))).size;
  }
  return total;
}

try {
  const built = performance.now();
  await createFixture({
    adminUrl: ADMIN,
    database: `bench_odoo_${tag}`,
    filestoreDir: s.filestore,
    scale: big ? 'L' : 'S',
    seed: 1,
  });
  const g = await createGraphFixture({
    adminUrl: ADMIN,
    database: `bench_graph_${tag}`,
    scale: big ? 122 : 'S',
  });
  const v = await createVectorFixture({ path: s.chroma, scale: big ? 'L' : 'S' });
  const buildMs = Math.round(performance.now() - built);
  const chromaBytes = await duBytes(s.chroma);

  const exp = child('--export', JSON.stringify(s));
  const reader = await openBundle(exp.bundle);
  const entries = reader.entries();
  const largestEntry = entries.reduce((m, e) => (e.size > m.size ? e : m), { size: 0, name: '' });
  await reader.close();
  const res = child('--restore', JSON.stringify(s), exp.bundle);

  // The raw pipeline, same data, same machine, same run.
  const raw = join(root, 'raw');
  sh('mkdir', ['-p', raw]);
  const tArgs = exp.tables.flatMap((t) => ['-t', t]);
  const rawExport = {
    odooDumpMs: sh('pg_dump', ['--data-only', ...tArgs, '-f', join(raw, 'odoo.sql'), s.odooUrl]),
    graphDumpMs: sh('pg_dump', ['-f', join(raw, 'graph.sql'), s.graphUrl]),
    chromaTarMs: sh('tar', ['-cf', join(raw, 'chroma.tar'), '-C', root, 'chroma_data']),
    zipMs: sh('zip', [
      '-q',
      '-1',
      '-j',
      join(root, 'raw.zip'),
      join(raw, 'odoo.sql'),
      join(raw, 'graph.sql'),
      join(raw, 'chroma.tar'),
    ]),
  };
  const rawZipBytes = (await stat(join(root, 'raw.zip'))).size;
  const rawRestore = {
    unzipMs: sh('unzip', ['-q', '-o', join(root, 'raw.zip'), '-d', join(root, 'unzipped')]),
    odooPsqlMs: sh('psql', [
      '-X',
      '-q',
      '-1',
      '-v',
      'ON_ERROR_STOP=1',
      '-c',
      'SET session_replication_role = replica',
      '-c',
      `TRUNCATE ${exp.tables.map((x) => `"${x}"`).join(', ')} CASCADE`,
      '-f',
      join(root, 'unzipped', 'odoo.sql'),
      s.odooUrl,
    ]),
    graphCreateAndPsqlMs:
      sh('psql', ['-X', '-q', '-c', `CREATE DATABASE bench_graphraw_${tag} TEMPLATE template0`, ADMIN]) +
      sh('psql', [
        '-X',
        '-q',
        '-1',
        '-v',
        'ON_ERROR_STOP=1',
        '-f',
        join(root, 'unzipped', 'graph.sql'),
        urlOf(`bench_graphraw_${tag}`),
      ]),
    chromaUntarMs: sh('tar', ['-xf', join(root, 'unzipped', 'chroma.tar'), '-C', join(root, 'unzipped')]),
  };
  const rawExportMs = Object.values(rawExport).reduce((a, b) => a + b, 0);
  const rawRestoreMs = Object.values(rawRestore).reduce((a, b) => a + b, 0);
  const round = (o) => Object.fromEntries(Object.entries(o).map(([k, x]) => [k, Math.round(x)]));
  console.log(
    JSON.stringify(
      {
        scale: `SAM-${scaleArg}`,
        data: {
          odooRows: exp.rows,
          vertices: g.vertices,
          edges: g.edges,
          vectors: v.records,
          chromaBytes,
          buildMs,
        },
        export: { ms: exp.ms, peakRssMB: exp.peakRssMB, phases: exp.phases, cut: exp.cut },
        restore: { ms: res.ms, peakRssMB: res.peakRssMB, phases: res.phases, verified: res.verified },
        bundleBytes: exp.bytes,
        largestEntry: { name: largestEntry.name, bytes: largestEntry.size },
        tempDisk: {
          vectorSnapshotBytes: chromaBytes,
          note: 'the Chroma snapshot is assembled in the backup folder, then streamed into the bundle',
        },
        raw: {
          exportMs: Math.round(rawExportMs),
          restoreMs: Math.round(rawRestoreMs),
          export: round(rawExport),
          restore: round(rawRestore),
          zipBytes: rawZipBytes,
        },
        ratios: { export: +(exp.ms / rawExportMs).toFixed(2), restore: +(res.ms / rawRestoreMs).toFixed(2) },
      },
      null,
      1,
    ),
  );
} finally {
  await dropFixture({ adminUrl: ADMIN, database: `bench_odoo_${tag}`, filestoreDir: s.filestore }).catch(
    () => undefined,
  );
  const pg = (await import('pg')).default;
  const c = new pg.Client({ connectionString: ADMIN });
  await c.connect();
  const dbs = await c.query(`SELECT datname FROM pg_database WHERE datname LIKE 'bench\\_graph%${tag}%'`);
  for (const { datname } of dbs.rows) await c.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
  await c.end();
  await rm(root, { recursive: true, force: true });
}
