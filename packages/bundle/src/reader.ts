import { createHash } from 'node:crypto';
import { createReadStream, type ReadStream } from 'node:fs';
import { type FileHandle, open as openFile } from 'node:fs/promises';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { crc32, createInflateRaw } from 'node:zlib';
import yauzl, { type Entry, type ZipFile } from 'yauzl';
import { BundleError, type BundleProblem, BundleRefusedError, bundleError, problem } from './errors.js';
import { type EntryRecord, FORMAT_NAME, FORMAT_VERSION, type Metadata, MetadataSchema } from './metadata.js';
import { collisionKey, ENTRY, entryNameProblem } from './names.js';

// Why yauzl (bundle-format.md §6): it parses the central directory (zip64 included), refuses a
// directory that contradicts itself, and gives each entry's local-header offset, which we read and
// check against the directory (§6.4); unzipper's streaming Parse instead trusts the local headers
// front to back, and its Open.file hides the local header. Speed decided nothing:
// bench/reader-choice.bench.mjs on a 209 MB bundle of 2,102 entries (Node 20, 2 cores shared with
// other work, three runs): central directory 141–157 ms with yauzl, 167–228 ms with unzipper
// Open.file; opening and reading the last 1 MiB entry 116–204 ms vs 165–250 ms; every entry
// 83–135 MB/s vs 71–101 MB/s; unzipper Parse needs 2.7–3.9 s to reach the last entry (it reads
// the whole file). Entry data itself is read by our own ranged reads (see openVerifiedRaw).

export interface ReaderOptions {
  /**
   * Refuse an entry larger than `zipBombMinBytes` whose size is more than this many times its
   * compressed size (bundle-format.md §6.3). Default 1000.
   */
  maxCompressionRatio?: number;
  /** Default 1 MiB. */
  zipBombMinBytes?: number;
  /** The largest metadata.json read (bundle-format.md §4.1). Default 256 MiB. */
  maxMetadataBytes?: number;
}

/** Byte ranges of a stored entry's data, read in place inside the bundle (bundle-format.md §5.1). */
export interface RandomAccessSource {
  readonly size: number;
  createReadStream(start: number, end: number): NodeJS.ReadableStream;
  close(): Promise<void>;
}

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const S_IFDIR = 0o040000;

function openZip(path: string): Promise<ZipFile> {
  return new Promise((resolve, reject) => {
    yauzl.open(
      path,
      {
        lazyEntries: true,
        autoClose: false,
        decodeStrings: false,
        validateEntrySizes: true,
        strictFileNames: false,
      },
      (err, zip) => (err ? reject(err) : resolve(zip)),
    );
  });
}

