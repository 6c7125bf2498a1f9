/**
 * Directory mode (bundle-format.md §7.3.1): Chroma's persist directory — `chroma.sqlite3` plus one
 * folder of HNSW files per vector segment — taken as a consistent snapshot and restored beside the
 * live directory, verified, then swapped in by renames.
 *
 * Why this order: Chroma rewrites a segment's HNSW files in place (about every 1,000 records) and
 * then records in SQLite (`max_seq_id`) up to which write-log entry the files hold. So the folders
 * are copied first, SQLite is copied second through its online backup API, and the snapshot is
 * kept only when no segment file changed during the whole copy and the backup's `max_seq_id` of
 * every vector segment is the one read before the copy: then the files are exactly the index the
 * backup's log expects, and Chroma replays the rest of the log when it opens the snapshot.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type BundleReader, type BundleWriter, ENTRY } from '@sam-backup/bundle';
import { VectorError } from './errors.js';
import { type Hook, runHook } from './hooks.js';
import { backup, findSqlite, query, quickCheck, type Sqlite } from './sqlite.js';

export const DIRECTORY_ALGORITHM = 'chroma-directory-v1' as const;
export const SQLITE_FILE = 'chroma.sqlite3';

export interface DirectoryCollection {
  name: string;
  id: string;
  tenant: string;
  database: string;
  dimension: number | null;
  /** `collections.config_json_str`, verbatim. */
  config: string | null;
  metadata: Record<string, string | number | boolean | null>;
  records: number;
  /** SHA3-256 of the metadata segment's rows in id order: ids, documents, metadata (§7.3.1). */
  recordsHash: string;
  /** SHA3-256 of the collection's write-log rows not yet compacted (ids, vectors, metadata). */
  logHash: string;
  /** The vector segment's HNSW files: path relative to the directory → SHA-256. */
  files: Record<string, string>;
}

export interface DirectoryFingerprint {
  algorithm: typeof DIRECTORY_ALGORITHM;
  /** Chroma's schema: the highest migration applied, per migration folder (`migrations` table). */
  schema: Record<string, number>;
  collections: DirectoryCollection[];
}

export interface DirectoryProgress {
  phase: string;
  bytesDone: number;
  bytesTotal: number;
  item?: string;
}

/** A fingerprint as computed, with each collection's vector segment (its folder) beside it. */
interface RawCollection extends DirectoryCollection {
  vectorSegment: string | null;
}
interface RawFingerprint extends DirectoryFingerprint {
  collections: RawCollection[];
}

interface FileState {
  size: number;
  mtimeMs: number;
  ino: number;
}

const quote = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** Rows of `sql` hashed by SQLite itself (sha3_query), as lowercase hex. */
function sha3(sql: string): string {
  return `lower(hex(sha3_query(${quote(sql)}, 256)))`;
}

/**
 * The fingerprint of a persist directory (its SQLite file read as it is) — `files` is filled by
 * the caller that reads the files (the copy hashes them as it goes).
 */
