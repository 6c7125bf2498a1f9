/**
 * The vector component, both modes behind one export and one prepared restore (the same shape as
 * the graph's: prepare beside the live store and verify → swap → finish, or discard / undo).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type BundleReader, type BundleWriter, type Component, ENTRY } from '@sam-backup/bundle';
import {
  addSnapshotToBundle,
  compareDirectoryFingerprints,
  DIRECTORY_ALGORITHM,
  type DirectoryFingerprint,
  fingerprintUnpacked,
  liveDirectory,
  previousDirectories,
  snapshotDirectory,
  staleDirectories,
  stampName,
  unpackDirectory,
} from './directory.js';
import { VectorError } from './errors.js';
import { type Hook, runHook } from './hooks.js';
import { type ChromaCollectionInfo, ChromaHttp } from './http.js';
import {
  assertServerRecord,
  COLLECTIONS_ENTRY,
  compareVersions,
  exportServer,
  loadCollection,
  type ServerCollection,
  type ServerFingerprint,
  verifyCollection,
} from './server.js';

export type VectorSettings =
  | {
      mode: 'directory';
      /** The live persist directory (SAM_CHROMA_PATH). */
      path: string;
      /** Pause / resume the application's writers around a snapshot (optional). */
      pauseHook?: Hook;
      resumeHook?: Hook;
      /** Stop / start whatever serves the directory around a swap (optional). */
      stopHook?: Hook;
      startHook?: Hook;
      sqlitePath?: string;
    }
  | {
      mode: 'server';
      /** The Chroma server (SAM_CHROMA_URL). */
      url: string;
      token?: string;
    };

export interface VectorProgress {
  phase: string;
  done: number;
  total: number;
  unit: 'items' | 'bytes';
  item?: string;
}

export interface VectorDetails {
  mode: 'directory' | 'server';
  /** The server's version (server mode); null in directory mode, where the files do not say it. */
  chromaVersion: string | null;
  /** How the snapshot was taken, in words. */
  cut: string;
  fingerprint: DirectoryFingerprint | ServerFingerprint;
}

export interface VectorExportResult {
  component: Component;
  details: VectorDetails;
  /** Lines for the export log. */
  log: string[];
}

function hashOf(f: unknown): string {
  return `sha256:${createHash('sha256').update(JSON.stringify(f)).digest('hex')}`;
}

function countsOf(f: DirectoryFingerprint | ServerFingerprint): { collections: number; records: number } {
  return {
    collections: f.collections.length,
    records: (f.collections as Array<{ records: number }>).reduce((n, c) => n + c.records, 0),
  };
}

export interface VectorExportHandle {
  /** When the snapshot was taken (directory mode) or will be read (server mode: at write()). */
  takenAt: string;
  /** Writes the snapshot into the bundle. */
  write(bundle: BundleWriter): Promise<VectorExportResult>;
  /** Removes the snapshot's work folder (always call it). */
  cleanup(): Promise<void>;
}

/**
 * Takes the snapshot now and writes it into the bundle later (directory mode), so that the
 * engine takes it right beside the databases' snapshots; server mode reads at write().
 */
