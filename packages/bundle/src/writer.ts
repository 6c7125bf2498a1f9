import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { access, mkdir, open, rename, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ZipArchive } from 'archiver';
import { BundleError, bundleError } from './errors.js';
import { MeasuringTransform } from './hashing.js';
import {
  type EntryRecord,
  FORMAT_NAME,
  FORMAT_VERSION,
  type Metadata,
  type MetadataInput,
  MetadataSchema,
} from './metadata.js';
import { bundleFileName, checkEntryName, collisionKey, ENTRY } from './names.js';

export type EntrySource = NodeJS.ReadableStream | AsyncIterable<Uint8Array> | Uint8Array | string;

export interface BundleWriterOptions {
  /** The folder the bundle is written to (created when missing). */
  dir: string;
  /** The file name; default `sam_ai_complete_backup_YYYYMMDD_HHMMSS.zip` of `now`. */
  name?: string;
  /** Deflate level 0-9 of compressed entries; default 1 (bundle-format.md §5.1). */
  compressionLevel?: number;
  now?: Date;
}

export interface FinalizedBundle {
  path: string;
  size: number;
  sha256: string;
  entries: EntryRecord[];
  metadata: Metadata;
}

/** Feeds `source` into `sink`; small in-memory sources skip the stream machinery (many tiny entries). */
function feed(source: EntrySource, sink: MeasuringTransform): Promise<void> {
  if (typeof source === 'string' || source instanceof Uint8Array) {
    const buf =
      typeof source === 'string'
        ? Buffer.from(source, 'utf8')
        : Buffer.from(source.buffer, source.byteOffset, source.byteLength);
    return new Promise((resolve, reject) => {
      sink.once('error', reject);
      sink.end(buf, () => resolve());
    });
  }
  return pipeline(toReadable(source), sink);
}

function toReadable(source: NodeJS.ReadableStream | AsyncIterable<Uint8Array>): Readable {
  if (source instanceof Readable) return source;
  if (Symbol.asyncIterator in (source as object)) return Readable.from(source as AsyncIterable<Uint8Array>);
  return new Readable().wrap(source as NodeJS.ReadableStream);
}

/**
 * Writes a bundle (bundle-format.md §5): entries stream in one after another, each measured
 * (size, SHA-256) while it streams; metadata.json is written last; the zip is written under a
 * temporary name, fsynced, and renamed only when complete; `<bundle>.sha256` is written beside it.
 * Nothing is buffered whole in memory.
 */
export class BundleWriter {
  readonly path: string;
  private readonly tempPath: string;
  private readonly archive: ZipArchive;
  private readonly file: WriteStream;
  private readonly whole = new MeasuringTransform();
  private readonly records: EntryRecord[] = [];
  private readonly keys = new Set<string>();
  private readonly done: Promise<void>;
  private failure: Error | undefined;
  private busy = false;
  /** Small in-memory entries handed to archiver and not yet known to be written (see appendBuffer). */
  private queuedBytes = 0;
  private queuedEntries = 0;
  private state: 'open' | 'finalized' | 'aborted' = 'open';

  private constructor(
    path: string,
    private readonly level: number,
    private readonly now: Date,
  ) {
    this.path = path;
    this.tempPath = join(
      dirname(path),
      `.${basename(path)}.partial-${process.pid}-${randomBytes(4).toString('hex')}`,
    );
    this.archive = new ZipArchive({ zlib: { level }, highWaterMark: 1 << 20 });
    this.file = createWriteStream(this.tempPath, { flags: 'wx', highWaterMark: 1 << 20 });
    this.done = pipeline(this.archive, this.whole, new Coalesce(1 << 20), this.file);
    this.done.catch((err: Error) => {
      this.failure ??= err;
    });
    this.archive.on('warning', (err: Error) => {
      this.failure ??= err;
    });
  }

