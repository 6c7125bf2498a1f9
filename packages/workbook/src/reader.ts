/**
 * A streaming SpreadsheetML (.xlsx) reader: opens the zip by its central directory (yauzl), reads
 * the workbook's structure, and streams one worksheet's rows at a time — never a whole sheet in
 * memory. It reads what this package's writer writes exactly (inline strings, ST_Xstring escapes)
 * and what a spreadsheet program writes after a person edited the file: shared strings, formula
 * string results, rich text runs (phonetic runs left out), booleans, errors, numbers, missing
 * `r` attributes, sparse rows and cells.
 */
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { createInflateRaw } from 'node:zlib';
import { SaxesParser, type SaxesTagNS } from 'saxes';
import yauzl, { type Entry, type ZipFile } from 'yauzl';
import { WorkbookError } from './errors.js';
import { decodeXstring } from './escape.js';
import { MAX_COLUMNS, MAX_ROWS } from './limits.js';
import {
  decodeText,
  malformed,
  NAME_C,
  NAME_IS,
  NAME_ROW,
  NAME_RPH,
  NAME_SHEETDATA,
  NAME_SI,
  NAME_T,
  NAME_V,
  type ScanHandler,
  XmlScanner,
} from './scan.js';
import { SharedStringTable } from './shared-strings.js';
import type { Cell } from './writer.js';

/**
 * Byte ranges of a workbook file that lives elsewhere, e.g. a stored entry inside a bundle
 * (@sam-backup/bundle's `entryRandomAccess`). `end` is exclusive. openWorkbook takes ownership:
 * the workbook's close() closes the source.
 */
export interface RandomAccessSource {
  readonly size: number;
  createReadStream(start: number, end: number): NodeJS.ReadableStream;
  close(): Promise<void>;
}

/** A cell as read: a Cell, or an error value a spreadsheet program stored (`#N/A`, `#REF!`, …). */
export type ReadCell = Cell | { readonly t: 'e'; readonly v: string };

/**
 * One row. `rowNumber` is the row's number in the sheet (1-based); rows with no cells at all may
 * be missing from the file, so numbers can jump. `cells[i]` is column i (0 = A); a missing cell is
 * null, and the array ends at the last cell that has a value, so a row is shorter than the header
 * when its last cells are empty — pad it to the width you expect.
 */
export interface RowRead {
  readonly rowNumber: number;
  readonly cells: ReadCell[];
}

export interface SheetInfo {
  readonly name: string;
  /** Position among the workbook's worksheets, from 0. */
  readonly index: number;
  readonly state: 'visible' | 'hidden' | 'veryHidden';
}

export interface WorkbookReader {
  /** The worksheets, in workbook order (chart sheets and other sheet kinds are not listed). */
  readonly sheets: readonly SheetInfo[];
  /**
   * Streams the rows of a sheet. The shared strings table, if the workbook has one, is read once
   * before the first sheet that needs it and kept (see SharedStringTable for its cost).
   */
  rows(sheetName: string): AsyncIterable<RowRead>;
  /** The size of all its parts uncompressed, from the zip's central directory (no part is read). */
  readonly uncompressedBytes: number;
  /** Closes the file (or the RandomAccessSource). */
  close(): Promise<void>;
}

const REL_OFFICE_DOCUMENT = '/officeDocument';
const REL_WORKSHEET = '/worksheet';
const REL_SHARED_STRINGS = '/sharedStrings';
/** The largest small part (workbook.xml, relationships) read whole. */
const MAX_SMALL_PART = 32 << 20;

class SourceReader extends yauzl.RandomAccessReader {
  /** Set if closing the source failed; reported by the workbook's close(). */
  closeError: Error | undefined;

  constructor(private readonly source: RandomAccessSource) {
    super();
    this.on('error', (err: Error) => {
      this.closeError = err;
    });
  }

  override _readStreamForRange(start: number, end: number): Readable {
    const s = this.source.createReadStream(start, end);
    return s instanceof Readable ? s : Readable.from(s as AsyncIterable<Buffer>);
  }

  override close(callback: (err: Error | null) => void): void {
    this.source.close().then(
      () => callback(null),
      (err: Error) => callback(err),
    );
  }
}

