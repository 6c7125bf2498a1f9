import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BundleWriter, ENTRY } from '@sam-backup/bundle';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sam } from '../support/cli.js';

/** `sam-backup verify` and `inspect` on valid, corrupted and malicious bundles (issue 2 §4). */
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
let dir: string;
let good: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sam-backup-cli-'));
  const writer = await BundleWriter.create({ dir, name: 'good.zip', now: new Date('2025-01-16T14:30:22Z') });
  await writer.addEntry(ENTRY.modelList, JSON.stringify({ models: ['ai.conversation', 'ai.message'] }));
  await writer.addEntry('odoo_data/filestore/ab/ab12', Buffer.alloc(300_000, 9), { compression: 'store' });
  await writer.addEntry(ENTRY.exportLog, 'done\n');
  good = (
    await writer.finalize({
      tool: { name: 'sam-backup', version: '0.1.0' },
      source: { odoo: { version: '18.0', database: 'sam' }, modules: { ai_brain: '18.0.3.12.0' } },
      components: { odoo: { entries: ['odoo_data/'], counts: { models: 2, rows: 51_231 } } },
      options: {
        secretsIncluded: false,
        secretsOmitted: [{ table: 'ai_service_config', column: 'api_key', rows: 3 }],
      },
    })
  ).path;
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('sam-backup verify', () => {
  test('a sound bundle: exit 0, a one-line OK, JSON report with --json', async () => {
    const text = await sam('verify', good, '--quiet');
    expect(text).toMatchObject({ code: 0 });
    expect(text.stdout).toMatch(/^OK .*good\.zip: 3 entries/);
    const json = await sam('verify', good, '--json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, problems: [], entriesChecked: 3 });
    // progress goes to stderr as JSON lines, never to stdout
    for (const line of json.stderr.trim().split('\n').filter(Boolean))
      expect(JSON.parse(line)).toMatchObject({ type: 'progress' });
  });

  test('a corrupted bundle: exit 3, naming the bad entry and why', async () => {
    const bytes = await readFile(good);
    const at = bytes.indexOf(Buffer.alloc(64, 9)) + 1000; // inside the stored filestore file
    bytes[at] = (bytes[at] ?? 0) ^ 0x01;
    const bad = join(dir, 'bad.zip');
    await writeFile(bad, bytes);
    const res = await sam('verify', bad, '--quiet');
    expect(res.code).toBe(3);
    expect(res.stdout).toContain('REFUSED');
    expect(res.stdout).toMatch(
      /\[CHECKSUM_MISMATCH\] entry odoo_data\/filestore\/ab\/ab12: .*CRC-32|SHA-256/,
    );
    const json = JSON.parse((await sam('verify', bad, '--json', '--quiet')).stdout);
    expect(json.problems).toEqual([
      expect.objectContaining({ code: 'CHECKSUM_MISMATCH', entry: 'odoo_data/filestore/ab/ab12' }),
    ]);
  });

  test('a truncated bundle and a non-zip: exit 3', async () => {
    const bytes = await readFile(good);
    const cut = join(dir, 'cut.zip');
    await writeFile(cut, bytes.subarray(0, bytes.length - 100));
    expect((await sam('verify', cut, '-q')).code).toBe(3);
    const text = join(dir, 'text.zip');
    await writeFile(text, 'hello');
    const res = await sam('verify', text, '-q');
    expect(res.code).toBe(3);
    expect(res.stdout).toContain('NOT_A_BUNDLE');
  });

  test('usage errors: exit 2', async () => {
    expect((await sam('verify')).code).toBe(2);
    const missing = await sam('verify', join(dir, 'nope.zip'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no such file');
    expect((await sam('no-such-command')).code).toBe(2);
    expect((await sam('--help')).code).toBe(0);
  });
});

describe('sam-backup inspect', () => {
  test('shows versions, components, counts, sizes and options without extracting', async () => {
    const res = await sam('inspect', good);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('sam-backup v1');
    expect(res.stdout).toContain('Odoo 18.0 (database sam)');
    expect(res.stdout).toContain('ai_brain 18.0.3.12.0');
    expect(res.stdout).toMatch(/odoo\s+2 models, 51,231 rows/);
    expect(res.stdout).toContain('left out: ai_service_config.api_key (3 rows)');
    const json = JSON.parse((await sam('inspect', good, '--json')).stdout);
    expect(json).toMatchObject({ formatVersion: 1, entryCount: 3, areas: { odoo_data: { entries: 2 } } });
  });

  test('a malicious bundle is refused with exit 3', async () => {
    const bytes = await readFile(good);
    // Rename an entry in the central directory to an absolute path of the same length.
    const name = Buffer.from('odoo_data/filestore/ab/ab12');
    const cdAt = bytes.lastIndexOf(name);
    Buffer.from('/doo_data/filestore/ab/ab12').copy(bytes, cdAt);
    const evil = join(dir, 'evil.zip');
    await writeFile(evil, bytes);
    const res = await sam('inspect', evil);
    expect(res.code).toBe(3);
    expect(res.stderr).toContain('[UNSAFE_NAME]');
  });
});

describe('the sam-backup binary', () => {
  const bin = join(root, 'packages/cli/dist/main.js');
  test.skipIf(!existsSync(bin))('exits with the documented codes (needs `pnpm build`)', () => {
    expect(spawnSync(process.execPath, [bin, 'verify', good, '-q']).status).toBe(0);
    expect(spawnSync(process.execPath, [bin, 'verify', join(dir, 'text.zip'), '-q']).status).toBe(3);
    expect(spawnSync(process.execPath, [bin, 'verify']).status).toBe(2);
  });
});
