/**
 * `sam-backup export / restore / recover` with the vectors through the command line, in-process:
 * a Chroma persist directory from SAM_CHROMA_PATH, --components taken from the settings (export)
 * and from the bundle (restore), and `recover` with nothing to recover.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createVectorFixture } from '@sam-backup/fixtures';
import { ChromaHttp, startChromaServer } from '@sam-backup/vectors';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { samWith } from '../support/cli.js';

let root = '';
let chroma = '';

/** The test's own view: every collection's count and the ids it holds. */
async function view(): Promise<Record<string, string>> {
  const server = await startChromaServer(chroma);
  try {
    const http = new ChromaHttp(server.url);
    const out: Record<string, string> = {};
    for (const c of await http.listCollections()) {
      const ids: string[] = [];
      for (let offset = 0; ; offset += 500) {
        const p = await http.get(c.id, { limit: 500, offset });
        ids.push(...p.ids.map((id, i) => `${id}:${p.documents?.[i] ?? ''}`));
        if (p.ids.length < 500) break;
      }
      out[c.name] = `${ids.length}:${ids.sort().join(',').length}`;
    }
    return out;
  } finally {
    await server.stop();
  }
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'sam-cli-vectors-'));
  chroma = join(root, 'chroma_data');
  await createVectorFixture({ path: chroma, scale: 0.1 });
}, 120_000);

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

it('exports the Chroma directory, restores it after damage, undo puts the damaged state back, recover finds nothing to do', async () => {
  const env = { SAM_CHROMA_PATH: chroma, SAM_BACKUP_DIR: join(root, 'backups') };
  const original = await view();
  const exp = await samWith({ env }, 'export', '--json');
  expect(exp.code, exp.stderr).toBe(0);
  const report = JSON.parse(exp.stdout);
  expect(report.components).toEqual(['vectors']);
  expect(report.vectors).toMatchObject({ mode: 'directory', collections: 3, records: 240 });

  const server = await startChromaServer(chroma);
  try {
    await new ChromaHttp(server.url).deleteCollection('sam_conversations');
  } finally {
    await server.stop();
  }
  const damaged = await view();
  expect(damaged).not.toEqual(original);

  const dry = await samWith({ env }, 'restore', report.bundle, '--dry-run');
  expect(dry.code, dry.stderr).toBe(0);
  expect(dry.stdout).toMatch(/sam_conversations: 30 records in the bundle, no collection now/);
  // The disk the restore needs, per place: the safety backup in the backup folder, the vectors' staging.
  expect(dry.stdout).toMatch(
    /Disk needed \(estimates that err high\):\n {2}backup folder .*backups\/safety: about .* \(the safety backup of vectors\); .* free/,
  );
  expect(dry.stdout).toMatch(/\n {2}vector folder .*: about .* \(vectors\); .* free/);
  const res = await samWith({ env }, 'restore', report.bundle, '--yes', '--json');
  expect(res.code, res.stderr).toBe(0);
  const restored = JSON.parse(res.stdout);
  expect(restored).toMatchObject({ switched: true, vectors: { verified: true } });
  expect(restored.safetyBundle).toMatch(/backups\/safety\/sam_ai_complete_backup_.*\.zip$/);
  expect(await view()).toEqual(original);

  // undo puts back what the restore replaced, from the safety backup it took first.
  const undo = await samWith({ env }, 'undo', '--yes', '--json');
  expect(undo.code, undo.stderr).toBe(0);
  expect(await view()).toEqual(damaged);

  const rec = await samWith({ env }, 'recover');
  expect(rec.code, rec.stderr).toBe(0);
  expect(rec.stdout).toMatch(/no interrupted restore/);
}, 180_000);