export async function directoryFingerprint(sqlite: Sqlite, dir: string): Promise<RawFingerprint> {
  const db = join(dir, SQLITE_FILE);
  const schema: Record<string, number> = {};
  for (const r of await query<{ dir: string; version: number }>(
    sqlite,
    db,
    'SELECT dir, max(version) AS version FROM migrations GROUP BY dir ORDER BY dir',
  )) {
    schema[r.dir] = r.version;
  }
  const cols = await query<{
    id: string;
    name: string;
    dimension: number | null;
    config: string | null;
    database: string;
    tenant: string;
    meta: string | null;
    vec: string | null;
  }>(
    sqlite,
    db,
    `SELECT c.id, c.name, c.dimension, c.config_json_str AS config, d.name AS database, d.tenant_id AS tenant,
       (SELECT s.id FROM segments s WHERE s.collection = c.id AND s.scope = 'METADATA') AS meta,
       (SELECT s.id FROM segments s WHERE s.collection = c.id AND s.scope = 'VECTOR') AS vec
     FROM collections c JOIN databases d ON d.id = c.database_id ORDER BY d.tenant_id, d.name, c.name`,
  );
  const collections: RawCollection[] = [];
  for (const c of cols) {
    const seg = c.meta ?? '';
    const [h] = await query<{ records: number; recordsHash: string; logHash: string }>(
      sqlite,
      db,
      // Records = the metadata segment's rows as the write log not yet applied to it leaves them
      // (Chroma applies it when it opens the directory): ADD 0, UPDATE 1, UPSERT 2, DELETE 3.
      `WITH pending AS (
         SELECT id, operation, seq_id FROM embeddings_queue
         WHERE topic LIKE ${quote(`%/${c.id}`)}
           AND seq_id > coalesce((SELECT seq_id FROM max_seq_id WHERE segment_id = ${quote(seg)}), 0)),
       last AS (SELECT id, operation FROM pending p WHERE seq_id = (SELECT max(seq_id) FROM pending q WHERE q.id = p.id)),
       existing AS (SELECT embedding_id AS id FROM embeddings WHERE segment_id = ${quote(seg)})
       SELECT (SELECT count(*) FROM existing WHERE id NOT IN (SELECT id FROM last WHERE operation = 3))
            + (SELECT count(*) FROM last WHERE operation IN (0, 2) AND id NOT IN (SELECT id FROM existing)) AS records,
         ${sha3(
           `SELECT e.embedding_id, m.key, m.string_value, m.int_value, m.float_value, m.bool_value
            FROM embeddings e LEFT JOIN embedding_metadata m ON m.id = e.id
            WHERE e.segment_id = ${quote(seg)} ORDER BY e.embedding_id, m.key`,
         )} AS recordsHash,
         ${sha3(
           `SELECT seq_id, operation, id, vector, encoding, metadata FROM embeddings_queue
            WHERE topic LIKE ${quote(`%/${c.id}`)} ORDER BY seq_id`,
         )} AS logHash`,
    );
    const metadata: DirectoryCollection['metadata'] = {};
    for (const m of await query<{
      key: string;
      str_value: string | null;
      int_value: number | null;
      float_value: number | null;
      bool_value: number | null;
    }>(
      sqlite,
      db,
      `SELECT key, str_value, int_value, float_value, bool_value FROM collection_metadata
       WHERE collection_id = ${quote(c.id)} ORDER BY key`,
    )) {
      metadata[m.key] =
        m.str_value ?? m.int_value ?? m.float_value ?? (m.bool_value === null ? null : m.bool_value === 1);
    }
    collections.push({
      name: c.name,
      id: c.id,
      tenant: c.tenant,
      database: c.database,
      dimension: c.dimension,
      config: c.config,
      metadata,
      records: h?.records ?? 0,
      recordsHash: h?.recordsHash ?? '',
      logHash: h?.logHash ?? '',
      files: {},
      vectorSegment: c.vec,
    });
  }
  return { algorithm: DIRECTORY_ALGORITHM, schema, collections };
}

function vectorSegment(c: RawCollection): string | null {
  return c.vectorSegment;
}

/** The fingerprint as it is stored: no helper fields. */
function stored(f: RawFingerprint): DirectoryFingerprint {
  return {
    algorithm: f.algorithm,
    schema: f.schema,
    collections: f.collections.map(({ vectorSegment: _segment, ...c }) => c),
  };
}

/** Differences between two fingerprints, in words (empty: equal). */
export function compareDirectoryFingerprints(
  expected: DirectoryFingerprint,
  actual: DirectoryFingerprint,
): string[] {
  const out: string[] = [];
  if (JSON.stringify(expected.schema) !== JSON.stringify(actual.schema)) {
    out.push(`schema ${JSON.stringify(actual.schema)} is not ${JSON.stringify(expected.schema)}`);
  }
  const byName = new Map(actual.collections.map((c) => [`${c.tenant}/${c.database}/${c.name}`, c]));
  for (const e of expected.collections) {
    const key = `${e.tenant}/${e.database}/${e.name}`;
    const a = byName.get(key);
    byName.delete(key);
    if (!a) {
      out.push(`collection ${key} is missing`);
      continue;
    }
    if (a.records !== e.records) out.push(`collection ${key}: ${a.records} records, expected ${e.records}`);
    if (a.recordsHash !== e.recordsHash) out.push(`collection ${key}: ids, documents or metadata differ`);
    if (a.logHash !== e.logHash) out.push(`collection ${key}: the write log differs`);
    if (a.id !== e.id || a.dimension !== e.dimension || a.config !== e.config) {
      out.push(`collection ${key}: id, dimension or configuration differ`);
    }
    if (JSON.stringify(a.metadata) !== JSON.stringify(e.metadata))
      out.push(`collection ${key}: collection metadata differs`);
    const files = new Set([...Object.keys(e.files), ...Object.keys(a.files)]);
    for (const f of files) {
      if (e.files[f] !== a.files[f]) out.push(`collection ${key}: index file ${f} differs`);
    }
  }
  for (const key of byName.keys()) out.push(`collection ${key} is not expected`);
  return out;
}

