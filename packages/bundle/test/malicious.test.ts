import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import {
  type BundleErrorCode,
  BundleRefusedError,
  inspectBundle,
  openBundle,
  verifyBundle,
} from '../src/index.js';
import { buildZip, manifestFor, type RawEntry } from './support/raw-zip.js';
import { tempDir } from './support/temp.js';

/** bundle-format.md §6.1–6.3: each class of hostile zip is refused with its typed code, naming the entry. */
const good = { name: 'logs/export_log.txt', data: Buffer.from('ok\n') };

type Listed = { name: string; data: Buffer; compression?: 'store' | 'deflate' };

function bundleOf(
  entries: RawEntry[],
  listed: Listed[] = entries.map((e) => ({ name: String(e.name), data: e.data })),
  patch = {},
) {
  return buildZip([...entries, { name: 'metadata.json', data: manifestFor(listed, patch), method: 8 }]);
}

let dir: string;
let counter = 0;
beforeAll(async () => {
  dir = await tempDir('malicious');
});

async function expectRefused(bytes: Buffer, code: BundleErrorCode, entry?: string) {
  const path = join(dir, `m${counter++}.zip`);
  await writeFile(path, bytes);
  const err = await openBundle(path).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BundleRefusedError);
  const problems = (err as BundleRefusedError).problems;
  expect(problems.map((p) => p.code)).toContain(code);
  if (entry !== undefined) expect(problems.find((p) => p.code === code)?.entry).toBe(entry);
  // verify reports the same, inspect refuses too.
  const report = await verifyBundle(path);
  expect(report.ok).toBe(false);
  expect(report.problems.map((p) => p.code)).toContain(code);
  await expect(inspectBundle(path)).rejects.toBeInstanceOf(BundleRefusedError);
}

