// Benchmark behind two choices of packages/bundle (not run by the tests):
//  1. writer and verify throughput on a ≈200 MB bundle written by the product itself;
//  2. yauzl vs unzipper as the zip reader (bundle-format.md §6): opening by the central directory,
//     reading one entry at the end of the bundle, and reading every entry.
// Run: pnpm --filter @sam-backup/bundle build && node packages/bundle/bench/reader-choice.bench.mjs
// Uses a temporary folder, removed at the end. Prints one JSON object per measurement.
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import unzipper from 'unzipper';
import yauzl from 'yauzl';
import { BundleWriter, ENTRY, openBundle, verifyBundle } from '../dist/index.js';

const MB = 1e6;
const report = (o) => console.log(JSON.stringify(o));
const seconds = (ms) => +(ms / 1000).toFixed(2);

function* sqlDump(bytes) {
  let i = 0;
  for (let done = 0; done < bytes; ) {
    const lines = [];
    for (let k = 0; k < 2000; k++, i++) {
      lines.push(
        `INSERT INTO ag_catalog.v VALUES (${i}, '{"name": "node ${i}", "w": ${(i * 0.37) % 1}}');\n`,
      );
    }
    const b = Buffer.from(lines.join(''));
    done += b.length;
    yield b;
  }
}

function* noise(bytes, seed) {
  let x = seed >>> 0 || 1;
  for (let done = 0; done < bytes; done += 1 << 16) {
    const b = Buffer.allocUnsafe(Math.min(1 << 16, bytes - done));
    for (let j = 0; j + 4 <= b.length; j += 4) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      b.writeUInt32LE(x, j);
    }
    yield b;
  }
}

async function drain(stream) {
  let n = 0;
  for await (const c of stream) n += c.length;
  return n;
}

const yauzlOpen = (path) =>
  new Promise((resolve, reject) =>
    yauzl.open(path, { lazyEntries: true, autoClose: false }, (e, z) => (e ? reject(e) : resolve(z))),
  );

async function yauzlEntries(zip) {
  const all = [];
  await new Promise((resolve, reject) => {
    zip.on('entry', (e) => {
      all.push(e);
      zip.readEntry();
    });
    zip.on('end', resolve);
    zip.on('error', reject);
    zip.readEntry();
  });
  return all;
}

const yauzlStream = (zip, entry) =>
  new Promise((resolve, reject) => zip.openReadStream(entry, (e, s) => (e ? reject(e) : resolve(s))));