export async function beginVectorExport(opts: {
  settings: VectorSettings;
  /** Where a directory snapshot is assembled (default: beside the persist directory). */
  workDir?: string;
  onProgress?: (p: VectorProgress) => void;
}): Promise<VectorExportHandle> {
  const s = opts.settings;
  if (s.mode === 'directory') {
    const hooks = s.pauseHook && s.resumeHook ? { pause: s.pauseHook, resume: s.resumeHook } : undefined;
    if ((s.pauseHook || s.resumeHook) && !hooks) {
      throw new VectorError(
        'BAD_OPTIONS',
        'a pause hook needs a resume hook and the other way round: set both or neither',
      );
    }
    const takenAt = new Date().toISOString();
    const snap = await snapshotDirectory({
      path: s.path,
      workDir: opts.workDir ?? dirname(s.path),
      ...(hooks ? { quiesce: hooks } : {}),
      ...(s.sqlitePath ? { sqlitePath: s.sqlitePath } : {}),
      onProgress: (p) =>
        opts.onProgress?.({
          phase: p.phase,
          done: p.bytesDone,
          total: p.bytesTotal,
          unit: 'bytes',
          ...(p.item ? { item: p.item } : {}),
        }),
    });
    return {
      takenAt,
      async write(bundle) {
        await addSnapshotToBundle(snap, bundle, (p) =>
          opts.onProgress?.({ phase: p.phase, done: p.bytesDone, total: p.bytesTotal, unit: 'bytes' }),
        );
        const cut = hooks
          ? 'writers paused by the pause hook; SQLite online backup and index folders copied; the copy equals the source'
          : `SQLite online backup after the index folders were copied; no index file changed and every vector segment's max_seq_id stayed the same during the copy (attempt ${snap.attempts})`;
        const details: VectorDetails = {
          mode: 'directory',
          chromaVersion: null,
          cut,
          fingerprint: snap.fingerprint,
        };
        return result(details, [
          `vectors: directory ${s.path}, ${snap.fingerprint.collections.length} collections, ${countsOf(snap.fingerprint).records} records, ${snap.bytes} bytes (sqlite3 ${snap.sqliteVersion}); ${cut}`,
        ]);
      },
      cleanup: () => snap.cleanup(),
    };
  }
  const http = new ChromaHttp(s.url, undefined, undefined, s.token);
  await http.version();
  return {
    takenAt: new Date().toISOString(),
    async write(bundle) {
      const r = await exportServer({
        url: s.url,
        bundle,
        ...(s.token ? { token: s.token } : {}),
        onProgress: (p) =>
          opts.onProgress?.({
            phase: p.phase,
            done: p.done,
            total: p.total,
            unit: 'items',
            ...(p.item ? { item: p.item } : {}),
          }),
      });
      const cut =
        r.changed.length > 0
          ? `collections paged out one after another; these changed while they were read: ${r.changed.join(', ')}`
          : 'collections paged out one after another; no count changed while a collection was read';
      const details: VectorDetails = {
        mode: 'server',
        chromaVersion: r.version,
        cut,
        fingerprint: r.fingerprint,
      };
      return result(details, [
        `vectors: server ${s.url} (Chroma ${r.version}), ${r.fingerprint.collections.length} collections, ${countsOf(r.fingerprint).records} records; ${cut}`,
      ]);
    },
    cleanup: async () => undefined,
  };
}

function result(details: VectorDetails, log: string[]): VectorExportResult {
  return {
    component: {
      entries: [ENTRY.chromaDir],
      counts: countsOf(details.fingerprint),
      contentHash: hashOf(details.fingerprint),
      details,
    },
    details,
    log,
  };
}

/** Snapshot and write in one go. */
export async function exportVectors(opts: {
  settings: VectorSettings;
  bundle: BundleWriter;
  workDir?: string;
  onProgress?: (p: VectorProgress) => void;
}): Promise<VectorExportResult> {
  const h = await beginVectorExport(opts);
  try {
    return await h.write(opts.bundle);
  } finally {
    await h.cleanup();
  }
}

export interface VectorRestoreReport {
  dryRun: boolean;
  mode: 'directory' | 'server';
  target: string;
  collections: Array<{ name: string; recordsInBundle: number; recordsNow: number | null }>;
  /** Where the replaced data went: the folder, or the collections' new names (null: nothing replaced). */
  previous: string | string[] | null;
  dropped: string[];
  verified: boolean;
  durationMs: number;
}

/** What a crash recovery needs to know about a prepared restore (recoverVectorSwap). */
export type VectorJournal =
  | { mode: 'directory'; path: string; staging: string; before: string; liveExisted: boolean }
  | { mode: 'server'; url: string; suffix: string; bundleNames: string[]; liveNames: string[] };

