/**
 * Server mode (bundle-format.md §7.3.2): every collection of a Chroma server paged out over the
 * HTTP API into one JSON-lines entry per collection (vectors as little-endian float32, base64),
 * plus `collections.json` (name, metadata, configuration verbatim, count, content hash).
 * Restore: into staging collections beside the live ones, verified record by record, then swapped
 * by renames; the replaced collections are kept as `<name>__before_<UTC>`.
 */
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { type BundleReader, type BundleWriter, ENTRY } from '@sam-backup/bundle';
import { VectorError } from './errors.js';
import { type ChromaCollectionInfo, ChromaHttp, type ChromaRecords } from './http.js';

export const SERVER_ALGORITHM = 'chroma-records-v1' as const;
export const COLLECTIONS_ENTRY = `${ENTRY.chromaDir}collections.json`;
const PAGE = 500;

export interface ServerCollection {
  name: string;
  /** The entry holding its records. */
  entry: string;
  space: string;
  metadata: Record<string, unknown> | null;
  configuration: Record<string, unknown> | null;
  dimension: number | null;
  records: number;
  /** Sum mod 2^256 of each record's SHA-256 (order-free), hex (§7.3.2). */
  hash: string;
}

export interface ServerFingerprint {
  algorithm: typeof SERVER_ALGORITHM;
  collections: ServerCollection[];
}

interface RecordLine {
  id: string;
  e: string | null;
  d: string | null;
  m: Record<string, unknown> | null;
  u: string | null;
}