const ZIP_OPTIONS = { lazyEntries: true, autoClose: false, validateEntrySizes: true, decodeStrings: true };

function openZip(source: string | RandomAccessSource): Promise<{ zip: ZipFile; reader?: SourceReader }> {
  return new Promise((resolve, reject) => {
    if (typeof source === 'string') {
      yauzl.open(source, ZIP_OPTIONS, (err, zip) => (err ? reject(err) : resolve({ zip })));
    } else {
      const reader = new SourceReader(source);
      yauzl.fromRandomAccessReader(reader, source.size, ZIP_OPTIONS, (err, zip) =>
        err ? reject(err) : resolve({ zip, reader }),
      );
    }
  });
}

function readEntries(zip: ZipFile): Promise<Map<string, Entry>> {
  return new Promise((resolve, reject) => {
    const entries = new Map<string, Entry>();
    zip.on('entry', (entry: Entry) => {
      if (!entries.has(entry.fileName)) entries.set(entry.fileName, entry);
      zip.readEntry();
    });
    zip.once('end', () => resolve(entries));
    zip.once('error', reject);
    zip.readEntry();
  });
}

/** Resolves a relationship target against the part that holds the relationship. */
function resolveTarget(fromPart: string, target: string): string {
  const raw = target.startsWith('/')
    ? target.slice(1)
    : `${fromPart.slice(0, fromPart.lastIndexOf('/') + 1)}${target}`;
  const out: string[] = [];
  for (const seg of raw.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  return out.map((s) => decodeURIComponentSafe(s)).join('/');
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function relsPartOf(part: string): string {
  const slash = part.lastIndexOf('/');
  return `${part.slice(0, slash + 1)}_rels/${part.slice(slash + 1)}.rels`;
}

interface Relationship {
  id: string;
  type: string;
  target: string;
  external: boolean;
}

const IS_T = '<is><t>';
const IS_T_PRESERVE = '<is><t xml:space="preserve">';
const T_IS_C = '</t></is></c>';

const NUMBER_READ = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

// Cell types (the t attribute).
const T_N = 0;
const T_S = 1;
const T_STR = 2;
const T_INLINE = 3;
const T_B = 4;
const T_E = 5;
const T_D = 6;

/** Column index of a cell reference's letters (A → 0), or -1 if it has none. */
function columnOf(s: string, from: number, to: number): number {
  let col = 0;
  let k = from;
  for (; k < to; k++) {
    const c = s.charCodeAt(k);
    if (c >= 65 && c <= 90) col = col * 26 + (c - 64);
    else if (c >= 97 && c <= 122) col = col * 26 + (c - 96);
    else break;
    if (col > MAX_COLUMNS) return MAX_COLUMNS;
  }
  if (k === from) return -1;
  for (; k < to; k++) {
    const c = s.charCodeAt(k);
    if (c < 48 || c > 57) return -1;
  }
  return col - 1;
}

/** Turns worksheet XML events into rows. */
export class SheetHandler implements ScanHandler {
  /** Rows completed since the last take(). */
  out: RowRead[] = [];
  private inSheetData = false;
  private cells: ReadCell[] | null = null;
  private rowNumber = 0;
  private prevCol = -1;
  private inCell = false;
  private col = 0;
  private type = T_N;
  private hasType = false;
  private v: string | null = null;
  private isText: string | null = null;
  private inIs = false;
  private rph = 0;
  /** 0: no text kept; 1: into v; 2: into tText. Set with setCap(), which keeps wantsText in step. */
  private cap = 0;
  private tText = '';
  wantsText = false;

  constructor(
    private readonly part: string,
    private readonly sharedStrings: () => SharedStringTable | undefined,
  ) {}

  private setCap(cap: number): void {
    this.cap = cap;
    this.wantsText = cap !== 0;
  }

  text(value: string): void {
    if (this.cap === 1) this.v = this.v === '' ? value : `${this.v}${value}`;
    else this.tText += value;
  }

  open(name: number, s: string, a: Int32Array, count: number, selfClosing: boolean): void {
    switch (name) {
      case NAME_C:
        if (this.cells === null) {
          if (this.inSheetData) throw malformed(this.part, 'a cell outside a row');
          return;
        }
        this.startCell(s, a, count);
        if (selfClosing) this.endCell();
        return;
      case NAME_V:
        if (!this.inCell) return;
        this.v = '';
        this.setCap(selfClosing ? 0 : 1);
        return;
      case NAME_IS:
        if (!this.inCell) return;
        this.isText = '';
        this.inIs = !selfClosing;
        return;
      case NAME_T:
        if (!this.inIs || this.rph > 0) return;
        this.tText = '';
        this.setCap(selfClosing ? 0 : 2);
        return;
      case NAME_RPH:
        if (this.inIs && !selfClosing) this.rph++;
        return;
      case NAME_ROW:
        if (!this.inSheetData) return;
        this.startRow(s, a, count);
        if (selfClosing) this.endRow();
        return;
      case NAME_SHEETDATA:
        this.inSheetData = !selfClosing;
        return;
      default:
        return;
    }
  }

  close(name: number): void {
    switch (name) {
      case NAME_V:
        if (this.cap === 1) this.setCap(0);
        return;
      case NAME_T:
        if (this.cap === 2) {
          this.setCap(0);
          this.isText += decodeXstring(this.tText);
          this.tText = '';
        }
        return;
      case NAME_RPH:
        if (this.rph > 0) this.rph--;
        return;
      case NAME_IS:
        this.inIs = false;
        return;
      case NAME_C:
        if (this.inCell) this.endCell();
        return;
      case NAME_ROW:
        if (this.cells !== null) this.endRow();
        return;
      case NAME_SHEETDATA:
        this.inSheetData = false;
        return;
      default:
        return;
    }
  }

  /**
   * The fast path for a whole cell: `<c` with only r, s and t attributes in double quotes, then
   * cellContent's shapes. Returns where to go on (after the cell, or after its start tag when its
   * content is of another shape), or -1 to let the scanner read the tag as usual.
   */
  startElement(s: string, lt: number): number {
    if (this.cells === null || s.charCodeAt(lt + 1) !== 99 /* c */ || s.charCodeAt(lt + 2) !== 32) return -1;
    const n = s.length;
    let col = -2;
    let type = T_N;
    let hasType = false;
    let k = lt + 3;
    for (;;) {
      if (k >= n) return -1;
      const c = s.charCodeAt(k);
      if (c === 32) {
        k++;
        continue;
      }
      if (c === 62 /* > */ || c === 47 /* / */) break;
      if (s.charCodeAt(k + 1) !== 61 /* = */ || s.charCodeAt(k + 2) !== 34 /* " */) return -1;
      const end = s.indexOf('"', k + 3);
      if (end < 0) return -1;
      if (c === 114 /* r */) {
        col = columnOf(s, k + 3, end);
        if (col < 0) return -1;
      } else if (c === 116 /* t */) {
        type = cellType(s, k + 3, end);
        if (type < 0) return -1;
        hasType = true;
      } else if (c !== 115 /* s */) {
        return -1;
      }
      k = end + 1;
    }
    if (s.charCodeAt(k) === 47) {
      if (k + 1 >= n || s.charCodeAt(k + 1) !== 62) return -1;
      this.beginCell(col, type, hasType);
      this.endCell();
      return k + 2;
    }
    this.beginCell(col, type, hasType);
    const after = this.cellContent(s, k + 1);
    return after >= 0 ? after : k + 1;
  }

  /**
   * The fast path for a cell's content in the shapes this package's writer, Excel and LibreOffice
   * write — `<v>…</v></c>` and `<is><t>…</t></is></c>` (with or without xml:space) — read with a
   * few string searches instead of one event per tag. Anything else (rich text, formulas, comments,
   * a chunk boundary) returns -1 and goes through the general path.
   */
  cellContent(s: string, pos: number): number {
    if (!this.inCell || s.charCodeAt(pos) !== 60 /* < */) return -1;
    let start: number;
    let tail: string;
    const c1 = s.charCodeAt(pos + 1);
    if (c1 === 118 /* v */ && s.charCodeAt(pos + 2) === 62) {
      start = pos + 3;
      tail = '</v></c>';
    } else if (c1 === 105 /* i */ && s.startsWith(IS_T, pos)) {
      start = pos + IS_T.length;
      tail = T_IS_C;
    } else if (c1 === 105 && s.startsWith(IS_T_PRESERVE, pos)) {
      start = pos + IS_T_PRESERVE.length;
      tail = T_IS_C;
    } else {
      return -1;
    }
    const lt = s.indexOf('<', start);
    if (lt < 0 || !s.startsWith(tail, lt)) return -1;
    const text = decodeText(s.slice(start, lt), this.part);
    if (tail === T_IS_C) this.isText = decodeXstring(text);
    else this.v = text;
    this.endCell();
    return lt + tail.length;
  }

  /** Hands over the rows completed so far. */
  take(): RowRead[] {
    const rows = this.out;
    this.out = [];
    return rows;
  }

  private startRow(s: string, a: Int32Array, count: number): void {
    if (this.cells !== null)
      throw malformed(this.part, `row ${this.rowNumber} is not closed before the next row`);
    let r = -1;
    for (let i = 0; i < count * 4; i += 4) {
      const ns = a[i] as number;
      if ((a[i + 1] as number) - ns === 1 && s.charCodeAt(ns) === 114 /* r */) {
        const text = s.slice(a[i + 2], a[i + 3]);
        if (!/^\d{1,7}$/.test(text)) throw this.bad(`row number ${JSON.stringify(text)} is not a number`);
        r = Number(text);
      }
    }
    if (r < 0) r = this.rowNumber + 1;
    if (r <= this.rowNumber || r < 1 || r > MAX_ROWS) {
      throw this.bad(
        `row ${r} comes after row ${this.rowNumber} (rows must be in ascending order, 1 to ${MAX_ROWS})`,
      );
    }
    this.rowNumber = r;
    this.cells = [];
    this.prevCol = -1;
  }

  private endRow(): void {
    const cells = this.cells as ReadCell[];
    this.cells = null;
    this.out.push({ rowNumber: this.rowNumber, cells });
  }

  private startCell(s: string, a: Int32Array, count: number): void {
    let col = -2;
    let type = T_N;
    let hasType = false;
    for (let i = 0; i < count * 4; i += 4) {
      const ns = a[i] as number;
      if ((a[i + 1] as number) - ns !== 1) continue;
      const c = s.charCodeAt(ns);
      const vs = a[i + 2] as number;
      const ve = a[i + 3] as number;
      if (c === 114 /* r */) {
        col = columnOf(s, vs, ve);
        if (col < 0)
          throw this.bad(`cell reference ${JSON.stringify(s.slice(vs, ve))} is not a cell reference`);
      } else if (c === 116 /* t */) {
        hasType = true;
        type = cellType(s, vs, ve);
        if (type < 0) throw this.bad(`cell type ${JSON.stringify(s.slice(vs, ve))} is unknown`);
      }
    }
    this.beginCell(col, type, hasType);
  }

  /** Starts a cell at column `col` (-2: the one after the previous cell). */
  private beginCell(col: number, type: number, hasType: boolean): void {
    if (col === -2) col = this.prevCol + 1;
    if (col >= MAX_COLUMNS) throw this.bad(`a cell beyond column XFD (the last of ${MAX_COLUMNS})`);
    if (col <= this.prevCol) {
      throw this.bad(
        `cell in column ${col + 1} of row ${this.rowNumber} comes after column ${this.prevCol + 1}`,
      );
    }
    this.prevCol = col;
    this.col = col;
    this.type = type;
    this.hasType = hasType;
    this.v = null;
    this.isText = null;
    this.inIs = false;
    this.rph = 0;
    this.setCap(0);
    this.inCell = true;
  }

  private endCell(): void {
    this.inCell = false;
    this.setCap(0);
    const value = this.cellValue();
    if (value === null) return;
    const cells = this.cells as ReadCell[];
    while (cells.length < this.col) cells.push(null);
    cells.push(value);
  }

  private cellValue(): ReadCell {
    const v = this.v;
    switch (this.type) {
      case T_N:
        if (!this.hasType && this.isText !== null) return { t: 's', v: this.isText };
        if (v === null || v === '') return null;
        if (!NUMBER_READ.test(v)) throw this.bad(`number cell holds ${JSON.stringify(v.slice(0, 40))}`);
        return { t: 'n', v };
      case T_INLINE:
        if (this.isText !== null) return { t: 's', v: this.isText };
        return v === null ? null : { t: 's', v: decodeXstring(v) };
      case T_S: {
        if (v === null || v === '') return null;
        const table = this.sharedStrings();
        if (!/^\d+$/.test(v)) throw this.bad(`shared string index ${JSON.stringify(v)} is not a number`);
        const text = table?.get(Number(v));
        if (text === undefined) {
          throw this.bad(`shared string ${v} does not exist (the table has ${table?.count ?? 0} strings)`);
        }
        return { t: 's', v: text };
      }
      case T_STR:
        if (v === null) return this.isText === null ? null : { t: 's', v: this.isText };
        return { t: 's', v: decodeXstring(v) };
      case T_B:
        if (v === null || v === '') return null;
        if (v === '1' || v === 'true') return { t: 'b', v: true };
        if (v === '0' || v === 'false') return { t: 'b', v: false };
        throw this.bad(`boolean cell holds ${JSON.stringify(v.slice(0, 40))}`);
      case T_E:
        return v === null ? null : { t: 'e', v };
      default:
        // T_D: an ISO 8601 date, kept as its text.
        return v === null || v === '' ? null : { t: 's', v };
    }
  }

  private bad(why: string): WorkbookError {
    return new WorkbookError(
      'BAD_WORKBOOK',
      `${this.part}, row ${this.rowNumber}: ${why}; the sheet is damaged or was not written as SpreadsheetML`,
    );
  }
}

function cellType(s: string, vs: number, ve: number): number {
  const len = ve - vs;
  const c = s.charCodeAt(vs);
  if (len === 1) {
    if (c === 115) return T_S;
    if (c === 110) return T_N;
    if (c === 98) return T_B;
    if (c === 101) return T_E;
    if (c === 100) return T_D;
    return -1;
  }
  if (len === 9 && s.startsWith('inlineStr', vs)) return T_INLINE;
  if (len === 3 && s.startsWith('str', vs)) return T_STR;
  return -1;
}

/** Turns sharedStrings.xml events into the table. */
export class SharedStringsHandler implements ScanHandler {
  private inSi = false;
  private rph = 0;
  private cur = '';
  private tText = '';
  wantsText = false;

  constructor(private readonly table: SharedStringTable) {}

  text(value: string): void {
    this.tText += value;
  }

  open(name: number, _s: string, _a: Int32Array, _count: number, selfClosing: boolean): void {
    if (name === NAME_SI) {
      if (selfClosing) this.table.add('');
      else {
        this.inSi = true;
        this.cur = '';
        this.rph = 0;
      }
    } else if (name === NAME_T) {
      if (this.inSi && this.rph === 0 && !selfClosing) {
        this.wantsText = true;
        this.tText = '';
      }
    } else if (name === NAME_RPH) {
      if (this.inSi && !selfClosing) this.rph++;
    }
  }

  close(name: number): void {
    if (name === NAME_T) {
      if (this.wantsText) {
        this.wantsText = false;
        this.cur += decodeXstring(this.tText);
        this.tText = '';
      }
    } else if (name === NAME_RPH) {
      if (this.rph > 0) this.rph--;
    } else if (name === NAME_SI && this.inSi) {
      this.inSi = false;
      this.table.add(this.cur);
      this.cur = '';
    }
  }
}

interface SheetEntry extends SheetInfo {
  readonly part: string;
}

class WorkbookReaderImpl implements WorkbookReader {
  readonly sheets: readonly SheetInfo[];
  private sst: SharedStringTable | undefined;
  private sstLoading: Promise<void> | undefined;
  private closed = false;
  private readonly open = new Set<Readable>();

  constructor(
    private readonly zip: ZipFile,
    private readonly range: RangeReader,
    private readonly sourceReader: SourceReader | undefined,
    private readonly entries: Map<string, Entry>,
    private readonly sheetEntries: readonly SheetEntry[],
    private readonly sharedStringsPart: string | undefined,
  ) {
    this.sheets = sheetEntries.map(({ name, index, state }) => ({ name, index, state }));
  }

  get uncompressedBytes(): number {
    let total = 0;
    for (const e of this.entries.values()) total += e.uncompressedSize;
    return total;
  }

  rows(sheetName: string): AsyncIterable<RowRead> {
    const sheet = this.sheetEntries.find((s) => s.name === sheetName);
    if (!sheet) {
      const names = this.sheetEntries.map((s) => JSON.stringify(s.name)).join(', ');
      throw new WorkbookError(
        'NO_SUCH_SHEET',
        `the workbook has no sheet named ${JSON.stringify(sheetName)}; it has ${names}`,
      );
    }
    return this.readSheet(sheet);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // yauzl closes the file (or the RandomAccessSource) once no entry stream is open any more.
    const done = new Promise<void>((resolve) => this.zip.once('close', () => resolve()));
    for (const stream of this.open) stream.destroy();
    this.zip.close();
    await done;
    if (this.sourceReader?.closeError) throw this.sourceReader.closeError;
  }

  private async *readSheet(sheet: SheetEntry): AsyncGenerator<RowRead> {
    if (this.sharedStringsPart !== undefined) await this.loadSharedStrings();
    const part = `sheet ${JSON.stringify(sheet.name)} (${sheet.part})`;
    const handler = new SheetHandler(part, () => this.sst);
    const scanner = new XmlScanner(part, handler);
    for await (const text of this.decodedPart(sheet.part, part)) {
      scanner.feed(text);
      const rows = handler.take();
      for (let i = 0; i < rows.length; i++) yield rows[i] as RowRead;
    }
    scanner.end();
    const rows = handler.take();
    for (let i = 0; i < rows.length; i++) yield rows[i] as RowRead;
  }

  private loadSharedStrings(): Promise<void> {
    this.sstLoading ??= (async () => {
      const partName = this.sharedStringsPart as string;
      const table = new SharedStringTable();
      const part = `shared strings (${partName})`;
      const scanner = new XmlScanner(part, new SharedStringsHandler(table));
      for await (const text of this.decodedPart(partName, part)) scanner.feed(text);
      scanner.end();
      this.sst = table;
    })();
    return this.sstLoading;
  }

  /**
   * The part's text, decoded from UTF-8 chunk by chunk (invalid UTF-8 is refused). The part is
   * inflated here rather than by yauzl, with 256 KiB output chunks instead of zlib's 16 KiB: each
   * chunk is a thread-pool round trip, and fewer of them make reading markedly faster. Its size is
   * checked against the zip's central directory as yauzl would.
   */
  private async *decodedPart(partName: string, label: string): AsyncGenerator<string> {
    if (this.closed) throw new WorkbookError('WRONG_STATE', 'the workbook is closed');
    const entry = findEntry(this.entries, partName);
    if (!entry) throw new WorkbookError('BAD_WORKBOOK', `${label}: the workbook has no such part`);
    const stream = await openPartData(this.zip, entry, label, this.range);
    this.open.add(stream);
    const decoder = new TextDecoder('utf-8', { fatal: true });
    const expected = entry.uncompressedSize;
    let seen = 0;
    let first = true;
    try {
      for await (const chunk of stream) {
        const bytes = chunk as Buffer;
        seen += bytes.length;
        if (seen > expected)
          throw new WorkbookError(
            'BAD_WORKBOOK',
            `${label}: more data than the zip declares; the file is damaged`,
          );
        if (first && bytes.length >= 2) {
          first = false;
          if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
            throw new WorkbookError('BAD_WORKBOOK', `${label}: it is UTF-16; this reader reads UTF-8 only`);
          }
        }
        yield decoder.decode(bytes, { stream: true });
      }
      if (seen !== expected) {
        throw new WorkbookError(
          'BAD_WORKBOOK',
          `${label}: ${seen} bytes where the zip declares ${expected}; the file is damaged`,
        );
      }
      yield decoder.decode();
    } catch (err) {
      if (err instanceof TypeError && /encoded data|decode/i.test(err.message)) {
        throw new WorkbookError('BAD_WORKBOOK', `${label}: it is not valid UTF-8`, { cause: err });
      }
      throw asWorkbookError(err, label);
    } finally {
      this.open.delete(stream);
      stream.destroy();
    }
  }
}

function asWorkbookError(err: unknown, label: string): Error {
  if (err instanceof WorkbookError) return err;
  const e = err as Error;
  return new WorkbookError('BAD_WORKBOOK', `${label}: cannot be read (${e.message})`, { cause: e });
}

function findEntry(entries: Map<string, Entry>, name: string): Entry | undefined {
  const exact = entries.get(name);
  if (exact) return exact;
  // Part names are case-insensitive in OPC.
  const lower = name.toLowerCase();
  for (const [k, e] of entries) if (k.toLowerCase() === lower) return e;
  return undefined;
}

const INFLATE_CHUNK = 256 << 10;
/** Bytes per read of a part's compressed data (yauzl reads 16 KiB at a time). */
const READ_CHUNK = 1 << 20;

/** Reads bytes [start, end) of the workbook file. */
type RangeReader = (start: number, end: number) => Readable;

/**
 * An entry's data, inflated. yauzl checks the entry's local header against the central directory
 * and says where its data starts; the data itself is read here in 1 MiB reads and inflated with
 * 256 KiB output chunks (yauzl: 16 KiB and 16 KiB): each read and each inflate chunk is a
 * thread-pool round trip, and fewer of them make reading markedly faster. decodedPart checks the
 * inflated size against the central directory, as yauzl would.
 */
async function openPartData(
  zip: ZipFile,
  entry: Entry,
  label: string,
  range: RangeReader,
): Promise<Readable> {
  if (entry.isEncrypted()) throw new WorkbookError('BAD_WORKBOOK', `${label}: the part is encrypted`);
  if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8) {
    throw new WorkbookError(
      'BAD_WORKBOOK',
      `${label}: zip compression method ${entry.compressionMethod} is not supported`,
    );
  }
  let start: number;
  try {
    ({ fileDataStart: start } = await zip.readLocalFileHeaderPromise(entry, { minimal: true }));
  } catch (err) {
    throw asWorkbookError(err, label);
  }
  const raw = entry.compressedSize === 0 ? Readable.from([]) : range(start, start + entry.compressedSize);
  if (entry.compressionMethod === 0) return raw;
  const inflate = createInflateRaw({ chunkSize: INFLATE_CHUNK });
  raw.on('error', (err) => inflate.destroy(err));
  inflate.on('close', () => raw.destroy());
  return raw.pipe(inflate);
}

