/**
 * A streaming SpreadsheetML (.xlsx) writer: sheets one after another, each sheet's XML generated row
 * by row with inline strings, zipped by archiver into the caller's Writable with real backpressure.
 *
 * Why not exceljs's streaming writer (measured here, bench/README.md): it has no backpressure (its
 * memory grows with the rows of a sheet), it is several times slower, its shared strings lose '',
 * and it drops control characters and turns "\r\n" into "\n".
 */
import { PassThrough, type Writable } from 'node:stream';
import { ZipArchive } from 'archiver';
import { WorkbookError } from './errors.js';
import { encodeText, loneSurrogateError, UnpairedSurrogate } from './escape.js';
import { checkSheetName, columnName, MAX_CELL_CHARS, MAX_COLUMNS, MAX_ROWS, sheetNameKey } from './limits.js';
import {
  appPropsXml,
  contentTypesXml,
  corePropsXml,
  HEADER_STYLE_INDEX,
  rootRelsXml,
  SHEET_TAIL_XML,
  sheetHeadXml,
  sheetPartName,
  stylesXml,
  workbookRelsXml,
  workbookXml,
} from './parts.js';

/**
 * One cell:
 * - `null` (or `undefined`): no cell at all — an empty cell, which is how NULL is written;
 * - `{ t: 's', v }`: a string cell holding exactly `v` ('' is an empty-string cell, not NULL);
 * - `{ t: 'n', v }`: a number cell; `v` is the exact decimal text written into `<v>` and read back
 *   as is (e.g. '42', '-0.5', '1.5E-7'); it must be an xsd:double lexical form of a finite number
 *   without a '+' sign — the caller chooses text that round-trips;
 * - `{ t: 'b', v }`: a boolean cell.
 */
export type Cell =
  | null
  | { readonly t: 's'; readonly v: string }
  | { readonly t: 'n'; readonly v: string }
  | { readonly t: 'b'; readonly v: boolean };

export interface WorkbookWriterOptions {
  /** zlib deflate level 0–9 for every part; 0 stores without compression. Default 1. */
  compressionLevel?: number;
  /** Written as the workbook's author (docProps/core.xml). Default 'sam-backup'. */
  creator?: string;
  /** Written as the creation time (docProps/core.xml) and the zip entries' dates. Default now. */
  created?: Date;
  /** Always write zip64 records (they are added by themselves when a part passes 4 GiB). */
  forceZip64?: boolean;
  /**
   * Rows allowed per sheet. Default and maximum MAX_ROWS (Excel's limit); a lower value exists so
   * tests can reach the limit quickly.
   */
  maxRowsPerSheet?: number;
}

export interface SheetOptions {
  /** Column widths in characters (Excel's unit), first column first; 0–255 each. */
  columnWidths?: readonly number[];
  /** Freeze the first row so it stays visible while scrolling. */
  freezeHeader?: boolean;
  /** Write the first row's cells in bold. */
  headerStyle?: boolean;
}

/**
 * Writes one worksheet. Backpressure contract (that of a Node stream): `writeRow` returns `false`
 * when the zip output is behind; the caller then awaits `drain()` before writing more rows.
 * Ignoring `false` is not an error but lets memory grow.
 *
 *     for (const row of rows) if (!sheet.writeRow(row)) await sheet.drain();
 *     await sheet.end();
 */
export interface SheetWriter {
  readonly name: string;
  /** Rows written so far (the header row included). */
  readonly rowCount: number;
  /**
   * Appends the next row (row numbers start at 1). Validates every cell first: on a refusal
   * (CELL_TOO_LONG, BAD_CELL, LONE_SURROGATE, TOO_MANY_ROWS, TOO_MANY_COLUMNS) nothing of the row
   * is written and the sheet stays usable. Trailing nulls write nothing; a reader returns the row
   * shorter.
   */
  writeRow(cells: readonly Cell[]): boolean;
  /** Resolves when the writer may take rows again (at once if it can); rejects if the output failed. */
  drain(): Promise<void>;
  /** Ends the sheet; resolves once its part is in the zip stream. Calling it again returns the same promise. */
  end(): Promise<void>;
}

