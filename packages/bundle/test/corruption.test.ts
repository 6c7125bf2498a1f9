import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, test } from 'vitest';
import { BundleWriter, ENTRY, type Metadata, openBundle, verifyBundle } from '../src/index.js';
import { tempDir } from './support/temp.js';

/**
 * bundle-format.md §6.4: a damaged bundle is reported, or the damage is provably harmless —
 * never is wrong content served as valid.
 */
const tool = { name: 'sam-backup', version: '0.1.0-test' };

interface Original {
  bytes: Buffer;
  entries: Map<string, Buffer>;
  metadata: Metadata;
}

async function writeSample(
  dir: string,
  name: string,
  entries: Array<[string, Buffer, 'store' | 'deflate']>,
): Promise<Original> {
  const writer = await BundleWriter.create({ dir, name, now: new Date('2025-01-16T14:30:22Z') });
  for (const [n, data, compression] of entries) await writer.addEntry(n, data, { compression });
  const done = await writer.finalize({
    tool,
    components: { odoo: { entries: ['odoo_data/'], counts: { rows: 3 } } },
    source: { odoo: { version: '18.0' } },
  });
  return {
    bytes: await readFile(done.path),
    entries: new Map(entries.map(([n, d]) => [n, d])),
    metadata: done.metadata,
  };
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Either verify reports the damage, or everything read back equals the original. */
async function checkDamaged(path: string, original: Original): Promise<'reported' | 'harmless'> {
  const report = await verifyBundle(path);
  if (!report.ok) {
    expect(report.problems.length).toBeGreaterThan(0);
    return 'reported';
  }
  const reader = await openBundle(path);
  try {
    expect(reader.metadata).toEqual(original.metadata);
    expect(reader.entries().length).toBe(original.entries.size);
    for (const [name, data] of original.entries) {
      expect((await readAll(await reader.openEntry(name))).equals(data)).toBe(true);
    }
  } finally {
    await reader.close();
  }
  return 'harmless';
}

describe('corruption (bundle-format.md §6.4)', () => {
  let dir: string;
  let small: Original;

  beforeAll(async () => {
    dir = await tempDir('corrupt');
    small = await writeSample(dir, 'small.zip', [
      [ENTRY.modelList, Buffer.from('{"models":["ai.conversation"]}'), 'deflate'],
      [ENTRY.workbook, Buffer.from('PK-pretend-xlsx-bytes'), 'store'],
      ['odoo_data/filestore/ab/ab01', Buffer.from([0, 1, 2, 3, 255]), 'store'],
    ]);
  });

  test('every single-byte change anywhere in a small bundle is reported or harmless', async () => {
    const path = join(dir, 'mutant.zip');
    const outcomes = { reported: 0, harmless: 0 };
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 255 }), async (xor) => {
        // Exhaustive over offsets; the xor value comes from fast-check.
        for (let offset = 0; offset < small.bytes.length; offset++) {
          const mutant = Buffer.from(small.bytes);
          mutant[offset] = (mutant[offset] ?? 0) ^ xor;
          await writeFile(path, mutant);
          outcomes[await checkDamaged(path, small)]++;
        }
      }),
      { numRuns: 2, seed: 20250116 },
    );
    // Most bytes matter: headers, names, checksums and content are all covered.
    expect(outcomes.reported).toBeGreaterThan(outcomes.harmless);
  }, 300_000);

  test('a truncated bundle is reported at every length', async () => {
    const path = join(dir, 'truncated.zip');
    for (let length = 0; length < small.bytes.length; length++) {
      await writeFile(path, small.bytes.subarray(0, length));
      const report = await verifyBundle(path);
      expect(report.ok, `truncated to ${length} bytes`).toBe(false);
    }
  }, 300_000);

  test('random single-byte changes in a larger bundle are reported or harmless', async () => {
    const big = await writeSample(dir, 'big.zip', [
      [ENTRY.graphDump, Buffer.from('INSERT INTO t VALUES (1);\n'.repeat(20_000)), 'deflate'],
      [ENTRY.workbook, Buffer.alloc(200_000, 0x5a), 'store'],
      [ENTRY.exportLog, Buffer.from('done\n'), 'deflate'],
    ]);
    const path = join(dir, 'big-mutant.zip');
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: big.bytes.length - 1 }),
        fc.integer({ min: 1, max: 255 }),
        async (offset, xor) => {
          const mutant = Buffer.from(big.bytes);
          mutant[offset] = (mutant[offset] ?? 0) ^ xor;
          await writeFile(path, mutant);
          await checkDamaged(path, big);
        },
      ),
      { numRuns: 150, seed: 42 },
    );
  }, 300_000);
});
