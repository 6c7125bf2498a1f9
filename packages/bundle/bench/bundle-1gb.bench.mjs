// Benchmark: write a ≈1 GiB bundle, then verify it in a separate process and report time and
// peak RSS (issue 2: "time and peak memory of verify on a 1 GB bundle").
// Run: pnpm bench bundle   (needs `pnpm build`; uses a temporary folder, removed at the end).
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { BundleWriter, ENTRY, verifyBundle } from '../dist/index.js';

if (process.argv[2] === '--verify') {
  const started = performance.now();
  const report = await verifyBundle(process.argv[3]);
  const ms = performance.now() - started;
  console.log(
    JSON.stringify({
      ok: report.ok,
      entries: report.entriesChecked,
      bytes: report.bytesChecked,
      ms: Math.round(ms),
      peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    }),
  );
  process.exit(0);
}

const GiB = 1024 ** 3;
const dir = await mkdtemp(join(tmpdir(), 'sam-backup-bench-'));
try {
  // A SQL-like text dump (compressible) of ~512 MiB and ~512 MiB of incompressible files.
  function* sqlDump(bytes) {
    let i = 0;
    let done = 0;
    while (done < bytes) {
      const lines = [];
      for (let k = 0; k < 2000; k++, i++) {
        lines.push(
          `INSERT INTO ag_catalog.vertex VALUES (${i}, '{"name": "node ${i}", "weight": ${(i * 0.37) % 1}}');\n`,
        );
      }
      const b = Buffer.from(lines.join(''));
      done += b.length;
      yield b;
    }
  }
  function* randomBytes(bytes, seed) {
    let x = seed;
    for (let done = 0; done < bytes; done += 1 << 20) {
      const b = Buffer.allocUnsafe(1 << 20);
      for (let j = 0; j < b.length; j += 4) {
        x = (Math.imul(x, 1103515245) + 12345) >>> 0;
        b.writeUInt32LE(x, j);
      }
      yield b;
    }
  }
  const t0 = performance.now();
  const writer = await BundleWriter.create({ dir, name: 'bench.zip' });
  await writer.addEntry(ENTRY.graphDump, Readable.from(sqlDump(GiB / 2)));
  for (let i = 0; i < 256; i++) {
    await writer.addEntry(
      `odoo_data/filestore/${(i % 256).toString(16).padStart(2, '0')}/file${i}`,
      Readable.from(randomBytes(2 << 20, i + 1)),
      {
        compression: 'store',
      },
    );
  }
  const done = await writer.finalize({ tool: { name: 'sam-backup', version: 'bench' } });
  const writeMs = performance.now() - t0;
  const content = done.entries.reduce((n, e) => n + e.size, 0);
  const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--verify', done.path], {
    encoding: 'utf8',
  });
  if (child.status !== 0) throw new Error(child.stderr);
  const verify = JSON.parse(child.stdout);
  console.log(
    JSON.stringify({
      bench: 'bundle-1gb',
      contentMB: Math.round(content / 1e6),
      bundleMB: Math.round(done.size / 1e6),
      entries: done.entries.length,
      writeS: +(writeMs / 1000).toFixed(1),
      writeMBps: Math.round(content / 1e6 / (writeMs / 1000)),
      writerPeakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
      verifyS: +(verify.ms / 1000).toFixed(1),
      verifyMBps: Math.round(content / 1e6 / (verify.ms / 1000)),
      verifyPeakRssMB: verify.peakRssMB,
      verifyOk: verify.ok,
    }),
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