const NUMBER_TEXT = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
// XML is collected into a buffer of CHUNK_CAPACITY bytes and handed to the zip stream once it holds
// CHUNK_BYTES: archiver's deflate stream costs a thread-pool round trip per chunk, so big chunks
// nearly double its throughput (bench/README.md). Memory stays a few MiB whatever the row count.
const CHUNK_BYTES = 1 << 20;
const CHUNK_CAPACITY = CHUNK_BYTES + (256 << 10);
const SHEET_STREAM_HWM = 1 << 20;
/** A sheet starts with a small buffer (most Odoo tables are small) that grows to CHUNK_CAPACITY. */
const FIRST_CAPACITY = 16 << 10;
/** zlib output chunk size: fewer, larger thread-pool round trips than the 16 KiB default. */
export const ZLIB_CHUNK_SIZE = 256 << 10;

const EMPTY = Buffer.alloc(0);

/** `<c r="` + the column letters, per column index. */
const CELL_OPEN: string[] = [];
function cellOpen(i: number): string {
  let s = CELL_OPEN[i];
  if (s === undefined) {
    s = `<c r="${columnName(i)}`;
    CELL_OPEN[i] = s;
  }
  return s;
}

/** Leading or trailing whitespace, which Excel trims unless the text says xml:space="preserve". */
function edgeSpace(c: number): boolean {
  return (
    c <= 32 ||
    c === 0x85 ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: Error) => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A rejection nobody awaits must not crash the process; awaiting callers still see it.
  promise.catch(() => {});
  return { promise, resolve, reject };
}

class SheetWriterImpl implements SheetWriter {
  readonly name: string;
  readonly partName: string;
  rowCount = 0;
  readonly source: PassThrough;
  /** Set by end(). */
  ended: Promise<void> | undefined;
  /** XML bytes not yet handed to the zip stream: buf[0, pos). */
  private buf: Buffer = Buffer.allocUnsafe(FIRST_CAPACITY);
  private pos = 0;
  private needDrain = false;
  private drainWaiter: Deferred | undefined;
  private readonly boldHeader: boolean;

  constructor(
    private readonly book: WorkbookWriter,
    name: string,
    index: number,
    opts: SheetOptions,
    private readonly maxRows: number,
  ) {
    this.name = name;
    this.partName = sheetPartName(index);
    this.boldHeader = opts.headerStyle === true;
    this.source = new PassThrough({ highWaterMark: SHEET_STREAM_HWM });
    this.source.on('drain', () => {
      this.needDrain = false;
      const w = this.drainWaiter;
      this.drainWaiter = undefined;
      w?.resolve();
    });
    this.put(
      sheetHeadXml({
        selected: index === 0,
        freezeHeader: opts.freezeHeader === true,
        columnWidths: opts.columnWidths,
      }),
    );
  }

  writeRow(cells: readonly Cell[]): boolean {
    if (this.ended !== undefined || this.book.failure !== undefined) this.refuseWrite();
    const r = this.rowCount + 1;
    if (r > this.maxRows) {
      throw new WorkbookError(
        'TOO_MANY_ROWS',
        `sheet ${JSON.stringify(this.name)}: row ${r} is over the limit of ${this.maxRows} rows per sheet; ` +
          'end this sheet and continue on a new one',
      );
    }
    const n = cells.length;
    if (n > MAX_COLUMNS) {
      throw new WorkbookError(
        'TOO_MANY_COLUMNS',
        `sheet ${JSON.stringify(this.name)}, row ${r}: ${n} cells is over Excel's limit of ${MAX_COLUMNS} columns`,
      );
    }
    const rs = String(r);
    // Every cell of the row is checked and encoded before any byte of it is written.
    let x = `<row r="${rs}">`;
    let i = 0;
    try {
      if (this.boldHeader && r === 1) return this.writeHeaderRow(cells, rs);
      for (; i < n; i++) {
        const cell = cells[i];
        if (cell == null) continue;
        switch (cell.t) {
          case 's': {
            const v = cell.v;
            if (typeof v !== 'string') throw this.badCell(r, i, 'a string cell needs a string value');
            const len = v.length;
            if (len > MAX_CELL_CHARS) throw this.tooLong(r, i, len);
            if (len === 0) {
              x += `${cellOpen(i)}${rs}" t="inlineStr"><is><t></t></is></c>`;
            } else if (edgeSpace(v.charCodeAt(0)) || edgeSpace(v.charCodeAt(len - 1))) {
              x += `${cellOpen(i)}${rs}" t="inlineStr"><is><t xml:space="preserve">${encodeText(v)}</t></is></c>`;
            } else {
              x += `${cellOpen(i)}${rs}" t="inlineStr"><is><t>${encodeText(v)}</t></is></c>`;
            }
            break;
          }
          case 'n': {
            const v = cell.v;
            if (
              typeof v !== 'string' ||
              !NUMBER_TEXT.test(v) ||
              (/[eE]/.test(v) && !Number.isFinite(Number(v)))
            ) {
              throw this.badCell(r, i, `${JSON.stringify(v)} is not the decimal text of a finite number`);
            }
            x += `${cellOpen(i)}${rs}"><v>${v}</v></c>`;
            break;
          }
          case 'b': {
            const v = cell.v;
            if (typeof v !== 'boolean') throw this.badCell(r, i, 'a boolean cell needs true or false');
            x += v ? `${cellOpen(i)}${rs}" t="b"><v>1</v></c>` : `${cellOpen(i)}${rs}" t="b"><v>0</v></c>`;
            break;
          }
          default:
            throw this.badCell(
              r,
              i,
              "a cell is null, { t: 's', v: string }, { t: 'n', v: string } or { t: 'b', v: boolean }",
            );
        }
      }
    } catch (err) {
      if (err instanceof UnpairedSurrogate) throw loneSurrogateError(this.where(r, i), err.index);
      throw err;
    }
    this.put(`${x}</row>`);
    this.rowCount = r;
    if (this.pos >= CHUNK_BYTES) this.flush();
    return !this.needDrain;
  }