async function readCentralDirectory(zip: ZipFile): Promise<Entry[]> {
  const entries: Entry[] = [];
  await new Promise<void>((resolve, reject) => {
    zip.on('entry', (entry: Entry) => {
      entries.push(entry);
      zip.readEntry();
    });
    zip.on('end', () => resolve());
    zip.on('error', reject);
    zip.readEntry();
  });
  return entries;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeName(entry: Entry): string | undefined {
  const raw = entry.fileName as unknown as Buffer;
  try {
    return utf8.decode(raw);
  } catch {
    return undefined;
  }
}

function printable(raw: Buffer): string {
  return JSON.stringify(raw.toString('latin1')).slice(1, -1);
}

async function classifyOpenError(path: string, err: Error): Promise<BundleProblem> {
  const message = err.message;
  if (/end of central directory record signature not found/i.test(message)) {
    const head = Buffer.alloc(4);
    const handle = await openFile(path, 'r');
    try {
      await handle.read(head, 0, 4, 0);
    } finally {
      await handle.close();
    }
    if (head.readUInt32LE(0) === 0x04034b50) {
      return problem('TRUNCATED', 'the end of the zip (its central directory) is missing');
    }
    return problem('NOT_A_BUNDLE', 'this file is not a zip archive, so not a sam-backup bundle');
  }
  return problem('BAD_ZIP', `the zip structure is damaged (${message})`);
}

/**
 * A bundle opened for reading (bundle-format.md §6). Opening reads only the central directory and
 * metadata.json and refuses every structural problem before any entry is used.
 */
export class BundleReader {
  private constructor(
    readonly path: string,
    readonly metadata: Metadata,
    private readonly zip: ZipFile,
    private readonly file: FileHandle,
    private readonly zipEntries: ReadonlyMap<string, Entry>,
    private readonly records: ReadonlyMap<string, EntryRecord>,
    readonly fileSize: number,
  ) {}

  /** @internal use {@link openBundle}. */
  static async open(path: string, opts: ReaderOptions = {}): Promise<BundleReader> {
    const maxRatio = opts.maxCompressionRatio ?? 1000;
    const bombMin = opts.zipBombMinBytes ?? 1 << 20;
    const maxMetadata = opts.maxMetadataBytes ?? 256 << 20;
    let zip: ZipFile;
    try {
      zip = await openZip(path);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ENOENT' || e.code === 'EACCES' || e.code === 'EISDIR') throw err;
      throw new BundleRefusedError(path, [await classifyOpenError(path, e)]);
    }
    // Entry data is read through a handle of our own (see openVerifiedRaw); yauzl parses the structure.
    let file: FileHandle;
    try {
      file = await openFile(path, 'r');
    } catch (err) {
      zip.close();
      throw err;
    }
    const problems: BundleProblem[] = [];
    const refuse = (): never => {
      zip.close();
      file.close().catch(() => {});
      throw new BundleRefusedError(path, problems);
    };
    let entries: Entry[];
    try {
      entries = await readCentralDirectory(zip);
    } catch (err) {
      const message = (err as Error).message;
      problems.push(
        /size mismatch/i.test(message)
          ? problem(
              'SIZE_MISMATCH',
              `an entry's sizes contradict each other in the central directory (${message})`,
            )
          : problem('BAD_ZIP', `the central directory is damaged (${message})`),
      );
      return refuse();
    }

    // §6.1: each central-directory record on its own.
    const byName = new Map<string, Entry>();
    const byKey = new Map<string, string>();
    for (const entry of entries) {
      const name = decodeName(entry);
      const shown = name === undefined ? printable(entry.fileName as unknown as Buffer) : name;
      if (name === undefined) {
        problems.push(problem('UNSAFE_NAME', 'the name is not valid UTF-8', shown));
        continue;
      }
      const mode = (entry.externalFileAttributes >>> 16) & S_IFMT;
      if (mode === S_IFLNK) {
        problems.push(problem('LINK_ENTRY', 'the entry is a symbolic link', shown));
        continue;
      }
      if (mode === S_IFDIR || name.endsWith('/')) {
        problems.push(problem('DIRECTORY_ENTRY', 'the entry is a directory; bundles hold files only', shown));
        continue;
      }
      const why = entryNameProblem(name);
      if (why) {
        problems.push(problem('UNSAFE_NAME', why, JSON.stringify(name).slice(1, -1)));
        continue;
      }
      if (entry.isEncrypted()) {
        problems.push(
          problem(
            'ENCRYPTED_ENTRY',
            'the entry is encrypted with zip encryption, which bundles never use',
            name,
          ),
        );
        continue;
      }
      if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8) {
        problems.push(
          problem(
            'UNSUPPORTED_COMPRESSION',
            `compression method ${entry.compressionMethod} is not store or deflate`,
            name,
          ),
        );
        continue;
      }
      const key = collisionKey(name);
      const other = byKey.get(key);
      if (other !== undefined) {
        problems.push(
          problem(
            'DUPLICATE_ENTRY',
            other === name
              ? 'the name appears twice'
              : `the name collides with ${other} (case or Unicode form)`,
            name,
          ),
        );
        continue;
      }
      byKey.set(key, name);
      byName.set(name, entry);
      if (
        entry.uncompressedSize > bombMin &&
        entry.uncompressedSize > maxRatio * Math.max(1, entry.compressedSize)
      ) {
        problems.push(
          problem(
            'ZIP_BOMB',
            `declares ${entry.uncompressedSize} bytes from ${entry.compressedSize} compressed (more than ${maxRatio}:1)`,
            name,
          ),
        );
      }
    }

    // §4.1: metadata.json.
    const metaEntry = byName.get(ENTRY.metadata);
    if (!metaEntry) {
      if (!problems.some((p) => p.entry === ENTRY.metadata)) {
        problems.push(
          problem(
            'MISSING_ENTRY',
            'metadata.json is missing, so this is not a sam-backup bundle',
            ENTRY.metadata,
          ),
        );
      }
      return refuse();
    }
    if (problems.some((p) => p.code === 'ZIP_BOMB' && p.entry === ENTRY.metadata)) return refuse();
    if (metaEntry.uncompressedSize > maxMetadata) {
      problems.push(
        problem(
          'BAD_METADATA',
          `metadata.json declares ${metaEntry.uncompressedSize} bytes, over the ${maxMetadata}-byte limit`,
          ENTRY.metadata,
        ),
      );
      return refuse();
    }
    let text: string;
    try {
      const buf = await readWhole(zip, file, metaEntry, maxMetadata);
      text = utf8.decode(buf);
    } catch (err) {
      problems.push(
        err instanceof BundleError
          ? err.toProblem()
          : problem(
              'BAD_METADATA',
              `metadata.json cannot be read (${(err as Error).message})`,
              ENTRY.metadata,
            ),
      );
      return refuse();
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      problems.push(
        problem('BAD_METADATA', `metadata.json is not JSON (${(err as Error).message})`, ENTRY.metadata),
      );
      return refuse();
    }
    const head = raw as { format?: unknown; formatVersion?: unknown } | null;
    if (head === null || typeof head !== 'object' || head.format !== FORMAT_NAME) {
      problems.push(
        problem('BAD_METADATA', `metadata.json does not describe a ${FORMAT_NAME} bundle`, ENTRY.metadata),
      );
      return refuse();
    }
    if (head.formatVersion !== FORMAT_VERSION) {
      problems.push(
        problem(
          'UNKNOWN_FORMAT_VERSION',
          `bundle format version ${JSON.stringify(head.formatVersion)} is not one this sam-backup reads (it reads version ${FORMAT_VERSION})`,
          ENTRY.metadata,
        ),
      );
      return refuse();
    }
    const parsed = MetadataSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      problems.push(
        problem(
          'BAD_METADATA',
          `metadata.json is invalid at ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'schema mismatch'}`,
          ENTRY.metadata,
        ),
      );
      return refuse();
    }
    const metadata = parsed.data;

    // §6.2: the manifest against the central directory.
    const records = new Map<string, EntryRecord>();
    for (const record of metadata.entries) {
      const why = entryNameProblem(record.name);
      if (why || record.name === ENTRY.metadata) {
        problems.push(
          problem(
            'BAD_METADATA',
            `the manifest lists an invalid entry name (${why ?? 'metadata.json lists itself'})`,
            record.name,
          ),
        );
        continue;
      }
      if (records.has(record.name)) {
        problems.push(problem('BAD_METADATA', 'the manifest lists this entry twice', record.name));
        continue;
      }
      records.set(record.name, record);
      const entry = byName.get(record.name);
      if (!entry) {
        if (!problems.some((p) => p.entry === record.name)) {
          problems.push(
            problem('MISSING_ENTRY', 'listed in metadata.json but not in the bundle', record.name),
          );
        }
        continue;
      }
      if (entry.uncompressedSize !== record.size) {
        problems.push(
          problem(
            'SIZE_MISMATCH',
            `the zip declares ${entry.uncompressedSize} bytes, metadata.json ${record.size}`,
            record.name,
          ),
        );
      }
      const method = entry.compressionMethod === 0 ? 'store' : 'deflate';
      if (method !== record.compression) {
        problems.push(
          problem(
            'COMPRESSION_MISMATCH',
            `the zip stores it with ${method}, metadata.json says ${record.compression}`,
            record.name,
          ),
        );
      }
    }
    for (const name of byName.keys()) {
      if (name !== ENTRY.metadata && !records.has(name)) {
        problems.push(problem('UNLISTED_ENTRY', 'in the bundle but not listed in metadata.json', name));
      }
    }
    if (problems.length > 0) return refuse();
    return new BundleReader(path, metadata, zip, file, byName, records, zip.fileSize);
  }

  /** The entries, as listed in metadata.json. */
  entries(): EntryRecord[] {
    return [...this.records.values()];
  }

  has(name: string): boolean {
    return this.records.has(name);
  }

  entry(name: string): EntryRecord {
    const record = this.records.get(name);
    if (!record) throw bundleError('MISSING_ENTRY', 'no such entry in this bundle', name);
    return record;
  }

  /**
   * Streams one entry. The stream checks the entry while it flows (bundle-format.md §6.4): it
   * fails with SIZE_MISMATCH as soon as more bytes arrive than declared, and with
   * CHECKSUM_MISMATCH (CRC-32 or SHA-256) instead of ending when the content differs.
   */
  async openEntry(name: string): Promise<NodeJS.ReadableStream> {
    const record = this.entry(name);
    const entry = this.zipEntries.get(name);
    if (!entry) throw bundleError('MISSING_ENTRY', 'no such entry in this bundle', name);
    const raw = await openVerifiedRaw(this.zip, this.file, entry, name);
    const check = new VerifyingTransform(name, record.size, entry.crc32, record.sha256);
    raw.on('error', (err: Error) => check.destroy(asBundleError(err, name)));
    check.on('close', () => raw.destroy());
    return raw.pipe(check);
  }

  /** Reads a (small) JSON entry whole, checked, and parses it. */
  async readJson<T = unknown>(name: string, maxBytes = 64 << 20): Promise<T> {
    const record = this.entry(name);
    if (record.size > maxBytes) {
      throw bundleError(
        'BAD_METADATA',
        `${record.size} bytes is over the ${maxBytes}-byte limit for a JSON entry`,
        name,
      );
    }
    const chunks: Buffer[] = [];
    for await (const chunk of await this.openEntry(name)) chunks.push(chunk as Buffer);
    try {
      return JSON.parse(Buffer.concat(chunks).toString('utf8')) as T;
    } catch (err) {
      throw bundleError('BAD_METADATA', `not valid JSON (${(err as Error).message})`, name);
    }
  }

  /**
   * Byte ranges of a stored entry's data, read in place (bundle-format.md §5.1). The caller is
   * expected to have verified the entry (verifyBundle or a full openEntry read) before relying on it.
   */
  async entryRandomAccess(name: string): Promise<RandomAccessSource> {
    const record = this.entry(name);
    const entry = this.zipEntries.get(name);
    if (!entry) throw bundleError('MISSING_ENTRY', 'no such entry in this bundle', name);
    if (entry.compressionMethod !== 0) {
      throw new BundleError(
        'COMPRESSION_MISMATCH',
        `entry ${name}: is compressed; only stored entries can be read in place`,
        name,
      );
    }
    const header = await this.zip.readLocalFileHeaderPromise(entry, { minimal: true });
    const dataStart = header.fileDataStart;
    const path = this.path;
    const opened: ReadStream[] = [];
    return {
      size: record.size,
      createReadStream(start: number, end: number): NodeJS.ReadableStream {
        if (start < 0 || end > record.size || start > end) {
          throw new RangeError(`entry ${name}: range ${start}-${end} is outside its ${record.size} bytes`);
        }
        if (start === end) return Readable.from([]);
        const s = createReadStream(path, { start: dataStart + start, end: dataStart + end - 1 });
        opened.push(s);
        return s;
      },
      async close(): Promise<void> {
        for (const s of opened) s.destroy();
      },
    };
  }

  async close(): Promise<void> {
    this.zip.close();
    await this.file.close().catch(() => {});
  }
}

