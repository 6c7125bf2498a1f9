import { createHash } from 'node:crypto';
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { BundleError, BundleWriter, ENTRY, inspectBundle, openBundle, verifyBundle } from '../src/index.js';
import { sha256 } from './support/raw-zip.js';
import { tempDir } from './support/temp.js';

const tool = { name: 'sam-backup', version: '0.1.0-test' };

/** Deterministic pseudo-random bytes, generated chunk by chunk (never held whole). */
function* pseudoRandom(total: number, seed: number): Generator<Buffer> {
  let x = seed >>> 0 || 1;
  let left = total;
  while (left > 0) {
    const n = Math.min(left, 64 * 1024);
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      b[i] = x & 0xff;
    }
    left -= n;
    yield b;
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('bundle round trip (bundle-format.md §5, §6)', () => {
  test('entries written from streams, iterables, buffers and strings come back byte-identical', async () => {
    const dir = await tempDir('rt');
    const big = Buffer.concat([...pseudoRandom(5 * 1024 * 1024 + 17, 7)]);
    const writer = await BundleWriter.create({ dir, now: new Date('2025-01-16T14:30:22Z') });
    expect(writer.path).toBe(join(dir, 'sam_ai_complete_backup_20250116_143022.zip'));
    const rec1 = await writer.addEntry(ENTRY.graphDump, Readable.from(pseudoRandom(big.length, 7)));
    const rec2 = await writer.addEntry(ENTRY.workbook, big.subarray(0, 1_000_000), { compression: 'store' });
    const rec3 = await writer.addEntry(ENTRY.exportLog, 'export started\nexport done ✓\n');
    const rec4 = await writer.addEntry('odoo_data/overflow/empty.txt', '');
    const rec5 = await writer.addEntry(
      'odoo_data/filestore/ab/abcdef',
      (async function* () {
        yield new Uint8Array([1, 2, 3]);
        yield new Uint8Array([4]);
      })(),
    );
    expect(rec1).toEqual({
      name: ENTRY.graphDump,
      size: big.length,
      sha256: sha256(big),
      compression: 'deflate',
    });
    expect(rec2.compression).toBe('store');
    expect(rec4.size).toBe(0);
    const done = await writer.finalize({
      tool,
      components: { odoo: { entries: ['odoo_data/'], counts: { files: 1 } } },
    });

    // The file, its .sha256 beside it, and no temporary file left.
    const bytes = await readFile(done.path);
    expect(done.size).toBe(bytes.length);
    expect(done.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(await readFile(`${done.path}.sha256`, 'utf8')).toBe(
      `${done.sha256}  sam_ai_complete_backup_20250116_143022.zip\n`,
    );
    expect((await readdir(dir)).sort()).toEqual([
      'sam_ai_complete_backup_20250116_143022.zip',
      'sam_ai_complete_backup_20250116_143022.zip.sha256',
    ]);

    const reader = await openBundle(done.path);
    expect(reader.entries().map((e) => e.name)).toEqual([rec1, rec2, rec3, rec4, rec5].map((r) => r.name));
    // Buffer#equals, not toEqual: a deep compare of MiB-sized buffers takes tens of seconds.
    expect((await readAll(await reader.openEntry(ENTRY.graphDump))).equals(big)).toBe(true);
    expect((await readAll(await reader.openEntry(ENTRY.workbook))).equals(big.subarray(0, 1_000_000))).toBe(
      true,
    );
    expect((await readAll(await reader.openEntry(ENTRY.exportLog))).toString()).toBe(
      'export started\nexport done ✓\n',
    );
    expect((await readAll(await reader.openEntry('odoo_data/overflow/empty.txt'))).length).toBe(0);
    expect([...(await readAll(await reader.openEntry('odoo_data/filestore/ab/abcdef')))]).toEqual([
      1, 2, 3, 4,
    ]);
    expect(reader.metadata.components.odoo?.counts).toEqual({ files: 1 });

    // A stored entry can be read in place, by byte range, without extracting it.
    const ra = await reader.entryRandomAccess(ENTRY.workbook);
    expect(ra.size).toBe(1_000_000);
    expect(
      (await readAll(ra.createReadStream(123_456, 223_456))).equals(big.subarray(123_456, 223_456)),
    ).toBe(true);
    await ra.close();
    await expect(reader.entryRandomAccess(ENTRY.graphDump)).rejects.toMatchObject({
      code: 'COMPRESSION_MISMATCH',
    });
    await reader.close();

    const report = await verifyBundle(done.path);
    expect(report).toMatchObject({
      ok: true,
      problems: [],
      entriesChecked: 5,
      bytesChecked: big.length + 1_000_000 + 31 + 4,
    });
    const inspected = await inspectBundle(done.path);
    expect(inspected).toMatchObject({ formatVersion: 1, entryCount: 5, fileSize: bytes.length });
    expect(inspected.areas.odoo_data).toEqual({ entries: 3, bytes: 1_000_004 });
  });

  test('more than 65,535 entries (zip64) round-trip and verify', async () => {
    const dir = await tempDir('zip64');
    const writer = await BundleWriter.create({ dir, name: 'many.zip' });
    const n = 65_600;
    // Tiny entries are stored: deflate gains nothing on a few bytes and a zlib stream per entry
    // would double the test's time; the zip64 records are what this test is about.
    for (let i = 0; i < n; i++) {
      await writer.addEntry(`odoo_data/filestore/${(i % 256).toString(16).padStart(2, '0')}/f${i}`, `${i}`, {
        compression: 'store',
      });
    }
    const done = await writer.finalize({ tool });
    // The file really is zip64 (bundle-format.md §1): the classic end record's 16-bit entry count
    // is saturated and the zip64 end record and its locator precede it.
    const tail = Buffer.alloc(98);
    const handle = await open(done.path, 'r');
    await handle.read(tail, 0, tail.length, done.size - tail.length);
    await handle.close();
    expect(tail.readUInt32LE(0)).toBe(0x06064b50);
    expect(tail.readUInt32LE(56)).toBe(0x07064b50);
    expect(tail.readUInt32LE(76)).toBe(0x06054b50);
    expect(tail.readUInt16LE(86)).toBe(0xffff);
    expect(Number(tail.readBigUInt64LE(32))).toBe(n + 1);
    const report = await verifyBundle(done.path);
    expect(report.problems).toEqual([]);
    expect(report.entriesChecked).toBe(n);
    const reader = await openBundle(done.path);
    expect((await readAll(await reader.openEntry('odoo_data/filestore/ff/f65535'))).toString()).toBe('65535');
    await reader.close();
  }, 300_000);

  test('an in-memory source may be reused by the caller as soon as addEntry returns', async () => {
    const dir = await tempDir('reuse');
    const writer = await BundleWriter.create({ dir, name: 'reuse.zip' });
    const scratch = Buffer.alloc(1000);
    const expected = new Map<string, Buffer>();
    for (let i = 0; i < 50; i++) {
      scratch.fill(i);
      const name = `odoo_data/filestore/00/f${i}`;
      await writer.addEntry(name, scratch, { compression: i % 2 === 0 ? 'store' : 'deflate' });
      expected.set(name, Buffer.alloc(1000, i));
    }
    const done = await writer.finalize({ tool });
    expect((await verifyBundle(done.path)).ok).toBe(true);
    const reader = await openBundle(done.path);
    for (const [name, data] of expected) {
      expect((await readAll(await reader.openEntry(name))).equals(data)).toBe(true);
    }
    await reader.close();
  });

  test('a source that fails mid-stream leaves no bundle and no temporary file', async () => {
    const dir = await tempDir('fail');
    const writer = await BundleWriter.create({ dir, name: 'broken.zip' });
    await writer.addEntry('logs/export_log.txt', 'ok');
    const failing = new Readable({
      read() {
        this.push(Buffer.alloc(100_000, 1));
        this.destroy(new Error('disk read error'));
      },
    });
    await expect(writer.addEntry(ENTRY.graphDump, failing)).rejects.toBeInstanceOf(BundleError);
    await writer.abort();
    expect(await readdir(dir)).toEqual([]);
  });

  test('abort removes the temporary file; names are checked; nothing is overwritten', async () => {
    const dir = await tempDir('abort');
    const writer = await BundleWriter.create({ dir, name: 'a.zip' });
    await writer.addEntry('logs/x', 'x');
    await expect(writer.addEntry('../evil', 'x')).rejects.toMatchObject({ code: 'UNSAFE_NAME' });
    await expect(writer.addEntry('LOGS/X', 'x')).rejects.toMatchObject({ code: 'DUPLICATE_ENTRY' });
    await writer.abort();
    expect(await readdir(dir)).toEqual([]);

    const w2 = await BundleWriter.create({ dir, name: 'b.zip' });
    await w2.finalize({ tool });
    await expect(BundleWriter.create({ dir, name: 'b.zip' })).rejects.toMatchObject({ code: 'WRITE_FAILED' });
    expect((await stat(join(dir, 'b.zip'))).size).toBeGreaterThan(0);
  });
});