  /** The first row in the bold header style (the same cells as writeRow, with s="1"). */
  private writeHeaderRow(cells: readonly Cell[], rs: string): boolean {
    const s = ` s="${HEADER_STYLE_INDEX}"`;
    let x = `<row r="${rs}">`;
    let i = 0;
    try {
      for (; i < cells.length; i++) {
        const cell = cells[i];
        if (cell == null) continue;
        const ref = `${cellOpen(i)}${rs}"${s}`;
        if (cell.t === 's' && typeof cell.v === 'string') {
          const v = cell.v;
          if (v.length > MAX_CELL_CHARS) throw this.tooLong(1, i, v.length);
          const space = v.length > 0 && (edgeSpace(v.charCodeAt(0)) || edgeSpace(v.charCodeAt(v.length - 1)));
          x += `${ref} t="inlineStr"><is><t${space ? ' xml:space="preserve"' : ''}>${encodeText(v)}</t></is></c>`;
        } else if (cell.t === 'n' && typeof cell.v === 'string' && NUMBER_TEXT.test(cell.v)) {
          if (/[eE]/.test(cell.v) && !Number.isFinite(Number(cell.v)))
            throw this.badCell(1, i, 'not a finite number');
          x += `${ref}><v>${cell.v}</v></c>`;
        } else if (cell.t === 'b' && typeof cell.v === 'boolean') {
          x += `${ref} t="b"><v>${cell.v ? '1' : '0'}</v></c>`;
        } else {
          throw this.badCell(
            1,
            i,
            "a cell is null, { t: 's', v: string }, { t: 'n', v: string } or { t: 'b', v: boolean }",
          );
        }
      }
    } catch (err) {
      if (err instanceof UnpairedSurrogate) throw loneSurrogateError(this.where(1, i), err.index);
      throw err;
    }
    this.put(`${x}</row>`);
    this.rowCount = 1;
    return !this.needDrain;
  }

  drain(): Promise<void> {
    if (this.book.failure !== undefined) return Promise.reject(this.book.failure);
    if (!this.needDrain) return Promise.resolve();
    this.drainWaiter ??= deferred();
    return this.drainWaiter.promise;
  }

  end(): Promise<void> {
    if (this.ended !== undefined) return this.ended;
    if (this.book.failure !== undefined) return Promise.reject(this.book.failure);
    this.put(SHEET_TAIL_XML);
    this.flush(true);
    this.source.end();
    this.ended = this.book.entryWritten(this.partName);
    return this.ended;
  }

  /** Called by the workbook when it fails or is aborted. */
  fail(err: Error): void {
    const w = this.drainWaiter;
    this.drainWaiter = undefined;
    w?.reject(err);
    this.pos = 0;
    this.source.destroy();
  }

  /** Appends `xml` as UTF-8 (at most 3 bytes per UTF-16 code unit). */
  private put(xml: string): void {
    const max = xml.length * 3;
    if (this.pos + max > this.buf.length) {
      if (this.buf.length < CHUNK_CAPACITY && this.pos + max <= CHUNK_CAPACITY) {
        const bigger = Buffer.allocUnsafe(
          Math.min(CHUNK_CAPACITY, Math.max(this.buf.length * 4, this.pos + max)),
        );
        this.buf.copy(bigger, 0, 0, this.pos);
        this.buf = bigger;
      } else {
        this.flush();
        if (max > this.buf.length) this.buf = Buffer.allocUnsafe(max);
      }
    }
    this.pos += this.buf.write(xml, this.pos);
  }

