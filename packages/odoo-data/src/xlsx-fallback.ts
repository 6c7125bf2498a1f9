/**
 * A small streaming .xlsx reader used only while @sam-backup/workbook does not export its reader
 * (`openWorkbook`): yauzl reads the zip in place (from a path or a bundle's stored entry), saxes
 * parses each worksheet as it streams. Handles inline strings, shared strings (workbooks saved by
 * spreadsheet programs), booleans, numbers (their text as written), and SpreadsheetML's `_xHHHH_`
 * escapes.
 */
import type { Readable } from 'node:stream';
import type { RandomAccessSource } from '@sam-backup/bundle';
import type { Cell } from '@sam-backup/workbook';
import { SaxesParser } from 'saxes';
import yauzl from 'yauzl';
import type { OpenedWorkbook, WorkbookRow } from './workbook-reader.js';

class SourceReader extends yauzl.RandomAccessReader {
  constructor(private readonly src: RandomAccessSource) {
    super();
  }
  override _readStreamForRange(start: number, end: number): Readable {
    return this.src.createReadStream(start, end) as Readable;
  }
}

function decodeXstring(text: string): string {
  if (text.indexOf('_x') < 0) return text;
  return text.replace(/_x([0-9A-Fa-f]{4})_/g, (_m, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
}

function columnIndex(ref: string): number {
  let n = 0;
  for (let i = 0; i < ref.length; i++) {
    const c = ref.charCodeAt(i);
    if (c < 65 || c > 90) break;
    n = n * 26 + (c - 64);
  }
  return n - 1;
}

async function readText(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<string> {
  const s = await zip.openReadStreamPromise(entry);
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Parses a stream of sheet XML, yielding rows in batches. */
async function* parseSheet(stream: Readable, shared: readonly string[]): AsyncGenerator<WorkbookRow> {
  const parser = new SaxesParser();
  let out: WorkbookRow[] = [];
  let rowNumber = 0;
  let cells: Array<Cell | undefined> = [];
  let col = 0;
  let type = 'n';
  let text: string | null = null;
  let inValue = false;
  let inText = false;
  let inRun = false;
  let inPhonetic = false;
  parser.on('opentag', (tag) => {
    switch (tag.name) {
      case 'row':
        rowNumber = tag.attributes.r ? Number(tag.attributes.r) : rowNumber + 1;
        cells = [];
        col = 0;
        break;
      case 'c':
        col = tag.attributes.r ? columnIndex(String(tag.attributes.r)) : col;
        type = tag.attributes.t ? String(tag.attributes.t) : 'n';
        text = null;
        break;
      case 'v':
        inValue = true;
        text ??= '';
        break;
      case 'rPh':
        inPhonetic = true;
        break;
      case 'r':
        inRun = true;
        break;
      case 't':
        if (!inPhonetic) {
          inText = true;
          text ??= '';
        }
        break;
    }
  });
  parser.on('text', (t) => {
    if (inValue || inText) text = (text ?? '') + t;
  });
  parser.on('closetag', (tag) => {
    switch (tag.name) {
      case 'v':
        inValue = false;
        break;
      case 't':
        inText = false;
        break;
      case 'r':
        inRun = false;
        break;
      case 'rPh':
        inPhonetic = false;
        break;
      case 'c': {
        let cell: Cell | undefined;
        if (text !== null) {
          if (type === 's') cell = { t: 's', v: shared[Number(text)] ?? '' };
          else if (type === 'inlineStr' || type === 'str') cell = { t: 's', v: decodeXstring(text) };
          else if (type === 'b') cell = { t: 'b', v: text === '1' || text === 'true' };
          else if (type === 'e') cell = { t: 's', v: text };
          else cell = { t: 'n', v: text };
        }
        cells[col] = cell;
        col++;
        break;
      }
      case 'row':
        out.push({ rowNumber, cells });
        break;
    }
  });
  void inRun;
  for await (const chunk of stream) {
    parser.write((chunk as Buffer).toString('utf8'));
    if (out.length > 0) {
      const batch = out;
      out = [];
      yield* batch;
    }
  }
  parser.close();
  yield* out;
}

function parseShared(xml: string): string[] {
  const out: string[] = [];
  const parser = new SaxesParser();
  let cur: string | null = null;
  let inT = false;
  let inPh = false;
  parser.on('opentag', (t) => {
    if (t.name === 'si') cur = '';
    else if (t.name === 'rPh') inPh = true;
    else if (t.name === 't' && !inPh) inT = true;
  });
  parser.on('text', (t) => {
    if (inT && cur !== null) cur += t;
  });
  parser.on('closetag', (t) => {
    if (t.name === 't') inT = false;
    else if (t.name === 'rPh') inPh = false;
    else if (t.name === 'si') {
      out.push(decodeXstring(cur ?? ''));
      cur = null;
    }
  });
  parser.write(xml).close();
  return out;
}

export async function openXlsx(source: string | RandomAccessSource): Promise<OpenedWorkbook> {
  const zip =
    typeof source === 'string'
      ? await yauzl.openPromise(source, { lazyEntries: true, autoClose: false })
      : await yauzl.fromRandomAccessReaderPromise(new SourceReader(source), source.size, {
          lazyEntries: true,
          autoClose: false,
        });
  const entries = new Map<string, yauzl.Entry>();
  await new Promise<void>((resolve, reject) => {
    zip.on('entry', (e: yauzl.Entry) => {
      entries.set(e.fileName, e);
      zip.readEntry();
    });
    zip.on('end', () => resolve());
    zip.on('error', reject);
    zip.readEntry();
  });
  const text = async (name: string) => {
    const e = entries.get(name);
    return e ? readText(zip, e) : undefined;
  };
  const wbXml = (await text('xl/workbook.xml')) ?? '';
  const relsXml = (await text('xl/_rels/workbook.xml.rels')) ?? '';
  const rels = new Map<string, string>();
  for (const m of relsXml.matchAll(/<Relationship\b[^>]*>/g)) {
    const id = /\bId="([^"]*)"/.exec(m[0])?.[1];
    const target = /\bTarget="([^"]*)"/.exec(m[0])?.[1];
    if (id && target) rels.set(id, target.startsWith('/') ? target.slice(1) : `xl/${target}`);
  }
  const unescapeXml = (s: string) =>
    s.replace(/&(lt|gt|amp|quot|apos|#x?[0-9a-fA-F]+);/g, (_m, e: string) =>
      e === 'lt'
        ? '<'
        : e === 'gt'
          ? '>'
          : e === 'amp'
            ? '&'
            : e === 'quot'
              ? '"'
              : e === 'apos'
                ? "'"
                : String.fromCodePoint(
                    e.startsWith('#x') ? Number.parseInt(e.slice(2), 16) : Number.parseInt(e.slice(1), 10),
                  ),
    );
  const sheetParts = new Map<string, string>();
  const sheets: string[] = [];
  for (const m of wbXml.matchAll(/<sheet\b[^>]*\/?>/g)) {
    const name = /\bname="([^"]*)"/.exec(m[0])?.[1];
    const rid = /\br:id="([^"]*)"/.exec(m[0])?.[1] ?? /\bid="([^"]*)"/.exec(m[0])?.[1];
    if (name === undefined || rid === undefined) continue;
    const n = unescapeXml(name);
    sheets.push(n);
    sheetParts.set(n, rels.get(rid) ?? '');
  }
  const sharedXml = await text('xl/sharedStrings.xml');
  const shared = sharedXml ? parseShared(sharedXml) : [];
  return {
    sheets,
    rows(sheet: string): AsyncIterable<WorkbookRow> {
      const part = sheetParts.get(sheet);
      const entry = part ? entries.get(part) : undefined;
      if (!entry) throw new Error(`the workbook has no sheet ${JSON.stringify(sheet)}`);
      return {
        async *[Symbol.asyncIterator]() {
          const stream = await zip.openReadStreamPromise(entry);
          yield* parseSheet(stream, shared);
        },
      };
    },
    async close() {
      zip.close();
    },
  };
}