function rangeReader(source: string | RandomAccessSource): RangeReader {
  if (typeof source === 'string') {
    return (start, end) => createReadStream(source, { start, end: end - 1, highWaterMark: READ_CHUNK });
  }
  return (start, end) => {
    const s = source.createReadStream(start, end);
    return s instanceof Readable ? s : Readable.from(s as AsyncIterable<Buffer>);
  };
}

function openEntry(zip: ZipFile, entries: Map<string, Entry>, name: string): Promise<Readable> {
  const entry = findEntry(entries, name);
  if (!entry) return Promise.reject(new WorkbookError('BAD_WORKBOOK', `the workbook has no part ${name}`));
  return new Promise((resolve, reject) => {
    zip.openReadStream(entry, (err, stream) => {
      if (err) reject(asWorkbookError(err, name));
      else resolve(stream);
    });
  });
}

async function readSmallPart(
  zip: ZipFile,
  entries: Map<string, Entry>,
  name: string,
): Promise<string | undefined> {
  const entry = findEntry(entries, name);
  if (!entry) return undefined;
  if (entry.uncompressedSize > MAX_SMALL_PART) {
    throw new WorkbookError(
      'BAD_WORKBOOK',
      `${name}: ${entry.uncompressedSize} bytes is too large for this part`,
    );
  }
  const stream = await openEntry(zip, entries, name);
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of stream) chunks.push(chunk as Buffer);
  } catch (err) {
    throw asWorkbookError(err, name);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch (err) {
    throw new WorkbookError('BAD_WORKBOOK', `${name}: it is not valid UTF-8`, { cause: err });
  }
}