  /** Hands the collected bytes to the zip stream; a fresh buffer takes the next rows. */
  private flush(last = false): void {
    if (this.pos === 0) return;
    const chunk = this.buf.subarray(0, this.pos);
    this.buf = last ? EMPTY : Buffer.allocUnsafe(CHUNK_CAPACITY);
    this.pos = 0;
    if (!this.source.write(chunk)) this.needDrain = true;
  }

  private refuseWrite(): never {
    if (this.book.failure !== undefined) throw this.book.failure;
    throw new WorkbookError(
      'WRONG_STATE',
      `sheet ${JSON.stringify(this.name)} is already ended; add a new sheet to write more rows`,
    );
  }

  private where(r: number, i: number): string {
    return `sheet ${JSON.stringify(this.name)}, cell ${columnName(i)}${r}`;
  }

  private badCell(r: number, i: number, why: string): WorkbookError {
    return new WorkbookError('BAD_CELL', `${this.where(r, i)}: ${why}`);
  }

  private tooLong(r: number, i: number, length: number): WorkbookError {
    return new WorkbookError(
      'CELL_TOO_LONG',
      `${this.where(r, i)}: the text has ${length} characters; a cell holds at most ${MAX_CELL_CHARS} ` +
        '(UTF-16 code units) — cut it (cutCellText) and keep the whole value elsewhere',
    );
  }
}

/**
 * Writes a workbook into `out` (ended when the workbook is complete). Sheets are written one after
 * another: add a sheet, write its rows, end it, then add the next. `finalize` writes the remaining
 * parts (workbook.xml with the sheet names, styles, relationships, content types, properties);
 * they come after the sheets in the zip, as in exceljs's streaming writer, since the sheet names
 * are known only then. Readers that go by the zip's central directory (Excel, LibreOffice, this
 * package's reader) do not mind the order.
 */
export class WorkbookWriter {
  /** The first failure (output error, archiver error, abort); every later call reports it. */
  failure: Error | undefined;
  private readonly archive: ZipArchive;
  private readonly out: NodeJS.WritableStream;
  private readonly sheets: SheetWriterImpl[] = [];
  private readonly sheetKeys = new Set<string>();
  private readonly pendingEntries = new Map<string, Deferred>();
  private readonly outFinished: Deferred = deferred();
  /** Rejects with the failure. */
  private readonly failed: Deferred = deferred();
  private readonly creator: string;
  private readonly created: Date;
  private readonly maxRows: number;
  private finalizing = false;

  constructor(out: NodeJS.WritableStream, opts: WorkbookWriterOptions = {}) {
    const level = opts.compressionLevel ?? 1;
    if (!Number.isInteger(level) || level < 0 || level > 9) {
      throw new WorkbookError('BAD_OPTION', `compressionLevel ${level} is not an integer from 0 to 9`);
    }
    const maxRows = opts.maxRowsPerSheet ?? MAX_ROWS;
    if (!Number.isInteger(maxRows) || maxRows < 1 || maxRows > MAX_ROWS) {
      throw new WorkbookError(
        'BAD_OPTION',
        `maxRowsPerSheet ${maxRows} is not an integer from 1 to ${MAX_ROWS}`,
      );
    }
    this.maxRows = maxRows;
    this.creator = opts.creator ?? 'sam-backup';
    this.created = opts.created ?? new Date();
    this.out = out;
    this.archive = new ZipArchive({
      store: level === 0,
      zlib: { level, chunkSize: ZLIB_CHUNK_SIZE },
      forceZip64: opts.forceZip64 === true,
    });
    this.archive.on('entry', (entry) => {
      const d = this.pendingEntries.get(entry.name);
      this.pendingEntries.delete(entry.name);
      d?.resolve();
    });
    this.archive.on('error', (err) => this.fail(err));
    this.archive.on('warning', (err) => this.fail(err));
    out.on('error', (err: Error) => this.fail(err));
    out.on('finish', () => this.outFinished.resolve());
    this.archive.pipe(out);
  }