async function fileStates(dir: string, folders: readonly string[]): Promise<Map<string, FileState>> {
  const out = new Map<string, FileState>();
  for (const folder of folders) {
    const full = join(dir, folder);
    if (!existsSync(full)) continue;
    for (const name of (await readdir(full)).sort()) {
      const s = await stat(join(full, name));
      if (s.isFile()) out.set(`${folder}/${name}`, { size: s.size, mtimeMs: s.mtimeMs, ino: s.ino });
    }
  }
  return out;
}

function sameStates(a: Map<string, FileState>, b: Map<string, FileState>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const w = b.get(k);
    if (!w || w.size !== v.size || w.mtimeMs !== v.mtimeMs || w.ino !== v.ino) return false;
  }
  return true;
}

/** Copies `from` to `to`, returning its SHA-256. */
async function copyHashed(from: string, to: string, onBytes: (n: number) => void): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(
    createReadStream(from),
    new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        onBytes(chunk.length);
        cb(null, chunk);
      },
    }),
    createWriteStream(to, { flags: 'wx' }),
  );
  return hash.digest('hex');
}

async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function vectorSeqs(sqlite: Sqlite, db: string): Promise<Map<string, string>> {
  const rows = await query<{ segment_id: string; seq_id: unknown }>(
    sqlite,
    db,
    `SELECT m.segment_id, m.seq_id FROM max_seq_id m JOIN segments s ON s.id = m.segment_id WHERE s.scope = 'VECTOR'`,
  );
  return new Map(rows.map((r) => [r.segment_id, JSON.stringify(r.seq_id)]));
}

export interface DirectorySnapshotOptions {
  /** The live persist directory (SAM_CHROMA_PATH). */
  path: string;
  /** Where the snapshot is assembled before it goes into the bundle (removed afterwards). */
  workDir: string;
  /** Pauses and resumes the application's writers around the copy (optional, §7.3.1). */
  quiesce?: { pause: Hook; resume: Hook };
  sqlitePath?: string;
  /** Copies retried when a segment changed during the copy (default 5). */
  attempts?: number;
  onProgress?: (p: DirectoryProgress) => void;
}

export interface DirectorySnapshot {
  dir: string;
  fingerprint: DirectoryFingerprint;
  attempts: number;
  paused: boolean;
  sqliteVersion: string;
  bytes: number;
  files: string[];
  cleanup(): Promise<void>;
}

