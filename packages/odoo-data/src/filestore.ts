/**
 * Filestore side of a restore. Files are staged beside the live ones under temporary names and
 * moved in just before the database COMMIT. A journal (written before the first file is staged)
 * lists every temporary and every final name this restore adds; a marker row written inside the
 * restore's database transaction (ir_config_parameter `sam_backup.odoo_restore_id`) tells recovery
 * whether that transaction committed. Recovery runs at the start of every restore: committed →
 * only leftover temporary files are removed; not committed → the temporary files and the files
 * this restore moved in are removed. A file that existed before is never deleted.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { OdooDataError } from './errors.js';

export const JOURNAL_NAME = '.sam-backup-restore.journal';
export const MARKER_KEY = 'sam_backup.odoo_restore_id';

export interface StagedFile {
  /** `<xx>/<sha1>` relative to the filestore. */
  name: string;
  temp: string;
  final: string;
}

export interface Journal {
  restoreId: string;
  files: StagedFile[];
}

export function newRestoreId(): string {
  return `${new Date().toISOString()}-${randomBytes(6).toString('hex')}`;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function removeIfPresent(path: string): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

export async function writeJournal(dir: string, journal: Journal): Promise<void> {
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `${JOURNAL_NAME}.tmp`);
  await writeFile(tmp, JSON.stringify(journal));
  await rename(tmp, join(dir, JOURNAL_NAME));
}

export async function removeJournal(dir: string): Promise<void> {
  await removeIfPresent(join(dir, JOURNAL_NAME));
}

/** Undo what an interrupted restore left in the filestore. Returns the files removed. */
export async function recoverFilestore(dir: string, db: pg.ClientBase): Promise<string[]> {
  let journal: Journal;
  try {
    journal = JSON.parse(await readFile(join(dir, JOURNAL_NAME), 'utf8')) as Journal;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new OdooDataError(
      'FILESTORE_FAILED',
      `the restore journal ${join(dir, JOURNAL_NAME)} cannot be read (${(err as Error).message}); inspect it and remove it by hand`,
      { cause: err },
    );
  }
  const r = await db.query<{ value: string }>('SELECT value FROM ir_config_parameter WHERE key = $1', [
    MARKER_KEY,
  ]);
  const committed = r.rows[0]?.value === journal.restoreId;
  const removed: string[] = [];
  for (const f of journal.files) {
    if (await removeIfPresent(f.temp)) removed.push(f.temp);
    if (!committed && (await removeIfPresent(f.final))) removed.push(f.final);
  }
  await removeJournal(dir);
  return removed;
}

/** Writes one file under its temporary name, checking its SHA-1 against its name. */
export async function stageFile(source: NodeJS.ReadableStream, file: StagedFile): Promise<void> {
  await mkdir(dirname(file.temp), { recursive: true });
  const sha1 = createHash('sha1');
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      sha1.update(chunk);
      cb(null, chunk);
    },
  });
  await pipeline(source, tap, createWriteStream(file.temp, { flags: 'wx' }));
  const got = sha1.digest('hex');
  if (!file.name.endsWith(got)) {
    throw new OdooDataError(
      'FILESTORE_FAILED',
      `filestore file ${file.name} in the bundle has SHA-1 ${got}, not its name: the bundle is damaged; use another bundle`,
    );
  }
}

export function planFile(dir: string, name: string, restoreId: string): StagedFile {
  const final = join(dir, name);
  const tag = restoreId.replace(/[^0-9A-Za-z]/g, '');
  return { name, final, temp: join(dirname(final), `.${name.slice(3)}.sam-restore-${tag}`) };
}

/** Moves staged files in; a final name that appeared meanwhile is kept and the temporary removed. */
export async function moveIn(files: readonly StagedFile[]): Promise<StagedFile[]> {
  const moved: StagedFile[] = [];
  for (const f of files) {
    if (await exists(f.final)) await removeIfPresent(f.temp);
    else {
      await rename(f.temp, f.final);
      moved.push(f);
    }
  }
  return moved;
}

export async function fileExists(path: string): Promise<boolean> {
  return exists(path);
}

/** Removes the staged and moved files of a restore that did not commit. */
export async function undoFiles(staged: readonly StagedFile[], moved: readonly StagedFile[]): Promise<void> {
  for (const f of staged) await removeIfPresent(f.temp);
  for (const f of moved) await removeIfPresent(f.final);
}