  static async create(opts: BundleWriterOptions): Promise<BundleWriter> {
    const now = opts.now ?? new Date();
    const level = opts.compressionLevel ?? 1;
    if (!Number.isInteger(level) || level < 0 || level > 9) {
      throw new RangeError(`compression level ${level} is not an integer from 0 to 9`);
    }
    await mkdir(opts.dir, { recursive: true });
    const path = join(opts.dir, opts.name ?? bundleFileName(now));
    const exists = await access(path).then(
      () => true,
      () => false,
    );
    if (exists) {
      throw new BundleError(
        'WRITE_FAILED',
        `bundle ${path} already exists: sam-backup never overwrites a bundle; choose another name or folder`,
      );
    }
    return new BundleWriter(path, level, now);
  }

  /** The entries written so far. */
  entries(): readonly EntryRecord[] {
    return this.records;
  }

  /**
   * Streams one entry into the bundle. Entries are written one after another: wait for the
   * returned promise before adding the next one.
   */
  async addEntry(
    name: string,
    source: EntrySource,
    opts: { compression?: 'deflate' | 'store' } = {},
  ): Promise<EntryRecord> {
    if (name === ENTRY.metadata) {
      throw bundleError('UNSAFE_NAME', 'metadata.json is written by finalize(), not as an entry', name);
    }
    return this.append(name, source, opts.compression ?? (this.level === 0 ? 'store' : 'deflate'));
  }

  private async append(
    name: string,
    source: EntrySource,
    compression: 'deflate' | 'store',
  ): Promise<EntryRecord> {
    this.assertOpen();
    if (this.busy)
      throw new Error(`bundle writer: entry ${name} added while another entry is still being written`);
    checkEntryName(name);
    const key = collisionKey(name);
    if (this.keys.has(key))
      throw bundleError(
        'DUPLICATE_ENTRY',
        'an entry of this name (or differing only by case) was already written',
        name,
      );
    this.busy = true;
    try {
      const inMemory = typeof source === 'string' || source instanceof Uint8Array;
      if (inMemory && (typeof source === 'string' ? source.length > 0 : source.byteLength > 0)) {
        return await this.appendBuffer(name, key, source, compression);
      }
      const measure = new MeasuringTransform();
      const written = this.whenWritten(name);
      this.archive.append(measure, { name, date: this.now, mode: 0o644, store: compression === 'store' });
      const sourceDone = feed(source, measure);
      await Promise.all([sourceDone, written]).catch((err: unknown) => this.failed(name, err));
      this.queuedBytes = 0;
      this.queuedEntries = 0;
      if (this.failure) throw this.failure;
      const record: EntryRecord = { name, size: measure.size, sha256: measure.sha256(), compression };
      this.keys.add(key);
      this.records.push(record);
      return record;
    } finally {
      this.busy = false;
    }
  }

  /**
   * A non-empty in-memory entry is hashed at once and handed to archiver as a buffer (a copy: the
   * caller may reuse its own), without waiting for archiver to write it, so that many small files
   * do not each cost a round trip through the stream machinery (≈ 2× faster on 65,600 tiny
   * entries). The wait comes back once 8 MiB or 1,024 entries are queued: memory stays bounded.
   * (Empty entries take the stream path: archiver would store an empty buffer whatever was asked.)
   */
  private async appendBuffer(
    name: string,
    key: string,
    source: string | Uint8Array,
    compression: 'deflate' | 'store',
  ): Promise<EntryRecord> {
    const buf = typeof source === 'string' ? Buffer.from(source, 'utf8') : Buffer.from(source);
    const record: EntryRecord = {
      name,
      size: buf.length,
      sha256: createHash('sha256').update(buf).digest('hex'),
      compression,
    };
    this.queuedBytes += buf.length;
    this.queuedEntries++;
    const written =
      this.queuedBytes >= 8 << 20 || this.queuedEntries >= 1024 ? this.whenWritten(name) : undefined;
    this.archive.append(buf, { name, date: this.now, mode: 0o644, store: compression === 'store' });
    if (written) {
      await written.catch((err: unknown) => this.failed(name, err));
      this.queuedBytes = 0;
      this.queuedEntries = 0;
    }
    if (this.failure) throw this.failure;
    this.keys.add(key);
    this.records.push(record);
    return record;
  }

