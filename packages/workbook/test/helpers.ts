import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ZipArchive } from 'archiver';
import fc from 'fast-check';
import {
  type Cell,
  openWorkbook,
  type RandomAccessSource,
  type ReadCell,
  type SheetOptions,
  WorkbookWriter,
  type WorkbookWriterOptions,
} from '../src/index.js';

export async function tempDir(
  prefix = 'workbook-test-',
): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export interface SheetSpec {
  name: string;
  rows: ReadonlyArray<readonly Cell[]>;
  opts?: SheetOptions;
}

/** Writes sheets into a real .xlsx file with the package's writer, honouring backpressure. */
export async function writeWorkbook(
  path: string,
  sheets: readonly SheetSpec[],
  opts?: WorkbookWriterOptions,
): Promise<{ bytes: number }> {
  const wb = new WorkbookWriter(createWriteStream(path), opts);
  for (const spec of sheets) {
    const sheet = wb.addSheet(spec.name, spec.opts);
    for (const row of spec.rows) if (!sheet.writeRow(row)) await sheet.drain();
    await sheet.end();
  }
  return wb.finalize();
}

export interface ReadBack {
  sheets: string[];
  rows: Map<string, Array<{ rowNumber: number; cells: ReadCell[] }>>;
}

export async function readWorkbook(source: string | RandomAccessSource): Promise<ReadBack> {
  const wb = await openWorkbook(source);
  const rows = new Map<string, Array<{ rowNumber: number; cells: ReadCell[] }>>();
  try {
    for (const s of wb.sheets) {
      const list: Array<{ rowNumber: number; cells: ReadCell[] }> = [];
      for await (const row of wb.rows(s.name)) list.push({ rowNumber: row.rowNumber, cells: row.cells });
      rows.set(s.name, list);
    }
  } finally {
    await wb.close();
  }
  return { sheets: wb.sheets.map((s) => s.name), rows };
}

/** What the reader returns for written rows: trailing nulls dropped, row numbers from 1. */
export function expectedRows(
  rows: ReadonlyArray<readonly Cell[]>,
): Array<{ rowNumber: number; cells: Cell[] }> {
  return rows.map((cells, i) => {
    const out = cells.map((c) => c ?? null);
    while (out.length > 0 && out[out.length - 1] === null) out.pop();
    return { rowNumber: i + 1, cells: out };
  });
}

/** Pieces that stress the escaping: XML specials, controls, CR/LF, escape look-alikes, astral characters. */
export const NASTY_PIECES = [
  '\r\n',
  '\r',
  '\n',
  '\t',
  ' ',
  '  ',
  '\u0000',
  '\u0001',
  '\u0008',
  '\u000b',
  '\u000c',
  '\u001f',
  '\u007f',
  '\u0085',
  '\u00a0',
  '\u2028',
  '\ufeff',
  '\ufffe',
  '\uffff',
  '&',
  '&amp;',
  '&#13;',
  '<',
  '>',
  ']]>',
  '"',
  "'",
  '_',
  '_x',
  '_x000D_',
  '_x000d_',
  '_x005F_',
  '_x0041_',
  '_x0041',
  '_x0001',
  '_x000D',
  '_x005F',
  '_xd800',
  '_xD83D_',
  '_xFFFF_',
  '_x00',
  '_x9',
  '_x5f',
  '_x1',
  'x0041_',
  '😀',
  '👩‍👩‍👧',
  'שלום',
  'مرحبا',
  '\u202e',
  'é',
  'e\u0301',
  '日本語',
  '<c r="A1">',
];

/** A Unicode scalar value string (no unpaired surrogates) built from nasty pieces and random code points. */
export function nastyString(maxPieces = 12): fc.Arbitrary<string> {
  return fc
    .array(
      fc.oneof(
        { weight: 3, arbitrary: fc.constantFrom(...NASTY_PIECES) },
        { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 4 }) },
        { weight: 2, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 4 }) },
        { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
      ),
      { maxLength: maxPieces },
    )
    .map((parts) => parts.join(''));
}

const NUMBER_TEXTS = [
  '0',
  '-0',
  '42',
  '-17',
  '9007199254740991',
  '-9007199254740991',
  '0.5',
  '-0.25',
  '1.5E-7',
  '1e+300',
  '3.141592653589793',
  '.5',
  '5.',
  '2.2250738585072014E-308',
];

export function numberText(): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constantFrom(...NUMBER_TEXTS),
    fc.integer().map(String),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => String(d)),
  );
}

export function cell(): fc.Arbitrary<Cell> {
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant(null) },
    { weight: 5, arbitrary: nastyString().map((v) => ({ t: 's' as const, v })) },
    { weight: 1, arbitrary: fc.constant({ t: 's' as const, v: '' }) },
    { weight: 2, arbitrary: numberText().map((v) => ({ t: 'n' as const, v })) },
    { weight: 1, arbitrary: fc.boolean().map((v) => ({ t: 'b' as const, v })) },
  );
}

/** A RandomAccessSource over bytes [offset, offset + size) of a real file, as the bundle hands out. */
export async function fileRangeSource(
  path: string,
  offset: number,
  size: number,
): Promise<RandomAccessSource & { closed: boolean }> {
  const handle = await open(path, 'r');
  await handle.close();
  const streams: Readable[] = [];
  const source = {
    size,
    closed: false,
    createReadStream(start: number, end: number): NodeJS.ReadableStream {
      if (start < 0 || end > size || start > end)
        throw new RangeError(`range ${start}-${end} outside ${size}`);
      if (start === end) return Readable.from([]);
      const s = createReadStream(path, { start: offset + start, end: offset + end - 1 });
      streams.push(s);
      return s;
    },
    async close(): Promise<void> {
      source.closed = true;
      for (const s of streams) s.destroy();
    },
  };
  return source;
}

/** Builds a zip from literal parts (a workbook as another program might write it). */
export async function writeZip(path: string, parts: Record<string, string | Buffer>): Promise<void> {
  const archive = new ZipArchive({ zlib: { level: 6 } });
  const out = createWriteStream(path);
  const done = new Promise<void>((resolve, reject) => {
    out.on('finish', () => resolve());
    out.on('error', reject);
    archive.on('error', reject);
  });
  archive.pipe(out);
  for (const [name, data] of Object.entries(parts))
    archive.append(typeof data === 'string' ? Buffer.from(data) : data, { name });
  await archive.finalize();
  await done;
}