function asBundleError(err: Error, name: string): BundleError {
  if (err instanceof BundleError) return err;
  if (/too many bytes|too few bytes/i.test(err.message)) {
    return bundleError('SIZE_MISMATCH', `its data does not have the declared size (${err.message})`, name);
  }
  if (
    (err as NodeJS.ErrnoException).code?.startsWith('Z_') ||
    /unexpected end|invalid|incorrect|unknown compression/i.test(err.message)
  ) {
    return bundleError('CHECKSUM_MISMATCH', `its data is damaged (${err.message})`, name);
  }
  return bundleError('BAD_ZIP', `cannot be read (${err.message})`, name);
}

/** Opens an entry's data stream after checking that its local header agrees with the central directory. */
async function openVerifiedRaw(
  zip: ZipFile,
  file: FileHandle,
  entry: Entry,
  name: string,
): Promise<Readable> {
  let h: LocalHeader;
  try {
    h = await readLocalHeader(zip, file, entry);
  } catch (err) {
    throw asBundleError(err as Error, name);
  }
  if (!h.fileName.equals(entry.fileName as unknown as Buffer)) {
    throw bundleError(
      'HEADER_MISMATCH',
      'its local header names a different file than the central directory',
      name,
    );
  }
  if (h.compressionMethod !== entry.compressionMethod || (h.generalPurposeBitFlag & 1) !== 0) {
    throw bundleError(
      'HEADER_MISMATCH',
      'its local header and the central directory disagree on how it is stored',
      name,
    );
  }
  // §6.4: without a data descriptor (flag bit 3) the local header carries the CRC and sizes itself;
  // they must be the directory's, or other zip tools (which read local headers) would see another
  // file than we verify. 0xffffffff means "in the zip64 extra field" and is not compared.
  if ((h.generalPurposeBitFlag & 8) === 0) {
    const differs = (local: number, central: number) => local !== 0xffffffff && local !== central;
    if (
      h.crc32 >>> 0 !== entry.crc32 >>> 0 ||
      differs(h.compressedSize, entry.compressedSize) ||
      differs(h.uncompressedSize, entry.uncompressedSize)
    ) {
      throw bundleError(
        'HEADER_MISMATCH',
        'its local header and the central directory disagree on its CRC-32 or sizes',
        name,
      );
    }
  }
  // The data is read by its offset, exactly the directory's compressed size, 1 MiB at a time, through
  // our own handle: yauzl's data stream reads 16 KiB at a time (measured on a stored 100 MiB entry:
  // 200–270 MB/s through yauzl, 570–750 MB/s with 1 MiB reads). Inflated bytes are counted by the
  // VerifyingTransform that every caller puts behind this stream (§6.3, §6.4).
  const data = h.data
    ? Readable.from(h.data.length > 0 ? [h.data] : [])
    : rangeStream(file, h.fileDataStart, h.fileDataStart + entry.compressedSize);
  if (entry.compressionMethod !== 8) return data;
  const inflate = createInflateRaw();
  data.on('error', (err: Error) => inflate.destroy(err));
  inflate.on('close', () => data.destroy());
  return data.pipe(inflate);
}

