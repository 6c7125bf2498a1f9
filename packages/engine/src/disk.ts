/**
 * The disk a restore needs (bundle-format.md §7.4.3): per place where its bytes land, an estimate
 * from the bundle's entries (their uncompressed sizes in metadata.json) and, for the backup
 * folder, the safety export's estimate (preflight.ts) — measured against the free space of each
 * filesystem, places on one filesystem summed. A restore refuses before it writes anything when a
 * filesystem clearly lacks the space.
 */
import { stat, statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type BundleReader, ENTRY } from '@sam-backup/bundle';
import type { VectorSettings } from '@sam-backup/vectors';
import { openWorkbook } from '@sam-backup/workbook';
import type { Component } from './export.js';
import { existingAncestor, formatSize, PreflightError, redact } from './preflight.js';

export const DISK_PLACES = [
  'backup folder',
  'vector folder',
  'filestore',
  'graph database server',
  'odoo database server',
] as const;
export type DiskPlaceName = (typeof DISK_PLACES)[number];

/** One place a restore writes to, with what it needs there and what is free. */
export interface RestoreDiskPlace {
  place: DiskPlaceName;
  /** The folder the bytes land in (folders only). */
  path?: string;
  /** The database server, as its URL with the password redacted (database servers only). */
  server?: string;
  /**
   * An estimate that errs high: an upper bound for the folders, an allowance for the database
   * servers (bundle-format.md §7.4.3 says how each place's is made).
   */
  needBytes: number;
  /** Free on the place's filesystem; null when it cannot be measured from here (a database server). */
  freeBytes: number | null;
  /** The components whose bytes land here (for the backup folder: those the safety export holds). */
  components: string[];
  /** The other places on the same filesystem (same st_dev): their needs add up against freeBytes. */
  sharesFilesystemWith: DiskPlaceName[];
  /** Whether the free space covers every place on this filesystem; null when not measured. */
  fits: boolean | null;
}

/** A new, empty database on PostgreSQL 15 takes ≈ 7.5 MiB: allowed twice. */
const EMPTY_DATABASE = 16 << 20;

/** The sum of the sizes of the bundle's entries named `name` or under the prefix `name` (ending with /). */
function entryBytes(bundle: BundleReader, ...names: string[]): number {
  let total = 0;
  for (const e of bundle.entries()) {
    if (names.some((n) => (n.endsWith('/') ? e.name.startsWith(n) : e.name === n))) total += e.size;
  }
  return total;
}

/** The bytes of the Odoo data as text: the workbook's parts uncompressed, the overflow, the model list. */
async function odooTextBytes(bundle: BundleReader): Promise<number> {
  const rest = entryBytes(bundle, ENTRY.modelList, ENTRY.overflowDir);
  if (!bundle.has(ENTRY.workbook)) return rest;
  // The workbook is itself a zip, deflated inside the bundle's stored entry: its parts' sizes are
  // in its central directory.
  try {
    const workbook = await openWorkbook(await bundle.entryRandomAccess(ENTRY.workbook));
    try {
      return rest + workbook.uncompressedBytes;
    } finally {
      await workbook.close();
    }
  } catch {
    // Not readable in place (a deflated entry): XML deflated at level 1 rarely shrinks past 1/10.
    return rest + 10 * bundle.entry(ENTRY.workbook).size;
  }
}

export interface DiskNeedsInput {
  bundle: BundleReader;
  wants: ReadonlySet<Component>;
  odoo?: { databaseUrl: string; filestoreDir: string } | undefined;
  graph?: { databaseUrl: string } | undefined;
  vectors?: { settings: VectorSettings } | undefined;
  /** The safety export about to be made: its folder, components, and estimate by component. */
  safety?: { dir: string; components: string[]; estimate: Record<string, number> } | null;
}