export interface PreparedVectorRestore {
  report: VectorRestoreReport;
  /** Written to the engine's journal before swap(). */
  journal: VectorJournal | null;
  swap(): Promise<VectorRestoreReport>;
  finish(): Promise<VectorRestoreReport>;
  discard(): Promise<void>;
  undo(): Promise<void>;
}

function readDetails(bundle: BundleReader): VectorDetails {
  const c = bundle.metadata.components.vectors;
  const d = c?.details as Partial<VectorDetails> | undefined;
  if (!c || !d || (d.mode !== 'directory' && d.mode !== 'server') || !d.fingerprint) {
    throw new VectorError('BAD_BUNDLE', 'the bundle has no vectors component (or its details are not §7.3)');
  }
  if (hashOf(d.fingerprint) !== c.contentHash) {
    throw new VectorError(
      'BAD_BUNDLE',
      'the vectors fingerprint in metadata.json does not match its content hash',
    );
  }
  return d as VectorDetails;
}

export async function prepareVectorRestore(opts: {
  settings: VectorSettings;
  bundle: BundleReader;
  dryRun?: boolean;
  now?: Date;
  onProgress?: (p: VectorProgress) => void;
}): Promise<PreparedVectorRestore> {
  const started = performance.now();
  const d = readDetails(opts.bundle);
  const s = opts.settings;
  if (d.mode !== s.mode) {
    throw new VectorError(
      'BAD_OPTIONS',
      d.mode === 'directory'
        ? 'the bundle holds a Chroma persist directory: restore it with SAM_CHROMA_PATH set (directory mode), then point the Chroma server at that directory'
        : 'the bundle holds collections exported from a Chroma server: restore them with SAM_CHROMA_URL set (server mode)',
    );
  }
  const now = opts.now ?? new Date();
  if (s.mode === 'directory')
    return prepareDirectory(s, opts.bundle, d.fingerprint as DirectoryFingerprint, opts, now, started);
  return prepareServer(s, opts.bundle, d, opts, now, started);
}