/** Parses a small XML part with saxes, calling `onTag` for each start tag. */
function parseSmall(text: string, name: string, onTag: (tag: SaxesTagNS) => void): void {
  const parser = new SaxesParser({ xmlns: true, fileName: name });
  parser.on('doctype', () => {
    throw new WorkbookError('BAD_WORKBOOK', `${name}: it has a DTD, which SpreadsheetML never uses`);
  });
  parser.on('opentag', onTag);
  try {
    parser.write(text).close();
  } catch (err) {
    if (err instanceof WorkbookError) throw err;
    throw new WorkbookError('BAD_WORKBOOK', `${name}: not well-formed XML (${(err as Error).message})`, {
      cause: err,
    });
  }
}

function attr(tag: SaxesTagNS, local: string, uriEnd?: string): string | undefined {
  for (const a of Object.values(tag.attributes)) {
    if (a.local !== local) continue;
    if (uriEnd === undefined ? a.uri === '' : a.uri.endsWith(uriEnd)) return a.value;
  }
  return undefined;
}

async function readRelationships(
  zip: ZipFile,
  entries: Map<string, Entry>,
  part: string,
): Promise<Relationship[]> {
  const relsName = relsPartOf(part);
  const text = await readSmallPart(zip, entries, relsName);
  if (text === undefined) return [];
  const rels: Relationship[] = [];
  parseSmall(text, relsName, (tag) => {
    if (tag.local !== 'Relationship') return;
    const id = attr(tag, 'Id');
    const type = attr(tag, 'Type');
    const target = attr(tag, 'Target');
    if (id === undefined || type === undefined || target === undefined) return;
    rels.push({ id, type, target, external: attr(tag, 'TargetMode') === 'External' });
  });
  return rels;
}

