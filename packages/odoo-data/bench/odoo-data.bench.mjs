// Benchmark (not a test): export and restore of the Odoo data of a fixture, with pg_dump / psql of
// the same tables as the reference. Prints one JSON object.
// Run: pnpm build && node packages/odoo-data/bench/odoo-data.bench.mjs [S|L|<factor>]
// Peak RSS is measured per phase in a child process of its own.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BundleWriter, ENTRY, openBundle } from '@sam-backup/bundle';
import { createFixture, dropFixture } from '@sam-backup/fixtures';
import { exportOdooData, restoreOdooData } from '../dist/index.js';

const ADMIN = process.env.SAM_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:55432/postgres';
const self = fileURLToPath(import.meta.url);
const peak = () => Math.round(process.resourceUsage().maxRSS / 1024);

/** Milliseconds spent in each progress phase (export: export, filestore; restore: load … verify). */
function phaseClock(start) {
  const spent = {};
  let phase = 'prepare';
  let since = start;
  return {
    onProgress(p) {
      if (p.phase === phase) return;
      const now = performance.now();
      spent[phase] = (spent[phase] ?? 0) + Math.round(now - since);
      phase = p.phase;
      since = now;
    },
    done() {
      spent[phase] = (spent[phase] ?? 0) + Math.round(performance.now() - since);
      return spent;
    },
  };
}

if (process.argv[2] === '--export') {
  const [, , , url, filestore, dir] = process.argv;
  const writer = await BundleWriter.create({ dir, name: 'bench.zip' });
  const t = performance.now();
  const phases = phaseClock(t);
  const r = await exportOdooData({
    databaseUrl: url,
    filestoreDir: filestore,
    bundle: writer,
    onProgress: phases.onProgress,
  });
  const ms = performance.now() - t;
  await writer.finalize({ tool: { name: 'bench', version: '0' }, components: { odoo: r.component } });
  console.log(
    JSON.stringify({
      rows: r.rows,
      ms: Math.round(ms),
      phases: phases.done(),
      files: r.files,
      peakRssMB: peak(),
      tables: r.modelList.tables.map((x) => x.table),
    }),
  );
  process.exit(0);
}
if (process.argv[2] === '--restore') {
  const [, , , url, filestore, bundlePath] = process.argv;
  const reader = await openBundle(bundlePath);
  const t = performance.now();
  const phases = phaseClock(t);
  const r = await restoreOdooData({
    databaseUrl: url,
    filestoreDir: filestore,
    bundle: reader,
    onProgress: phases.onProgress,
  });
  const ms = performance.now() - t;
  console.log(
    JSON.stringify({
      rows: r.tables.reduce((a, x) => a + x.rowsInBundle, 0),
      ms: Math.round(ms),
      phases: phases.done(),
      peakRssMB: peak(),
    }),
  );
  process.exit(0);
}

const scaleArg = process.argv[2] ?? 'S';
const scale = scaleArg === 'S' || scaleArg === 'L' ? scaleArg : Number(scaleArg);
const root = await mkdtemp(join(tmpdir(), 'odoo-data-bench-'));
const database = `odoodata_bench_${process.pid}`;
const filestore = join(root, 'filestore');
const child = (...args) => {
  const r = spawnSync(process.execPath, [self, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').at(-1));
};
try {
  const fx = await createFixture({ adminUrl: ADMIN, database, filestoreDir: filestore, scale, seed: 1 });
  const exp = child('--export', fx.databaseUrl, filestore, root);
  const bundlePath = join(root, 'bench.zip');
  const reader = await openBundle(bundlePath);
  const workbookBytes = reader.entry(ENTRY.workbook).size;
  await reader.close();
  const res = child('--restore', fx.databaseUrl, filestore, bundlePath);
  // Reference: pg_dump of the same tables (data only, COPY format), and psql loading it back.
  const dumpFile = join(root, 'ref.sql');
  const tArgs = exp.tables.flatMap((t) => ['-t', t]);
  let t = performance.now();
  const d = spawnSync('pg_dump', ['--data-only', ...tArgs, '-f', dumpFile, fx.databaseUrl]);
  const dumpMs = performance.now() - t;
  t = performance.now();
  const p = spawnSync('psql', [
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
    dumpFile,
    fx.databaseUrl,
  ]);
  const psqlMs = performance.now() - t;
  console.log(
    JSON.stringify({
      scale: scaleArg,
      rows: exp.rows,
      export: {
        ms: exp.ms,
        rowsPerSec: Math.round(exp.rows / (exp.ms / 1000)),
        phases: exp.phases,
        files: exp.files,
        peakRssMB: exp.peakRssMB,
      },
      restore: {
        ms: res.ms,
        rowsPerSec: Math.round(res.rows / (res.ms / 1000)),
        phases: res.phases,
        peakRssMB: res.peakRssMB,
      },
      workbookBytes,
      bundleBytes: (await stat(bundlePath)).size,
      pgDump: { ms: Math.round(dumpMs), ok: d.status === 0, exportRatio: +(exp.ms / dumpMs).toFixed(2) },
      psql: { ms: Math.round(psqlMs), ok: p.status === 0, restoreRatio: +(res.ms / psqlMs).toFixed(2) },
    }),
  );
} finally {
  await dropFixture({ adminUrl: ADMIN, database, filestoreDir: filestore }).catch(() => undefined);
  await rm(root, { recursive: true, force: true });
}