  /** Starts the next sheet. The previous sheet must have been ended. */
  addSheet(name: string, opts: SheetOptions = {}): SheetWriter {
    this.checkUsable('add a sheet');
    const open = this.sheets.at(-1);
    if (open && open.ended === undefined) {
      throw new WorkbookError(
        'WRONG_STATE',
        `sheet ${JSON.stringify(open.name)} is still open: await its end() before adding sheet ${JSON.stringify(name)}`,
      );
    }
    checkSheetName(name, this.sheetKeys);
    if (opts.columnWidths !== undefined) {
      for (const w of opts.columnWidths) {
        if (typeof w !== 'number' || !Number.isFinite(w) || w < 0 || w > 255) {
          throw new WorkbookError(
            'BAD_OPTION',
            `sheet ${JSON.stringify(name)}: column width ${w} is not a number from 0 to 255`,
          );
        }
      }
      if (opts.columnWidths.length > MAX_COLUMNS) {
        throw new WorkbookError(
          'BAD_OPTION',
          `sheet ${JSON.stringify(name)}: more than ${MAX_COLUMNS} column widths`,
        );
      }
    }
    const sheet = new SheetWriterImpl(this, name, this.sheets.length, opts, this.maxRows);
    this.sheets.push(sheet);
    this.sheetKeys.add(sheetNameKey(name));
    this.pendingEntries.set(sheet.partName, deferred());
    this.archive.append(sheet.source, { name: sheet.partName, date: this.created });
    return sheet;
  }

  /** Names of the sheets added so far, in order. */
  get sheetNames(): string[] {
    return this.sheets.map((s) => s.name);
  }

  /**
   * Writes the remaining parts and ends `out`; resolves once `out` has taken everything (its
   * 'finish'), with the workbook's size in bytes. The last sheet must have been ended.
   */
  async finalize(): Promise<{ bytes: number }> {
    this.checkUsable('finalize the workbook');
    const open = this.sheets.at(-1);
    if (open && open.ended === undefined) {
      throw new WorkbookError(
        'WRONG_STATE',
        `sheet ${JSON.stringify(open.name)} is still open: await its end() first`,
      );
    }
    if (this.sheets.length === 0) {
      throw new WorkbookError(
        'NO_SHEETS',
        'the workbook has no sheet; Excel cannot open a workbook without one',
      );
    }
    this.finalizing = true;
    const names = this.sheetNames;
    const parts: Array<[string, string]> = [
      ['xl/workbook.xml', workbookXml(names)],
      ['xl/_rels/workbook.xml.rels', workbookRelsXml(names.length)],
      ['xl/styles.xml', stylesXml()],
      ['docProps/core.xml', corePropsXml(this.creator, this.created)],
      ['docProps/app.xml', appPropsXml()],
      ['_rels/.rels', rootRelsXml()],
      ['[Content_Types].xml', contentTypesXml(names.length)],
    ];
    for (const [name, xml] of parts)
      this.archive.append(Buffer.from(xml, 'utf8'), { name, date: this.created });
    await Promise.race([this.archive.finalize(), this.failed.promise]);
    await Promise.race([this.outFinished.promise, this.failed.promise]);
    return { bytes: this.archive.pointer() };
  }

  /**
   * Stops writing: the zip is left incomplete and `out` is destroyed with `err` (or an ABORTED
   * error), so nobody mistakes a cut workbook for a whole one. Pending drain/end/finalize calls reject.
   */
  abort(err?: Error): void {
    this.fail(
      err ?? new WorkbookError('ABORTED', 'the workbook writer was aborted; the workbook is incomplete'),
      false,
    );
  }

  /** @internal Resolves when archiver has taken the whole part `name`. */
  entryWritten(name: string): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return this.pendingEntries.get(name)?.promise ?? Promise.resolve();
  }

  private fail(err: Error, wrap = true): void {
    if (this.failure !== undefined) return;
    const failure =
      !wrap || err instanceof WorkbookError
        ? err
        : new WorkbookError(
            'OUTPUT_FAILED',
            `writing the workbook failed: ${err.message}; the workbook is incomplete — fix the cause and write it again`,
            { cause: err },
          );
    this.failure = failure;
    for (const d of this.pendingEntries.values()) d.reject(failure);
    this.pendingEntries.clear();
    this.outFinished.reject(failure);
    this.failed.reject(failure);
    for (const s of this.sheets) s.fail(failure);
    this.archive.unpipe(this.out as Writable);
    this.archive.abort();
    const out = this.out as NodeJS.WritableStream & { destroy?: (e?: Error) => void; destroyed?: boolean };
    if (typeof out.destroy === 'function' && !out.destroyed) out.destroy(err);
  }

  private checkUsable(what: string): void {
    if (this.failure !== undefined) throw this.failure;
    if (this.finalizing) {
      throw new WorkbookError('WRONG_STATE', `cannot ${what}: the workbook is already finalized`);
    }
  }
}
