/**
 * A restore whose process is killed with SIGKILL (no handler runs, no ROLLBACK is sent) at its
 * most delicate moments — the child holds still inside the chosen phase until the signal lands — leaves the target unchanged by the test's own fingerprints; the next
 * recovery removes every file that restore had staged or moved in. The restore runs in a child
 * process from the built package (`pnpm test` builds first).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ENTRY, type FinalizedBundle, openBundle } from '@sam-backup/bundle';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ModelList, recoverOdooFilestore } from '../src/index.js';
import {
  exportBundle,
  type Fx,
  filestoreListing,
  makeFixture,
  query,
  rowsWhere,
  tableFingerprint,
} from './helpers.js';

const here = new URL('.', import.meta.url).pathname;
const dist = (pkg: string) => join(here, '..', '..', pkg, 'dist', 'index.js');

let fx: Fx;
let dir: string;
let bundle: FinalizedBundle;
let list: ModelList;
let script: string;

async function snapshot(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const t of list.tables) {
    out[t.table] = await tableFingerprint(
      fx.url,
      t.table,
      rowsWhere(t.filter),
      t.kind === 'extension' ? t.columns.map((c) => c.name) : undefined,
    );
  }
  return out;
}

/** Runs the restore in a child and kills it with SIGKILL when it reports `phase`. */
function restoreKilledAt(phase: string): Promise<{ killed: boolean; phases: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, fx.url, fx.filestore, bundle.path, phase], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const phases: string[] = [];
    let buf = '';
    let err = '';
    let killed = false;
    child.stdout.on('data', (c: Buffer) => {
      buf += c.toString();
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        const p = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        phases.push(p);
        if (p === phase && !killed) {
          killed = child.kill('SIGKILL');
        }
        nl = buf.indexOf('\n');
      }
    });
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve({ killed, phases });
      else
        reject(
          new Error(`the restore ended (code ${code}) before phase ${phase}: ${phases.join(', ')}\n${err}`),
        );
    });
  });
}

/** Waits until no session of the killed process is left on the server. */
async function backendsGone(): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const rows = await query(
      fx.url,
      `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'sigkill-restore'`,
    );
    if (rows.length === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the killed restore session is still on the server after 10 s');
}

beforeAll(async () => {
  for (const pkg of ['odoo-data', 'bundle']) {
    if (!existsSync(dist(pkg))) throw new Error(`${dist(pkg)} is missing: run \`pnpm build\` first`);
  }
  fx = await makeFixture('kill', { scale: 0.2 });
  dir = await mkdtemp(join(tmpdir(), 'odoodata-kill-'));
  ({ bundle } = await exportBundle(fx, dir));
  const reader = await openBundle(bundle.path);
  list = (await reader.readJson(ENTRY.modelList)) as ModelList;
  await reader.close();
  script = join(dir, 'restore-child.mjs');
  await writeFile(
    script,
    `import { openBundle } from ${JSON.stringify(dist('bundle'))};
import { restoreOdooData } from ${JSON.stringify(dist('odoo-data'))};
const [url, filestore, path, stopAt] = process.argv.slice(2);
const u = new URL(url); u.searchParams.set('application_name', 'sigkill-restore');
const reader = await openBundle(path);
let last = '';
await restoreOdooData({ databaseUrl: u.toString(), filestoreDir: filestore, bundle: reader, onProgress: (p) => {
  if (p.phase !== last) { last = p.phase; process.stdout.write(p.phase + '\\n'); }
  // Hold the restore right there (stdout to a pipe is synchronous on Linux) until the kill.
  if (p.phase === stopAt) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
} });
process.stdout.write('done\\n');
`,
  );
}, 300_000);

afterAll(async () => {
  await fx?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('a restore killed with SIGKILL', () => {
  // filestore: files being staged under temporary names; commit: files moved in, COMMIT not sent.
  for (const phase of ['load', 'write', 'verify', 'filestore', 'commit']) {
    it(`during ${phase}: the target is unchanged and recovery leaves no file of it`, async () => {
      // Damage the target so that the restore has rows to write and files to put back.
      await query(fx.url, `UPDATE ai_conversation SET name = 'damaged ${phase}' WHERE id % 3 = 0`);
      await query(
        fx.url,
        `DELETE FROM ai_message WHERE id IN (SELECT id FROM ai_message ORDER BY id LIMIT 25)`,
      );
      const lost = (await filestoreListing(fx.filestore)).slice(0, 3).map((l) => l.split(':')[0] as string);
      for (const f of lost) await unlink(join(fx.filestore, f));
      const before = await snapshot();
      const files = await filestoreListing(fx.filestore);

      const { killed, phases } = await restoreKilledAt(phase);
      expect(killed, phases.join(', ')).toBe(true);
      await backendsGone();
      expect(await snapshot()).toEqual(before);

      const removed = await recoverOdooFilestore({ databaseUrl: fx.url, filestoreDir: fx.filestore });
      expect(Array.isArray(removed)).toBe(true);
      expect(await filestoreListing(fx.filestore)).toEqual(files);
    }, 240_000);
  }
});