/** A consistent, verified copy of the persist directory in a folder under `workDir`. */
export async function snapshotDirectory(opts: DirectorySnapshotOptions): Promise<DirectorySnapshot> {
  const sqlite = await findSqlite(opts.sqlitePath);
  const liveDb = join(opts.path, SQLITE_FILE);
  if (!existsSync(liveDb)) {
    throw new VectorError(
      'NOT_FOUND',
      `${opts.path} is not a Chroma persist directory (no ${SQLITE_FILE}): check SAM_CHROMA_PATH`,
    );
  }
  const maxAttempts = opts.attempts ?? 5;
  await mkdir(opts.workDir, { recursive: true });
  const progress = (p: DirectoryProgress) => opts.onProgress?.(p);
  let lastProblem = '';
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const dir = await mkdtemp(join(opts.workDir, '.sam-chroma-'));
    const cleanup = () => rm(dir, { recursive: true, force: true });
    let paused = false;
    try {
      if (opts.quiesce) {
        await runHook(opts.quiesce.pause, 'pause');
        paused = true;
      }
      const source = await directoryFingerprint(sqlite, opts.path);
      const segments = source.collections.map(vectorSegment).filter((s): s is string => !!s);
      const seqBefore = await vectorSeqs(sqlite, liveDb);
      const before = await fileStates(opts.path, segments);
      const total = [...before.values()].reduce((n, s) => n + s.size, 0) + (await stat(liveDb)).size;
      let done = 0;
      const hashes = new Map<string, string>();
      for (const rel of before.keys()) {
        await mkdir(join(dir, dirname(rel)), { recursive: true });
        hashes.set(
          rel,
          await copyHashed(join(opts.path, rel), join(dir, rel), (n) => {
            done += n;
            progress({ phase: 'vectors snapshot', bytesDone: done, bytesTotal: total, item: rel });
          }),
        );
      }
      await backup(sqlite, liveDb, join(dir, SQLITE_FILE));
      const after = await fileStates(opts.path, segments);
      const seqAfter = await vectorSeqs(sqlite, join(dir, SQLITE_FILE));
      let sourceAfter: RawFingerprint | null = null;
      if (paused) sourceAfter = await directoryFingerprint(sqlite, opts.path);
      if (opts.quiesce && paused) {
        paused = false;
        await runHook(opts.quiesce.resume, 'resume');
      }
      const sameSeq =
        seqBefore.size === seqAfter.size && [...seqBefore].every(([k, v]) => seqAfter.get(k) === v);
      if (!sameStates(before, after) || !sameSeq) {
        lastProblem = !sameSeq
          ? 'Chroma saved a vector index during the copy'
          : 'a vector index file changed during the copy';
        await cleanup();
        await new Promise((r) => setTimeout(r, 200 * attempt));
        continue;
      }
      progress({ phase: 'vectors check', bytesDone: done, bytesTotal: total });
      const check = await quickCheck(sqlite, join(dir, SQLITE_FILE));
      if (check !== 'ok') {
        throw new VectorError(
          'SNAPSHOT_FAILED',
          `the SQLite copy of ${liveDb} is damaged (quick_check: ${check})`,
        );
      }
      const fingerprint = await directoryFingerprint(sqlite, dir);
      for (const c of fingerprint.collections) {
        const seg = vectorSegment(c);
        for (const [rel, h] of hashes) if (seg && rel.startsWith(`${seg}/`)) c.files[rel] = h;
      }
      if (sourceAfter) {
        // Writers were paused: the snapshot must be the source, exactly.
        for (const c of sourceAfter.collections) {
          const seg = vectorSegment(c);
          for (const rel of hashes.keys())
            if (seg && rel.startsWith(`${seg}/`)) c.files[rel] = await hashFile(join(opts.path, rel));
        }
        const diff = compareDirectoryFingerprints(stored(sourceAfter), stored(fingerprint));
        if (diff.length > 0) {
          throw new VectorError(
            'SNAPSHOT_FAILED',
            `the Chroma snapshot differs from ${opts.path} although writers were paused (${diff.slice(0, 3).join('; ')}): check that the pause hook really stops every writer`,
          );
        }
      }
      return {
        dir,
        fingerprint: stored(fingerprint),
        attempts: attempt,
        paused: !!opts.quiesce,
        sqliteVersion: sqlite.version,
        bytes: total,
        files: [SQLITE_FILE, ...hashes.keys()],
        cleanup,
      };
    } catch (err) {
      if (opts.quiesce && paused) await runHook(opts.quiesce.resume, 'resume').catch(() => undefined);
      await cleanup();
      throw err;
    }
  }
  throw new VectorError(
    'SNAPSHOT_FAILED',
    `no consistent snapshot of ${opts.path} in ${maxAttempts} attempts (${lastProblem}): Chroma is writing constantly; configure the pause/resume hook (SAM_CHROMA_PAUSE_HOOK / SAM_CHROMA_RESUME_HOOK) or retry when it is quieter`,
  );
}