/**
 * Opens a workbook from a file path or from a RandomAccessSource (e.g. a stored entry inside a
 * bundle). Reads the zip's central directory and the workbook's structure; rows are read by
 * `rows(sheetName)`. Throws BAD_WORKBOOK for a file that is not a readable .xlsx.
 */
export async function openWorkbook(source: string | RandomAccessSource): Promise<WorkbookReader> {
  const label = typeof source === 'string' ? source : 'the workbook';
  let zip: ZipFile;
  let sourceReader: SourceReader | undefined;
  try {
    ({ zip, reader: sourceReader } = await openZip(source));
  } catch (err) {
    if (typeof source !== 'string') await source.close().catch(() => {});
    throw new WorkbookError(
      'BAD_WORKBOOK',
      `${label} is not a readable zip file (${(err as Error).message})`,
      {
        cause: err,
      },
    );
  }
  try {
    const entries = await readEntries(zip);
    const rootRels = await readRelationships(zip, entries, '');
    const officeRel = rootRels.find((r) => r.type.endsWith(REL_OFFICE_DOCUMENT) && !r.external);
    const workbookPart = officeRel ? resolveTarget('', officeRel.target) : 'xl/workbook.xml';
    const workbookText = await readSmallPart(zip, entries, workbookPart);
    if (workbookText === undefined) {
      throw new WorkbookError('BAD_WORKBOOK', `${label} is not a workbook: it has no ${workbookPart}`);
    }
    const rels = await readRelationships(zip, entries, workbookPart);
    const byId = new Map(rels.map((r) => [r.id, r]));
    const listed: Array<{ name: string; rid: string; state: SheetInfo['state'] }> = [];
    parseSmall(workbookText, workbookPart, (tag) => {
      if (tag.local !== 'sheet') return;
      const name = attr(tag, 'name');
      const rid = attr(tag, 'id', '/relationships');
      if (name === undefined || rid === undefined) return;
      const state = attr(tag, 'state');
      listed.push({ name, rid, state: state === 'hidden' || state === 'veryHidden' ? state : 'visible' });
    });
    const sheets: SheetEntry[] = [];
    for (const s of listed) {
      const rel = byId.get(s.rid);
      if (!rel || rel.external || !rel.type.endsWith(REL_WORKSHEET)) continue;
      sheets.push({
        name: s.name,
        index: sheets.length,
        state: s.state,
        part: resolveTarget(workbookPart, rel.target),
      });
    }
    const sstRel = rels.find((r) => r.type.endsWith(REL_SHARED_STRINGS) && !r.external);
    const sstPart = sstRel ? resolveTarget(workbookPart, sstRel.target) : undefined;
    return new WorkbookReaderImpl(
      zip,
      rangeReader(source),
      sourceReader,
      entries,
      sheets,
      sstPart && findEntry(entries, sstPart) ? sstPart : undefined,
    );
  } catch (err) {
    zip.close();
    throw asWorkbookError(err, label);
  }
}
