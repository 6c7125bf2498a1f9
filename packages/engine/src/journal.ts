/**
 * The switch journal: what makes a restore across three stores all or nothing even when the
 * process dies (SIGKILL, power loss) in the middle of switching (bundle-format.md §6.4).
 *
 * Written (and fsynced) after every store is prepared and verified and before the first one is
 * switched; it names each store's prepared state. The commit point is the Odoo transaction's
 * COMMIT, proven afterwards by the marker it wrote (`odooRestoreCommitted`); a restore without
 * the Odoo component commits when the journal records `switched`. Recovery, at the start of the
 * next restore or by `sam-backup recover`:
 * - committed → the installation is fully new: the journal is removed;
 * - not committed → every store that was switched is switched back (the graph database and the
 *   vector store renamed back), every prepared one dropped: the installation is fully old.
 * The journal file doubles as a lock: a second restore refuses while it exists.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { recoverGraphSwap } from '@sam-backup/graph';
import { odooRestoreCommitted, recoverOdooFilestore } from '@sam-backup/odoo-data';
import { recoverVectorSwap, type VectorJournal, type VectorSettings } from '@sam-backup/vectors';

export const JOURNAL_FILE = '.sam-backup-switch.journal.json';

export interface SwitchJournal {
  version: 1;
  bundle: string;
  startedAt: string;
  pid: number;
  /** The Odoo restore's marker; null when the Odoo data is not restored. */
  odoo: { restoreId: string } | null;
  graph: { temp: string; liveExisted: boolean; previous?: string | null } | null;
  vectors: VectorJournal | null;
  /** Set once every store has switched (the commit point when there is no Odoo component). */
  switched: boolean;
}

async function writeAtomic(path: string, value: unknown): Promise<void> {
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  const fh = await open(tmp, 'wx');
  try {
    await fh.writeFile(`${JSON.stringify(value, null, 1)}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

export async function readJournal(dir: string): Promise<SwitchJournal | null> {
  try {
    return JSON.parse(await readFile(join(dir, JOURNAL_FILE), 'utf8')) as SwitchJournal;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(
      `the switch journal ${join(dir, JOURNAL_FILE)} cannot be read (${(err as Error).message}): a restore was interrupted; inspect the file, put the stores back by hand, then remove it`,
      { cause: err },
    );
  }
}

export class Journal {
  private constructor(
    readonly path: string,
    private state: SwitchJournal,
  ) {}

  /** Creates the journal; refuses when one exists (another restore is switching, or one died). */
  static async begin(
    dir: string,
    state: Omit<SwitchJournal, 'version' | 'switched' | 'pid' | 'startedAt'>,
  ): Promise<Journal> {
    const path = join(dir, JOURNAL_FILE);
    const full: SwitchJournal = {
      version: 1,
      startedAt: new Date().toISOString(),
      pid: process.pid,
      switched: false,
      ...state,
    };
    // 'wx' on the final name is the lock; the content is then replaced atomically.
    const fh = await open(path, 'wx').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'EEXIST') {
        throw new Error(
          `another restore is switching (or one died while switching): ${path} exists; run \`sam-backup recover\``,
        );
      }
      throw err;
    });
    await fh.close();
    const j = new Journal(path, full);
    await writeAtomic(path, full);
    return j;
  }

  async update(patch: Partial<SwitchJournal>): Promise<void> {
    this.state = { ...this.state, ...patch };
    await writeAtomic(this.path, this.state);
  }

  async end(): Promise<void> {
    await unlink(this.path).catch(() => undefined);
  }
}

export interface RecoveryTargets {
  odooDatabaseUrl?: string;
  odooFilestore?: string;
  graphDatabaseUrl?: string;
  vectors?: VectorSettings;
}

export interface RecoveryReport {
  found: boolean;
  outcome: 'none' | 'kept-new' | 'rolled-back';
  actions: string[];
  bundle?: string;
}

/** Finishes what a restore that died while switching left: fully new or fully old (see above). */
export async function recoverSwitch(dir: string, targets: RecoveryTargets): Promise<RecoveryReport> {
  const j = await readJournal(dir);
  if (!j) return { found: false, outcome: 'none', actions: [] };
  let committed: boolean;
  if (j.odoo) {
    if (!targets.odooDatabaseUrl) {
      throw new Error(
        'a restore that included the Odoo data died while switching: recovery needs the Odoo database (SAM_ODOO_DB_URL)',
      );
    }
    committed = await odooRestoreCommitted(targets.odooDatabaseUrl, j.odoo.restoreId);
  } else {
    committed = j.switched;
  }
  const actions: string[] = [];
  if (!committed) {
    if (j.vectors) actions.push(...(await recoverVectorSwap(j.vectors, targets.vectors)));
    if (j.graph) {
      if (!targets.graphDatabaseUrl) {
        throw new Error(
          'a restore that included the graph died while switching: recovery needs the graph database (SAM_GRAPH_DB_URL)',
        );
      }
      const r = await recoverGraphSwap(targets.graphDatabaseUrl, j.graph);
      actions.push(
        r === 'undone' ? 'graph database switched back' : `graph database ${j.graph.temp} dropped`,
      );
    }
  }
  if (j.odoo && targets.odooDatabaseUrl && targets.odooFilestore) {
    const removed = await recoverOdooFilestore({
      databaseUrl: targets.odooDatabaseUrl,
      filestoreDir: targets.odooFilestore,
    });
    if (removed.length > 0)
      actions.push(`${removed.length} filestore files of the interrupted restore removed`);
  }
  await unlink(join(dir, JOURNAL_FILE));
  return { found: true, outcome: committed ? 'kept-new' : 'rolled-back', actions, bundle: j.bundle };
}

export const LOCK_FILE = '.sam-backup-restore.lock';

/**
 * One restore at a time per backup folder: a lock file holding the restoring process's pid,
 * created with O_EXCL; a lock whose process is gone (killed) is taken over. Returns the release.
 */
export async function lockRestore(dir: string): Promise<() => Promise<void>> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(path, 'wx');
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      return () => unlink(path).catch(() => undefined);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
      if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
        throw new Error(
          `another restore (process ${pid}) is running with the backup folder ${dir}: wait for it to finish (or, if it is gone, remove ${path})`,
        );
      }
      await unlink(path).catch(() => undefined);
    }
  }
  throw new Error(`could not take the restore lock ${path}: remove it if no restore is running`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