interface LocalHeader {
  fileName: Buffer;
  compressionMethod: number;
  generalPurposeBitFlag: number;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  fileDataStart: number;
  /** The entry's (compressed) data, when it was small enough to come with the header. */
  data?: Buffer;
}

/** Entries whose compressed data is at most this long are read with their local header, in one read. */
const SMALL_ENTRY = 64 << 10;

/**
 * Reads an entry's local header (APPNOTE 4.3.7) at the offset the central directory gives, and a
 * small entry's data with it: one read per small entry instead of three (header, name, data), which
 * is what verifying a bundle of many small files costs. yauzl has parsed the central directory
 * (including zip64) that `entry` comes from.
 */
async function readLocalHeader(zip: ZipFile, file: FileHandle, entry: Entry): Promise<LocalHeader> {
  const offset = entry.relativeOffsetOfLocalHeader;
  const centralName = entry.fileName as unknown as Buffer;
  const small = entry.compressedSize <= SMALL_ENTRY;
  // 30 fixed bytes, the name as the directory gives it, room for a usual extra field, the data.
  const want = Math.min(
    30 + centralName.length + 64 + (small ? entry.compressedSize : 0),
    zip.fileSize - offset,
  );
  if (want < 30) throw new Error(`invalid local file header: it would end beyond the end of the file`);
  let buf = Buffer.allocUnsafe(want);
  const { bytesRead } = await file.read(buf, 0, want, offset);
  if (bytesRead < 30) throw new Error('unexpected end of file in a local file header');
  const signature = buf.readUInt32LE(0);
  if (signature !== 0x04034b50) {
    throw new Error(`invalid local file header signature: 0x${signature.toString(16)}`);
  }
  const nameLength = buf.readUInt16LE(26);
  const extraLength = buf.readUInt16LE(28);
  const fileDataStart = offset + 30 + nameLength + extraLength;
  if (fileDataStart + entry.compressedSize > zip.fileSize) {
    throw new Error(
      `invalid local file header: data overflows the file (${fileDataStart} + ${entry.compressedSize} > ${zip.fileSize})`,
    );
  }
  if (30 + nameLength > bytesRead) {
    buf = Buffer.allocUnsafe(30 + nameLength);
    const again = await file.read(buf, 0, buf.length, offset);
    if (again.bytesRead < buf.length) throw new Error('unexpected end of file in a local file header');
  }
  const dataAt = 30 + nameLength + extraLength;
  const header: LocalHeader = {
    fileName: Buffer.from(buf.subarray(30, 30 + nameLength)),
    generalPurposeBitFlag: buf.readUInt16LE(6),
    compressionMethod: buf.readUInt16LE(8),
    crc32: buf.readUInt32LE(14),
    compressedSize: buf.readUInt32LE(18),
    uncompressedSize: buf.readUInt32LE(22),
    fileDataStart,
  };
  if (small && dataAt + entry.compressedSize <= bytesRead) {
    header.data = buf.subarray(dataAt, dataAt + entry.compressedSize);
  }
  return header;
}