async function prepareDirectory(
  s: Extract<VectorSettings, { mode: 'directory' }>,
  bundle: BundleReader,
  expected: DirectoryFingerprint,
  opts: { dryRun?: boolean; onProgress?: (p: VectorProgress) => void },
  now: Date,
  started: number,
): Promise<PreparedVectorRestore> {
  if (expected.algorithm !== DIRECTORY_ALGORITHM)
    throw new VectorError('BAD_BUNDLE', `unknown vectors algorithm ${expected.algorithm}`);
  const live = await liveDirectory(s.path, s.sqlitePath);
  if (live) {
    for (const [dir, v] of Object.entries(expected.schema)) {
      const have = live.schema[dir] ?? 0;
      if (have < v) {
        throw new VectorError(
          'VERSION_REFUSED',
          `the Chroma at ${s.path} has schema ${dir} ${have}, older than the bundle's ${v}: upgrade Chroma (open the directory once with the newer version) before restoring`,
        );
      }
    }
  }
  const nowCounts = new Map(live?.collections.map((c) => [c.name, c.records]) ?? []);
  const report = newReport('directory', s.path, expected.collections, nowCounts, opts.dryRun === true);
  const done = () => finished(report, started);
  if (opts.dryRun) {
    return dryRunResult(done());
  }
  await mkdir(dirname(s.path), { recursive: true });
  // A restore killed while preparing leaves its folder behind: it was never live, remove it.
  for (const old of await staleDirectories(s.path, 'restore'))
    await rm(old, { recursive: true, force: true });
  const staging = stampName(s.path, 'restore', now);
  try {
    const hashes = await unpackDirectory(bundle, staging, (p) =>
      opts.onProgress?.({ phase: p.phase, done: p.bytesDone, total: p.bytesTotal, unit: 'bytes' }),
    );
    opts.onProgress?.({ phase: 'vectors verify', done: 0, total: 0, unit: 'items' });
    const got = await fingerprintUnpacked(staging, hashes, s.sqlitePath);
    const diff = compareDirectoryFingerprints(expected, got);
    if (diff.length > 0) {
      throw new VectorError(
        'VERIFY_FAILED',
        `the restored Chroma directory does not match the bundle: ${diff.slice(0, 5).join('; ')}`,
      );
    }
    report.verified = true;
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw err;
  }
  const liveExisted = existsSync(s.path);
  const beforeName = stampName(s.path, 'before', now);
  let before: string | null = null;
  let swapped = false;
  return {
    report: done(),
    journal: { mode: 'directory', path: s.path, staging, before: beforeName, liveExisted },
    async swap() {
      if (s.stopHook) await runHook(s.stopHook, 'stop');
      try {
        if (existsSync(s.path)) {
          before = beforeName;
          await rename(s.path, before);
        }
        await rename(staging, s.path);
        swapped = true;
      } catch (err) {
        if (before && !existsSync(s.path)) await rename(before, s.path).catch(() => undefined);
        if (s.startHook) await runHook(s.startHook, 'start').catch(() => undefined);
        throw new VectorError(
          'SWAP_FAILED',
          `the restored Chroma directory could not be moved to ${s.path}: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
      if (s.startHook) await runHook(s.startHook, 'start');
      report.previous = before;
      return done();
    },
    async finish() {
      for (const old of await previousDirectories(s.path)) {
        if (old === before) continue;
        await rm(old, { recursive: true, force: true });
        report.dropped.push(old);
      }
      return done();
    },
    async discard() {
      if (!swapped) await rm(staging, { recursive: true, force: true });
    },
    async undo() {
      if (!swapped) return;
      if (s.stopHook) await runHook(s.stopHook, 'stop').catch(() => undefined);
      const undone = stampName(s.path, 'undone', new Date());
      await rename(s.path, undone);
      if (before) await rename(before, s.path);
      await rm(undone, { recursive: true, force: true });
      swapped = false;
      report.previous = null;
      if (s.startHook) await runHook(s.startHook, 'start');
    },
  };
}

/** The report of a prepared restore: per collection, what the bundle holds and what is live now. */
function newReport(
  mode: VectorRestoreReport['mode'],
  target: string,
  collections: ReadonlyArray<{ name: string; records: number }>,
  now: ReadonlyMap<string, number>,
  dryRun: boolean,
): VectorRestoreReport {
  return {
    dryRun,
    mode,
    target,
    collections: collections.map((c) => ({
      name: c.name,
      recordsInBundle: c.records,
      recordsNow: now.get(c.name) ?? null,
    })),
    previous: null,
    dropped: [],
    verified: false,
    durationMs: 0,
  };
}

function finished(report: VectorRestoreReport, started: number): VectorRestoreReport {
  report.durationMs = Math.round(performance.now() - started);
  return report;
}

async function refuse(): Promise<never> {
  throw new Error('a dry run prepares nothing to switch');
}

/** What a dry run prepares: its report, and nothing to switch. */
function dryRunResult(report: VectorRestoreReport): PreparedVectorRestore {
  return {
    report,
    journal: null,
    swap: refuse,
    finish: refuse,
    discard: async () => undefined,
    undo: refuse,
  };
}

function stampSuffix(now: Date): string {
  return now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '_');
}

async function prepareServer(
  s: Extract<VectorSettings, { mode: 'server' }>,
  bundle: BundleReader,
  d: VectorDetails,
  opts: { dryRun?: boolean; onProgress?: (p: VectorProgress) => void },
  now: Date,
  started: number,
): Promise<PreparedVectorRestore> {
  const listed = await bundle.readJson(COLLECTIONS_ENTRY);
  assertServerRecord(listed);
  if (JSON.stringify(listed) !== JSON.stringify(d.fingerprint)) {
    throw new VectorError(
      'BAD_BUNDLE',
      `${COLLECTIONS_ENTRY} does not match the vectors fingerprint in metadata.json`,
    );
  }
  const http = new ChromaHttp(s.url, undefined, undefined, s.token);
  const version = await http.version();
  if (d.chromaVersion && compareVersions(version, d.chromaVersion) < 0) {
    throw new VectorError(
      'VERSION_REFUSED',
      `Chroma at ${s.url} is ${version}, older than the ${d.chromaVersion} the bundle was taken from: upgrade Chroma before restoring`,
    );
  }
  const ours = (n: string) => /__(before|restore|undone)_\d{8}_\d{6}(_\d+)?$/.test(n);
  const liveCols = (await http.listCollections()).filter((c) => !ours(c.name));
  const liveCounts = new Map<string, number>();
  for (const c of liveCols) liveCounts.set(c.name, await http.count(c.id));
  const report = newReport('server', s.url, listed.collections, liveCounts, opts.dryRun === true);
  const done = () => finished(report, started);
  if (opts.dryRun) return dryRunResult(done());

  const suffix = stampSuffix(now);
  const staged: Array<{ c: ServerCollection; id: string; name: string }> = [];
  const total = listed.collections.reduce((n, c) => n + c.records, 0);
  try {
    let loaded = 0;
    for (const c of listed.collections) {
      const name = `${c.name.slice(0, 400)}__restore_${suffix}`;
      const info = await loadCollection(http, bundle, c, name, (n) => {
        loaded += n;
        opts.onProgress?.({ phase: 'vectors load', done: loaded, total, unit: 'items', item: c.name });
      });
      staged.push({ c, id: info.id, name });
    }
    let checked = 0;
    const problems: string[] = [];
    for (const st of staged) {
      problems.push(
        ...(await verifyCollection(http, bundle, st.c, st.id, (n) => {
          checked += n;
          opts.onProgress?.({
            phase: 'vectors verify',
            done: checked,
            total,
            unit: 'items',
            item: st.c.name,
          });
        })),
      );
    }
    if (problems.length > 0) {
      throw new VectorError(
        'VERIFY_FAILED',
        `the restored collections do not match the bundle: ${problems.slice(0, 5).join('; ')}`,
      );
    }
    report.verified = true;
  } catch (err) {
    for (const st of staged) await http.deleteCollection(st.name).catch(() => undefined);
    throw err;
  }
  // Renames done by swap(), in order, so undo() can reverse them.
  const renames: Array<{ id: string; from: string; to: string }> = [];
  let swapped = false;
  return {
    report: done(),
    journal: {
      mode: 'server',
      url: s.url,
      suffix,
      bundleNames: listed.collections.map((c) => c.name),
      liveNames: liveCols.map((c) => c.name),
    },
    async swap() {
      try {
        for (const c of liveCols) {
          const to = `${c.name.slice(0, 400)}__before_${suffix}`;
          await http.renameCollection(c.id, to);
          renames.push({ id: c.id, from: c.name, to });
        }
        for (const st of staged) {
          await http.renameCollection(st.id, st.c.name);
          renames.push({ id: st.id, from: st.name, to: st.c.name });
        }
        swapped = true;
      } catch (err) {
        await reverse();
        throw new VectorError(
          'SWAP_FAILED',
          `the restored collections could not be renamed in: ${(err as Error).message}`,
          { cause: err },
        );
      }
      report.previous = liveCols.map((c) => `${c.name.slice(0, 400)}__before_${suffix}`);
      return done();
    },
    async finish() {
      const keep = new Set(renames.map((r) => r.to));
      for (const c of await http.listCollections()) {
        if (/__(before|restore|undone)_\d{8}_\d{6}(_\d+)?$/.test(c.name) && !keep.has(c.name)) {
          await http.deleteCollection(c.name);
          report.dropped.push(c.name);
        }
      }
      return done();
    },
    async discard() {
      if (!swapped) for (const st of staged) await http.deleteCollection(st.name).catch(() => undefined);
    },
    async undo() {
      await reverse();
      for (const st of staged) await http.deleteCollection(st.name).catch(() => undefined);
      swapped = false;
      report.previous = null;
    },
  };

  async function reverse(): Promise<void> {
    // Restored collections move aside first, so the old names are free again.
    for (const r of [...renames].reverse()) {
      await http.renameCollection(r.id, r.from);
    }
    renames.length = 0;
  }
}

/**
 * After a process that was switching died: puts the vector store back as it was before the
 * restore the journal describes, whatever step the swap had reached. Returns what was done.
 */
export async function recoverVectorSwap(j: VectorJournal, settings?: VectorSettings): Promise<string[]> {
  const done: string[] = [];
  if (j.mode === 'directory') {
    const stop = settings?.mode === 'directory' ? settings.stopHook : undefined;
    const start = settings?.mode === 'directory' ? settings.startHook : undefined;
    if (existsSync(j.staging)) {
      // Not swapped in: drop it; put the live folder back if the crash fell between the renames.
      await rm(j.staging, { recursive: true, force: true });
      done.push(`removed ${j.staging}`);
      if (!existsSync(j.path) && existsSync(j.before)) {
        await rename(j.before, j.path);
        done.push(`renamed ${j.before} back to ${j.path}`);
      }
      return done;
    }
    if (stop) await runHook(stop, 'stop');
    if (existsSync(j.path)) {
      const undone = stampName(j.path, 'undone', new Date());
      await rename(j.path, undone);
      await rm(undone, { recursive: true, force: true });
      done.push(`removed the restored ${j.path}`);
    }
    if (j.liveExisted && existsSync(j.before)) {
      await rename(j.before, j.path);
      done.push(`renamed ${j.before} back to ${j.path}`);
    }
    if (start) await runHook(start, 'start');
    return done;
  }
  const http = new ChromaHttp(
    j.url,
    undefined,
    undefined,
    settings?.mode === 'server' ? settings.token : undefined,
  );
  const byName = new Map((await http.listCollections()).map((c) => [c.name, c]));
  const trim = (n: string) => n.slice(0, 400);
  for (const n of j.bundleNames) {
    const staged = `${trim(n)}__restore_${j.suffix}`;
    if (byName.has(staged)) {
      await http.deleteCollection(staged);
      done.push(`deleted ${staged}`);
    } else if (byName.has(n)) {
      // Renamed in: move it aside and delete it.
      const c = byName.get(n) as ChromaCollectionInfo;
      const undone = `${trim(n)}__undone_${j.suffix}`;
      await http.renameCollection(c.id, undone);
      await http.deleteCollection(undone);
      byName.delete(n);
      done.push(`deleted the restored ${n}`);
    }
  }
  for (const n of j.liveNames) {
    const before = byName.get(`${trim(n)}__before_${j.suffix}`);
    if (before && !byName.has(n)) {
      await http.renameCollection(before.id, n);
      done.push(`renamed ${before.name} back to ${n}`);
    }
  }
  return done;
}

/** Preflight: the vector store can be reached (directory present, or server answering). */
export async function checkVectors(settings: VectorSettings): Promise<string> {
  if (settings.mode === 'server') {
    const v = await new ChromaHttp(settings.url, undefined, undefined, settings.token).version();
    return `Chroma ${v} at ${settings.url}`;
  }
  const live = await liveDirectory(settings.path, settings.sqlitePath);
  if (!live) {
    throw new VectorError(
      'NOT_FOUND',
      `${settings.path} is not a Chroma persist directory (no chroma.sqlite3): check SAM_CHROMA_PATH`,
    );
  }
  return `Chroma directory ${settings.path} (${live.collections.length} collections)`;
}