/** Streams a snapshot into the bundle under `databases/chroma_data/`. */
export async function addSnapshotToBundle(
  snap: DirectorySnapshot,
  bundle: BundleWriter,
  onProgress?: (p: DirectoryProgress) => void,
): Promise<void> {
  let done = 0;
  for (const rel of snap.files) {
    const full = join(snap.dir, rel);
    const size = (await stat(full)).size;
    await bundle.addEntry(`${ENTRY.chromaDir}${rel}`, createReadStream(full));
    done += size;
    onProgress?.({ phase: 'vectors write', bytesDone: done, bytesTotal: snap.bytes, item: rel });
  }
}

/** Unpacks the bundle's directory snapshot into `dest` (which must not exist). */
export async function unpackDirectory(
  bundle: BundleReader,
  dest: string,
  onProgress?: (p: DirectoryProgress) => void,
): Promise<Record<string, string>> {
  const entries = bundle.entries().filter((e) => e.name.startsWith(ENTRY.chromaDir) && !e.name.endsWith('/'));
  const total = entries.reduce((n, e) => n + e.size, 0);
  await mkdir(dest);
  let done = 0;
  const hashes: Record<string, string> = {};
  for (const e of entries) {
    const rel = e.name.slice(ENTRY.chromaDir.length);
    const to = join(dest, rel);
    if (!to.startsWith(`${dest}/`))
      throw new VectorError('BAD_BUNDLE', `entry ${e.name} points outside the directory`);
    await mkdir(dirname(to), { recursive: true });
    const hash = createHash('sha256');
    await pipeline(
      await bundle.openEntry(e.name),
      new Transform({
        transform(chunk: Buffer, _enc, cb) {
          hash.update(chunk);
          done += chunk.length;
          onProgress?.({ phase: 'vectors unpack', bytesDone: done, bytesTotal: total, item: rel });
          cb(null, chunk);
        },
      }),
      createWriteStream(to, { flags: 'wx' }),
    );
    hashes[rel] = hash.digest('hex');
  }
  return hashes;
}

/** The fingerprint of an unpacked directory, with its index files' hashes filled in. */
export async function fingerprintUnpacked(
  dir: string,
  fileHashes: Record<string, string>,
  sqlitePath?: string,
): Promise<DirectoryFingerprint> {
  const sqlite = await findSqlite(sqlitePath);
  const check = await quickCheck(sqlite, join(dir, SQLITE_FILE));
  if (check !== 'ok')
    throw new VectorError('VERIFY_FAILED', `the restored ${SQLITE_FILE} is damaged (quick_check: ${check})`);
  const f = await directoryFingerprint(sqlite, dir);
  for (const c of f.collections) {
    const seg = vectorSegment(c);
    for (const [rel, h] of Object.entries(fileHashes)) if (seg && rel.startsWith(`${seg}/`)) c.files[rel] = h;
  }
  return stored(f);
}

/** Counts of a live directory (for the report), or null when there is none. */
export async function liveDirectory(path: string, sqlitePath?: string): Promise<DirectoryFingerprint | null> {
  if (!existsSync(join(path, SQLITE_FILE))) return null;
  const sqlite = await findSqlite(sqlitePath);
  return stored(await directoryFingerprint(sqlite, path));
}

export function stampName(path: string, kind: 'restore' | 'before' | 'undone', now: Date): string {
  const s = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '_');
  let name = join(dirname(path), `${basename(path)}__${kind}_${s}`);
  for (let i = 2; existsSync(name); i++) name = join(dirname(path), `${basename(path)}__${kind}_${s}_${i}`);
  return name;
}

/** Folders `<live>__before_*` next to the live directory. */
export async function previousDirectories(path: string): Promise<string[]> {
  return staleDirectories(path, 'before');
}

/** Folders `<live>__<kind>_*` next to the live directory. */
export async function staleDirectories(
  path: string,
  kind: 'before' | 'restore' | 'undone',
): Promise<string[]> {
  const parent = dirname(path);
  const prefix = `${basename(path)}__${kind}_`;
  if (!existsSync(parent)) return [];
  return (await readdir(parent)).filter((n) => n.startsWith(prefix)).map((n) => join(parent, n));
}

export { rename as renamePath };