/**
 * Bytes [start, end) of the bundle through the reader's shared handle. (fs.createReadStream over a
 * shared FileHandle closes the handle when the stream is destroyed, even with autoClose: false.)
 */
function rangeStream(file: FileHandle, start: number, end: number): Readable {
  let pos = start;
  return new Readable({
    highWaterMark: 1 << 20,
    read() {
      const n = Math.min(1 << 20, end - pos);
      if (n <= 0) {
        this.push(null);
        return;
      }
      file.read(Buffer.allocUnsafe(n), 0, n, pos).then(
        ({ bytesRead, buffer }) => {
          if (bytesRead === 0) {
            this.destroy(new Error(`unexpected end of file at offset ${pos}`));
            return;
          }
          pos += bytesRead;
          this.push(buffer.subarray(0, bytesRead));
        },
        (err: Error) => this.destroy(err),
      );
    },
  });
}

async function readWhole(zip: ZipFile, file: FileHandle, entry: Entry, max: number): Promise<Buffer> {
  const name = ENTRY.metadata;
  const raw = await openVerifiedRaw(zip, file, entry, name);
  const check = new VerifyingTransform(name, Math.min(entry.uncompressedSize, max), entry.crc32, undefined);
  const chunks: Buffer[] = [];
  raw.on('error', (err: Error) => check.destroy(asBundleError(err, name)));
  for await (const chunk of raw.pipe(check)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Counts, CRC-32 and SHA-256 of an entry as it streams; fails instead of ending on any mismatch. */
class VerifyingTransform extends Transform {
  private size = 0;
  private crc = 0;
  private readonly hash = createHash('sha256');

  constructor(
    private readonly name: string,
    private readonly expectedSize: number,
    private readonly expectedCrc: number,
    private readonly expectedSha256: string | undefined,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.size += chunk.length;
    if (this.size > this.expectedSize) {
      cb(bundleError('SIZE_MISMATCH', `holds more than the ${this.expectedSize} bytes declared`, this.name));
      return;
    }
    this.crc = crc32(chunk, this.crc);
    if (this.expectedSha256 !== undefined) this.hash.update(chunk);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    if (this.size !== this.expectedSize) {
      cb(bundleError('SIZE_MISMATCH', `holds ${this.size} bytes, ${this.expectedSize} declared`, this.name));
      return;
    }
    if (this.crc >>> 0 !== this.expectedCrc >>> 0) {
      cb(bundleError('CHECKSUM_MISMATCH', 'its CRC-32 does not match', this.name));
      return;
    }
    if (this.expectedSha256 !== undefined) {
      const actual = this.hash.digest('hex');
      if (actual !== this.expectedSha256) {
        cb(
          bundleError(
            'CHECKSUM_MISMATCH',
            `its SHA-256 is ${actual.slice(0, 12)}…, metadata.json says ${this.expectedSha256.slice(0, 12)}…`,
            this.name,
          ),
        );
        return;
      }
    }
    cb();
  }
}

/** Opens a bundle: reads its central directory and metadata.json and refuses any structural problem. */
export function openBundle(path: string, opts?: ReaderOptions): Promise<BundleReader> {
  return BundleReader.open(path, opts);
}