describe('hostile zips are refused before any use', () => {
  test('a well-formed hand-made bundle is accepted (the builder itself is sound)', async () => {
    const path = join(dir, 'sound.zip');
    await writeFile(path, bundleOf([good]));
    expect((await verifyBundle(path)).ok).toBe(true);
  });

  test.each([
    ['../x', 'a ".." path segment'],
    ['odoo_data/../../etc/passwd', 'a ".." path segment'],
    ['/abs/path', 'an absolute path'],
    ['C:\\windows\\x', 'a drive letter / backslash'],
    ['a\\b', 'a backslash'],
    ['odoo_data//x', 'an empty segment'],
    ['./x', 'a "." segment'],
  ])('unsafe name %s (%s) → UNSAFE_NAME', async (name) => {
    await expectRefused(bundleOf([good, { name, data: Buffer.from('evil') }]), 'UNSAFE_NAME');
  });

  test('a name that is not UTF-8 → UNSAFE_NAME', async () => {
    await expectRefused(
      bundleOf([good, { name: Buffer.from([0x61, 0xff, 0x62]), data: Buffer.from('x') }], [good]),
      'UNSAFE_NAME',
    );
  });

  test('a symbolic link → LINK_ENTRY', async () => {
    const link = { name: 'odoo_data/filestore/link', data: Buffer.from('/etc/passwd'), unixMode: 0o120777 };
    await expectRefused(bundleOf([good, link]), 'LINK_ENTRY', 'odoo_data/filestore/link');
  });

  test('a directory entry → DIRECTORY_ENTRY', async () => {
    await expectRefused(
      bundleOf([good, { name: 'odoo_data/', data: Buffer.alloc(0), unixMode: 0o040755 }], [good]),
      'DIRECTORY_ENTRY',
    );
  });

  test('duplicate names, exact and by case → DUPLICATE_ENTRY', async () => {
    await expectRefused(
      bundleOf([good, { ...good, data: Buffer.from('other') }], [good]),
      'DUPLICATE_ENTRY',
      good.name,
    );
    await expectRefused(
      bundleOf([good, { name: 'LOGS/export_log.txt', data: Buffer.from('x') }], [good]),
      'DUPLICATE_ENTRY',
      'LOGS/export_log.txt',
    );
  });

  test('an entry not listed in metadata.json → UNLISTED_ENTRY', async () => {
    const extra = { name: 'odoo_data/extra.bin', data: Buffer.from('smuggled') };
    await expectRefused(bundleOf([good, extra], [good]), 'UNLISTED_ENTRY', 'odoo_data/extra.bin');
  });

  test('a listed entry that is missing → MISSING_ENTRY', async () => {
    const ghost = { name: ENTRY_WORKBOOK, data: Buffer.from('gone') };
    await expectRefused(bundleOf([good], [good, ghost]), 'MISSING_ENTRY', ENTRY_WORKBOOK);
  });

  test('a central size beyond what the manifest declares → SIZE_MISMATCH', async () => {
    const e = {
      name: 'odoo_data/model_list.json',
      data: Buffer.from('{}'),
      centralUncompressedSize: 5000,
      method: 8 as const,
    };
    await expectRefused(
      bundleOf([good, e], [good, { name: e.name, data: e.data, compression: 'deflate' }]),
      'SIZE_MISMATCH',
      e.name,
    );
    // A stored entry whose sizes disagree is refused by the zip layer itself.
    const stored = {
      name: 'odoo_data/model_list.json',
      data: Buffer.from('{}'),
      centralUncompressedSize: 5000,
    };
    await expectRefused(
      bundleOf([good, stored], [good, { name: stored.name, data: stored.data }]),
      'SIZE_MISMATCH',
    );
  });

  test('a local header lying about the name → HEADER_MISMATCH when read', async () => {
    const e = {
      name: 'odoo_data/model_list.json',
      data: Buffer.from('{"a":1}'),
      localName: 'odoo_data/model_list.jsoX',
    };
    const path = join(dir, 'local-lie.zip');
    await writeFile(path, bundleOf([good, e]));
    const report = await verifyBundle(path);
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([expect.objectContaining({ code: 'HEADER_MISMATCH', entry: e.name })]);
  });

  test('a local header lying about its sizes or CRC-32 → HEADER_MISMATCH when read', async () => {
    const e = {
      name: 'odoo_data/model_list.json',
      data: Buffer.from('{"a":1}'),
      localSizes: { compressed: 1 << 20, uncompressed: 1 << 20 },
    };
    const path = join(dir, 'local-size-lie.zip');
    await writeFile(path, bundleOf([good, e]));
    const report = await verifyBundle(path);
    expect(report.problems).toEqual([expect.objectContaining({ code: 'HEADER_MISMATCH', entry: e.name })]);
  });

  test('data that inflates beyond the size declared everywhere → SIZE_MISMATCH while streaming, never served', async () => {
    // Directory, local header and manifest all say 10 bytes; the deflate stream holds 100,000.
    const real = Buffer.alloc(100_000, 0x41);
    const e = {
      name: ENTRY_GRAPH,
      data: real,
      method: 8 as const,
      centralUncompressedSize: 10,
      localSizes: { uncompressed: 10 },
    };
    const path = join(dir, 'expands.zip');
    await writeFile(
      path,
      bundleOf([good, e], [good, { name: e.name, data: real.subarray(0, 10), compression: 'deflate' }]),
    );
    const reader = await openBundle(path);
    let served = 0;
    const consumed = (async () => {
      for await (const chunk of await reader.openEntry(e.name)) served += (chunk as Buffer).length;
    })();
    await expect(consumed).rejects.toMatchObject({ code: 'SIZE_MISMATCH', entry: e.name });
    expect(served).toBeLessThanOrEqual(10);
    await reader.close();
    const report = await verifyBundle(path);
    expect(report.problems).toEqual([expect.objectContaining({ code: 'SIZE_MISMATCH', entry: e.name })]);
  });

  test('content that differs from the manifest → CHECKSUM_MISMATCH when read, naming the entry', async () => {
    const e = { name: 'odoo_data/model_list.json', data: Buffer.from('{"tampered":true}') };
    const path = join(dir, 'tampered.zip');
    await writeFile(
      path,
      bundleOf([good, e], [good, { name: e.name, data: Buffer.from('{"original":true}') }]),
    );
    const report = await verifyBundle(path);
    // sizes differ too, so either check may fire first; both name the entry
    expect(report.problems.map((p) => p.entry)).toContain(e.name);
    const sameSize = Buffer.from('{"tampered":1}');
    const path2 = join(dir, 'tampered2.zip');
    await writeFile(
      path2,
      bundleOf(
        [good, { name: e.name, data: sameSize }],
        [good, { name: e.name, data: Buffer.from('{"original":2}') }],
      ),
    );
    const report2 = await verifyBundle(path2);
    expect(report2.problems).toEqual([expect.objectContaining({ code: 'CHECKSUM_MISMATCH', entry: e.name })]);
    expect(report2.problems[0]?.message).toMatch(/SHA-256/);
  });

  test('a compression ratio that marks a zip bomb → ZIP_BOMB', async () => {
    const bomb = { name: ENTRY_GRAPH, data: Buffer.alloc(64 << 20), method: 8 as const };
    await expectRefused(
      bundleOf([good, bomb], [good, { name: bomb.name, data: bomb.data, compression: 'deflate' }]),
      'ZIP_BOMB',
      ENTRY_GRAPH,
    );
  });

  test('an encrypted entry → ENCRYPTED_ENTRY', async () => {
    await expectRefused(
      bundleOf([good, { name: 'logs/secret', data: Buffer.from('x'), flags: 1, method: 8 }]),
      'ENCRYPTED_ENTRY',
      'logs/secret',
    );
  });

  test('an unknown format version → UNKNOWN_FORMAT_VERSION', async () => {
    await expectRefused(
      bundleOf([good], [good], { formatVersion: 2 }),
      'UNKNOWN_FORMAT_VERSION',
      'metadata.json',
    );
  });

  test('metadata.json that is not JSON, not ours, invalid, or missing → BAD_METADATA / MISSING_ENTRY', async () => {
    await expectRefused(
      buildZip([good, { name: 'metadata.json', data: Buffer.from('{not json') }]),
      'BAD_METADATA',
    );
    await expectRefused(
      buildZip([good, { name: 'metadata.json', data: Buffer.from('{"format":"other"}') }]),
      'BAD_METADATA',
    );
    await expectRefused(bundleOf([good], [good], { createdAt: 'yesterday' }), 'BAD_METADATA');
    await expectRefused(buildZip([good]), 'MISSING_ENTRY', 'metadata.json');
  });

  test('a file that is not a zip, and an empty file → NOT_A_BUNDLE', async () => {
    await expectRefused(Buffer.from('just some text, not a zip at all'), 'NOT_A_BUNDLE');
    await expectRefused(Buffer.alloc(0), 'NOT_A_BUNDLE');
  });
});

const ENTRY_WORKBOOK = 'odoo_data/ai_brain_backup.xlsx';
const ENTRY_GRAPH = 'databases/postgres_graph_dump.sql';