function canonical(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
    .join(',')}}`;
}

export function encodeVector(v: readonly number[]): string {
  const b = Buffer.allocUnsafe(v.length * 4);
  for (let i = 0; i < v.length; i++) b.writeFloatLE(v[i] as number, i * 4);
  return b.toString('base64');
}

export function decodeVector(s: string): number[] {
  const b = Buffer.from(s, 'base64');
  const out = new Array<number>(b.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = b.readFloatLE(i * 4);
  return out;
}

const MOD = 1n << 256n;

/** The order-free multiset hash of §7.3.2: records are added, so paging order does not matter. */
export class RecordSum {
  private sum = 0n;
  count = 0;
  add(line: RecordLine): void {
    const h = createHash('sha256')
      .update(canonical([line.id, line.e, line.d, line.m, line.u]))
      .digest('hex');
    this.sum = (this.sum + BigInt(`0x${h}`)) % MOD;
    this.count++;
  }
  hex(): string {
    return this.sum.toString(16).padStart(64, '0');
  }
}

function spaceOf(c: ChromaCollectionInfo): string {
  const hnsw = (c.configuration_json?.hnsw ?? null) as { space?: string } | null;
  return hnsw?.space ?? (c.metadata?.['hnsw:space'] as string | undefined) ?? 'l2';
}

function lines(page: ChromaRecords): RecordLine[] {
  return page.ids.map((id, i) => {
    const e = page.embeddings?.[i];
    return {
      id,
      e: e ? encodeVector(e) : null,
      d: page.documents?.[i] ?? null,
      m: page.metadatas?.[i] ?? null,
      u: page.uris?.[i] ?? null,
    };
  });
}

export interface ServerProgress {
  phase: string;
  done: number;
  total: number;
  item?: string;
}

export interface ServerExportResult {
  version: string;
  fingerprint: ServerFingerprint;
  /** Collections whose count changed while they were read (writers were not paused). */
  changed: string[];
}

/** Pages every collection of the server into the bundle. */
export async function exportServer(opts: {
  url: string;
  bundle: BundleWriter;
  token?: string;
  onProgress?: (p: ServerProgress) => void;
}): Promise<ServerExportResult> {
  const http = new ChromaHttp(opts.url, undefined, undefined, opts.token);
  const version = await http.version();
  const infos = await http.listCollections();
  const counts = await Promise.all(infos.map((c) => http.count(c.id)));
  const total = counts.reduce((a, b) => a + b, 0);
  let done = 0;
  const collections: ServerCollection[] = [];
  const changed: string[] = [];
  for (const [i, c] of infos.entries()) {
    const entry = `${ENTRY.chromaDir}collections/${String(i + 1).padStart(4, '0')}.jsonl`;
    const sum = new RecordSum();
    async function* records(): AsyncGenerator<string> {
      for (let offset = 0; ; offset += PAGE) {
        const page = await http.get(c.id, { limit: PAGE, offset });
        let chunk = '';
        for (const line of lines(page)) {
          sum.add(line);
          chunk += `${JSON.stringify(line)}\n`;
        }
        if (chunk) yield chunk;
        done += page.ids.length;
        opts.onProgress?.({ phase: 'vectors read', done, total, item: c.name });
        if (page.ids.length < PAGE) return;
      }
    }
    await opts.bundle.addEntry(entry, Readable.from(records()));
    if ((await http.count(c.id)) !== sum.count) changed.push(c.name);
    collections.push({
      name: c.name,
      entry,
      space: spaceOf(c),
      metadata: c.metadata,
      configuration: c.configuration_json,
      dimension: c.dimension,
      records: sum.count,
      hash: sum.hex(),
    });
  }
  const fingerprint: ServerFingerprint = { algorithm: SERVER_ALGORITHM, collections };
  await opts.bundle.addEntry(COLLECTIONS_ENTRY, `${JSON.stringify(fingerprint, null, 1)}\n`);
  return { version, fingerprint, changed };
}

/** Record lines of one collection's entry, in batches. */
export async function* readRecordBatches(
  bundle: BundleReader,
  entry: string,
  size: number,
): AsyncGenerator<RecordLine[]> {
  const rl = createInterface({ input: await bundle.openEntry(entry), crlfDelay: Number.POSITIVE_INFINITY });
  let batch: RecordLine[] = [];
  for await (const text of rl) {
    if (!text) continue;
    batch.push(JSON.parse(text) as RecordLine);
    if (batch.length >= size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

/**
 * How far a restored vector may be from the bundle's (§7.3.2): cosine collections store the
 * normalised vector and give back `v·|v|` recomputed in float32, one rounding step per component
 * each way; each component must be within 1e-6 of the vector's largest component (≈ 8 float32
 * steps). l2 and ip collections give back exactly what was stored: no tolerance.
 */
export const COSINE_TOLERANCE = 1e-6;

export function vectorsMatch(space: string, expected: readonly number[], actual: readonly number[]): boolean {
  if (expected.length !== actual.length) return false;
  if (space !== 'cosine') {
    for (let i = 0; i < expected.length; i++)
      if (Math.fround(actual[i] as number) !== expected[i]) return false;
    return true;
  }
  let scale = 0;
  for (const x of expected) scale = Math.max(scale, Math.abs(x));
  const tol = COSINE_TOLERANCE * Math.max(scale, Number.MIN_VALUE);
  for (let i = 0; i < expected.length; i++) {
    if (Math.abs((actual[i] as number) - (expected[i] as number)) > tol) return false;
  }
  return true;
}

/** Loads one collection of the bundle into a new collection `name` of the server. */
export async function loadCollection(
  http: ChromaHttp,
  bundle: BundleReader,
  c: ServerCollection,
  name: string,
  onRecords: (n: number) => void,
): Promise<ChromaCollectionInfo> {
  const created = await http.createCollection(name, c.metadata, c.configuration);
  for await (const batch of readRecordBatches(bundle, c.entry, PAGE)) {
    await http.add(created.id, {
      ids: batch.map((r) => r.id),
      embeddings: batch.map((r) => (r.e ? decodeVector(r.e) : [])),
      documents: batch.map((r) => r.d),
      metadatas: batch.map((r) => r.m),
      uris: batch.map((r) => r.u),
    });
    onRecords(batch.length);
  }
  return created;
}

/** Compares a loaded collection with the bundle record by record; the problems found (≤ 10). */
export async function verifyCollection(
  http: ChromaHttp,
  bundle: BundleReader,
  c: ServerCollection,
  id: string,
  onRecords: (n: number) => void,
): Promise<string[]> {
  const problems: string[] = [];
  const count = await http.count(id);
  if (count !== c.records) problems.push(`${c.name}: ${count} records, expected ${c.records}`);
  for await (const batch of readRecordBatches(bundle, c.entry, 250)) {
    const got = await http.get(id, { ids: batch.map((r) => r.id) });
    const at = new Map(got.ids.map((gid, i) => [gid, i]));
    for (const r of batch) {
      const i = at.get(r.id);
      if (i === undefined) {
        problems.push(`${c.name}: record ${r.id} is missing`);
      } else {
        const e = got.embeddings?.[i] ?? [];
        if (r.e && !vectorsMatch(c.space, decodeVector(r.e), e))
          problems.push(`${c.name}: record ${r.id}: the vector differs`);
        if ((got.documents?.[i] ?? null) !== r.d)
          problems.push(`${c.name}: record ${r.id}: the document differs`);
        if (canonical(got.metadatas?.[i] ?? null) !== canonical(r.m))
          problems.push(`${c.name}: record ${r.id}: the metadata differs`);
        if ((got.uris?.[i] ?? null) !== r.u) problems.push(`${c.name}: record ${r.id}: the URI differs`);
      }
      if (problems.length >= 10) return problems;
    }
    onRecords(batch.length);
  }
  return problems;
}

/** "1.0.10" > "1.0.9". */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/).map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split(/[.-]/).map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export function assertServerRecord(v: unknown): asserts v is ServerFingerprint {
  const f = v as Partial<ServerFingerprint> | null;
  if (!f || f.algorithm !== SERVER_ALGORITHM || !Array.isArray(f.collections)) {
    throw new VectorError('BAD_BUNDLE', `${COLLECTIONS_ENTRY} is not a ${SERVER_ALGORITHM} collection list`);
  }
}