  /** Resolves when archiver has written the entry `name` (and so every entry before it). */
  private whenWritten(name: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onEntry = (data: { name: string }) => {
        if (data.name !== name) return;
        cleanup();
        resolve();
      };
      const onError = (err: Error) => {
        cleanup();
        reject(err);
      };
      const cleanup = () => {
        this.archive.off('entry', onEntry);
        this.archive.off('error', onError);
      };
      this.archive.on('entry', onEntry);
      this.archive.on('error', onError);
    });
  }

  private failed(name: string, err: unknown): never {
    const error = err instanceof Error ? err : new Error(String(err));
    this.failure ??= error;
    throw new BundleError('WRITE_FAILED', `entry ${name}: could not be written: ${error.message}`, name, {
      cause: error,
    });
  }

  /** Writes metadata.json last, completes the zip, fsyncs it and moves it to its final name. */
  async finalize(input: MetadataInput): Promise<FinalizedBundle> {
    this.assertOpen();
    try {
      const metadata: Metadata = MetadataSchema.parse({
        format: FORMAT_NAME,
        formatVersion: FORMAT_VERSION,
        createdAt: this.now.toISOString(),
        tool: input.tool,
        source: input.source ?? {},
        components: input.components ?? {},
        options: {
          secretsIncluded: input.options?.secretsIncluded ?? false,
          secretsOmitted: input.options?.secretsOmitted ?? [],
          encrypted: input.options?.encrypted ?? false,
          compression: { method: this.level === 0 ? 'store' : 'deflate', level: this.level },
          ...(input.options?.consistentCut === undefined
            ? {}
            : { consistentCut: input.options.consistentCut }),
        },
        entries: this.records,
      });
      const json = `${JSON.stringify(metadata, null, 1)}\n`;
      await this.appendMetadata(json);
      await this.archive.finalize();
      await this.done;
      if (this.failure) throw this.failure;
      const handle = await open(this.tempPath, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(this.tempPath, this.path);
      await syncDir(dirname(this.path));
      const sha256 = this.whole.sha256();
      const sidecar = `${this.path}.sha256`;
      const sidecarTemp = `${sidecar}.partial-${process.pid}`;
      await writeFile(sidecarTemp, `${sha256}  ${basename(this.path)}\n`, { flush: true });
      await rename(sidecarTemp, sidecar);
      await syncDir(dirname(this.path));
      this.state = 'finalized';
      return { path: this.path, size: this.whole.size, sha256, entries: [...this.records], metadata };
    } catch (err) {
      await this.abort();
      throw err;
    }
  }

  private async appendMetadata(json: string): Promise<void> {
    // metadata.json is not listed in itself; its integrity rests on the zip CRC-32 (§4.1).
    this.busy = false;
    const before = this.records.length;
    await this.append(ENTRY.metadata, json, 'deflate');
    this.records.splice(before);
  }

  /** Stops writing and removes the temporary file. Safe to call more than once, and after an error. */
  async abort(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'aborted';
    this.archive.abort();
    this.file.destroy();
    await this.done.catch(() => {});
    await unlink(this.tempPath).catch(() => {});
  }

  private assertOpen(): void {
    if (this.state !== 'open') throw new Error(`bundle writer for ${this.path} is already ${this.state}`);
    if (this.failure) {
      throw new BundleError(
        'WRITE_FAILED',
        `bundle ${this.path}: writing failed earlier: ${this.failure.message}`,
      );
    }
  }
}

/** Gathers the archive's many small writes into large ones (one syscall per MiB, not per header). */
class Coalesce extends Transform {
  private parts: Buffer[] = [];
  private bytes = 0;

  constructor(private readonly size: number) {
    super({ highWaterMark: size });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.parts.push(chunk);
    this.bytes += chunk.length;
    if (this.bytes >= this.size) this.flushParts();
    cb();
  }

  override _flush(cb: TransformCallback): void {
    this.flushParts();
    cb();
  }

  private flushParts(): void {
    if (this.bytes === 0) return;
    this.push(this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.bytes));
    this.parts = [];
    this.bytes = 0;
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