async function time(fn) {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

const dir = await mkdtemp(join(tmpdir(), 'sam-backup-bench-reader-'));
try {
  // 1. The product's writer: 100 MB of SQL text (deflate level 1) + 100 × 1 MiB of noise (stored),
  //    + 2,000 small files (deflate), i.e. a bundle of ≈ 200 MB content. The content is generated
  //    before the clock starts so that the figure is the writer's, and fed as streams.
  const sql = [...sqlDump(100 * MB)];
  const mib = Buffer.concat([...noise(1 << 20, 1)]);
  const small = Buffer.concat([...noise(4000, 7)]);
  const phase = {};
  const written = await time(async () => {
    const w = await BundleWriter.create({ dir, name: 'bench.zip' });
    let t = performance.now();
    await w.addEntry(ENTRY.graphDump, Readable.from(sql));
    phase.deflateMBps = Math.round(
      sql.reduce((n, b) => n + b.length, 0) / MB / ((performance.now() - t) / 1000),
    );
    t = performance.now();
    for (let i = 0; i < 100; i++) {
      await w.addEntry(`databases/chroma_data/seg/${i}.bin`, Readable.from([mib]), { compression: 'store' });
    }
    phase.storeMBps = Math.round((100 * mib.length) / MB / ((performance.now() - t) / 1000));
    t = performance.now();
    for (let i = 0; i < 2000; i++) {
      const name = `odoo_data/filestore/${(i % 256).toString(16).padStart(2, '0')}/f${i}`;
      await w.addEntry(name, Readable.from([small.subarray(i % 2000, (i % 2000) + 2000)]));
    }
    phase.smallEntriesPerS = Math.round(2000 / ((performance.now() - t) / 1000));
    return w.finalize({ tool: { name: 'sam-backup', version: 'bench' } });
  });
  const bundle = written.value;
  const content = bundle.entries.reduce((n, e) => n + e.size, 0);
  report({
    bench: 'writer',
    contentMB: +(content / MB).toFixed(1),
    bundleMB: +(bundle.size / MB).toFixed(1),
    entries: bundle.entries.length + 1,
    s: seconds(written.ms),
    MBps: Math.round(content / MB / (written.ms / 1000)),
    ...phase,
  });

  // 2. verifyBundle: structure + size, CRC-32 and SHA-256 of every entry.
  const verified = await time(() => verifyBundle(bundle.path));
  if (!verified.value.ok) throw new Error(JSON.stringify(verified.value.problems));
  report({
    bench: 'verifyBundle',
    s: seconds(verified.ms),
    MBps: Math.round(content / MB / (verified.ms / 1000)),
    peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
  });

  // 3. The readers. The last stored 1 MiB entry is the "one entry without reading the rest" case.
  const last = 'databases/chroma_data/seg/99.bin';
  const product = await time(async () => {
    const reader = await openBundle(bundle.path);
    const n = await drain(await reader.openEntry(last));
    await reader.close();
    return n;
  });
  report({ bench: 'openBundle + openEntry(last), checked', ms: Math.round(product.ms) });
  const y = await time(async () => {
    const zip = await yauzlOpen(bundle.path);
    const entries = await yauzlEntries(zip);
    zip.close();
    return entries.length;
  });
  const yOne = await time(async () => {
    const zip = await yauzlOpen(bundle.path);
    const entries = await yauzlEntries(zip);
    const n = await drain(
      await yauzlStream(
        zip,
        entries.find((e) => e.fileName === last),
      ),
    );
    zip.close();
    return n;
  });
  const yAll = await time(async () => {
    const zip = await yauzlOpen(bundle.path);
    let n = 0;
    for (const e of await yauzlEntries(zip)) n += await drain(await yauzlStream(zip, e));
    zip.close();
    return n;
  });
  report({
    bench: 'yauzl 3.4.0',
    centralDirectoryMs: Math.round(y.ms),
    lastEntryMs: Math.round(yOne.ms),
    allEntriesS: seconds(yAll.ms),
    allEntriesMBps: Math.round(yAll.value / MB / (yAll.ms / 1000)),
  });

  const u = await time(async () => (await unzipper.Open.file(bundle.path)).files.length);
  const uOne = await time(async () => {
    const d = await unzipper.Open.file(bundle.path);
    return drain(d.files.find((f) => f.path === last).stream());
  });
  const uAll = await time(async () => {
    const d = await unzipper.Open.file(bundle.path);
    let n = 0;
    for (const f of d.files) n += await drain(f.stream());
    return n;
  });
  // unzipper.Parse reads local headers front to back: reaching the last entry means reading the file.
  const uParseOne = await time(async () => {
    let n = 0;
    const parse = createReadStream(bundle.path).pipe(unzipper.Parse({ forceStream: true }));
    for await (const entry of parse) {
      if (entry.path === last) n = await drain(entry);
      else entry.autodrain();
    }
    return n;
  });
  report({
    bench: 'unzipper 0.12.5',
    centralDirectoryMs: Math.round(u.ms),
    lastEntryMs: Math.round(uOne.ms),
    allEntriesS: seconds(uAll.ms),
    allEntriesMBps: Math.round(uAll.value / MB / (uAll.ms / 1000)),
    parseLastEntryMs: Math.round(uParseOne.ms),
  });
  if (
    product.value !== 1 << 20 ||
    yOne.value !== 1 << 20 ||
    uOne.value !== 1 << 20 ||
    uParseOne.value !== 1 << 20
  ) {
    throw new Error('a reader returned the wrong size');
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