/** Where a restore's bytes land and how many, with the free space of each filesystem. */
export async function restoreDiskNeeds(input: DiskNeedsInput): Promise<RestoreDiskPlace[]> {
  const { bundle, wants } = input;
  const places: Array<Omit<RestoreDiskPlace, 'freeBytes' | 'sharesFilesystemWith' | 'fits'>> = [];
  if (input.safety && input.safety.components.length > 0) {
    places.push({
      place: 'backup folder',
      path: input.safety.dir,
      needBytes: Object.values(input.safety.estimate).reduce((a, b) => a + b, 0),
      components: input.safety.components,
    });
  }
  const v = input.vectors?.settings;
  if (wants.has('vectors') && v?.mode === 'directory') {
    // Unpacked to `<path>__restore_<UTC>` beside the live folder, then renamed in.
    places.push({
      place: 'vector folder',
      path: dirname(v.path),
      needBytes: entryBytes(bundle, ENTRY.chromaDir),
      components: ['vectors'],
    });
  }
  if (wants.has('odoo') && input.odoo) {
    // The attachment files are staged under temporary names in the filestore folder itself.
    places.push({
      place: 'filestore',
      path: input.odoo.filestoreDir,
      needBytes: entryBytes(bundle, ENTRY.filestoreDir),
      components: ['odoo'],
    });
    // The rows are staged in temporary tables, then written as new row versions: twice the text.
    places.push({
      place: 'odoo database server',
      server: redact(input.odoo.databaseUrl),
      needBytes: 2 * (await odooTextBytes(bundle)),
      components: ['odoo'],
    });
  }
  if (wants.has('graph') && input.graph) {
    // A new database beside the live one, loaded from the plain dump (rows and index definitions).
    places.push({
      place: 'graph database server',
      server: redact(input.graph.databaseUrl),
      needBytes: EMPTY_DATABASE + 2 * entryBytes(bundle, ENTRY.graphDump),
      components: ['graph'],
    });
  }
  const measured = new Map<number, { free: number; places: DiskPlaceName[]; need: number }>();
  const devOf = new Map<DiskPlaceName, number>();
  for (const p of places) {
    if (!p.path) continue;
    const at = existingAncestor(p.path);
    const [st, fs] = await Promise.all([stat(at), statfs(at)]);
    const fsys = measured.get(st.dev) ?? { free: fs.bavail * fs.bsize, places: [], need: 0 };
    fsys.places.push(p.place);
    fsys.need += p.needBytes;
    measured.set(st.dev, fsys);
    devOf.set(p.place, st.dev);
  }
  return places.map((p) => {
    const dev = devOf.get(p.place);
    const fsys = dev === undefined ? undefined : measured.get(dev);
    return {
      ...p,
      freeBytes: fsys ? fsys.free : null,
      sharesFilesystemWith: fsys ? fsys.places.filter((n) => n !== p.place) : [],
      fits: fsys ? fsys.need <= fsys.free : null,
    };
  });
}

const FIX: Record<DiskPlaceName, string> = {
  'backup folder': 'free some space there',
  'vector folder': 'free some space beside the Chroma folder',
  filestore: "free some space on the filestore's disk",
  'graph database server': "free some space on the graph database server's disk",
  'odoo database server': "free some space on the Odoo database server's disk",
};
const NO_SAFETY =
  'or restore with --no-safety-backup (then `sam-backup undo` cannot put the current state back)';

/** Refuses (PreflightError, check 'disk') when a measured filesystem has less free than its places need. */
export function checkDisk(places: readonly RestoreDiskPlace[]): void {
  for (const p of places) {
    if (p.fits !== false) continue;
    // The first place of a filesystem that does not fit speaks for all the places on it.
    const group = places.filter((q) => q.place === p.place || p.sharesFilesystemWith.includes(q.place));
    const need = group.reduce((a, q) => a + q.needBytes, 0);
    const where = (q: RestoreDiskPlace) =>
      `the ${q.place} ${q.path}${q.place === 'backup folder' ? ` (the safety backup of ${q.components.join(', ')})` : ''}`;
    const what =
      group.length === 1
        ? `in ${where(p)}`
        : `on the one filesystem of ${group.map((q) => `${where(q)} ≈ ${formatSize(q.needBytes)}`).join(', ')}`;
    const safety = group.some((q) => q.place === 'backup folder');
    const fix = `${group.length === 1 ? FIX[p.place] : 'free some space on that filesystem'}${safety ? `, ${NO_SAFETY}` : ''}`;
    throw new PreflightError(
      'disk',
      `the restore needs about ${formatSize(need)} ${what}, and only ${formatSize(p.freeBytes as number)} is free there: ${fix}`,
    );
  }
}
