import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cell, MAX_CELL_CHARS, safeSheetName } from '../src/index.js';
import {
  cell,
  expectedRows,
  fileRangeSource,
  nastyString,
  readWorkbook,
  type SheetSpec,
  tempDir,
  writeWorkbook,
} from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterAll(async () => {
  await cleanup();
});

let fileNo = 0;
const nextPath = () => join(dir, `rt-${++fileNo}.xlsx`);

describe('write → read round trip', () => {
  it('gives back every cell exactly, for arbitrary sheets of arbitrary cells', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            base: nastyString(4),
            rows: fc.array(fc.array(cell(), { maxLength: 12 }), { maxLength: 25 }),
            freeze: fc.boolean(),
            bold: fc.boolean(),
          }),
          { minLength: 1, maxLength: 3 },
        ),
        fc.integer({ min: 0, max: 9 }),
        async (sheetArbs, level) => {
          const taken: string[] = [];
          const sheets: SheetSpec[] = sheetArbs.map((s) => {
            const name = safeSheetName(s.base, taken);
            taken.push(name);
            return { name, rows: s.rows, opts: { freezeHeader: s.freeze, headerStyle: s.bold } };
          });
          const path = nextPath();
          await writeWorkbook(path, sheets, { compressionLevel: level });
          const back = await readWorkbook(path);
          expect(back.sheets).toEqual(sheets.map((s) => s.name));
          for (const s of sheets) {
            expect(back.rows.get(s.name)).toEqual(expectedRows(s.rows));
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('keeps text that needs escaping exactly: CR, CRLF, controls, literal escapes, edges', async () => {
    const texts = [
      '',
      ' ',
      '  leading',
      'trailing  ',
      '\tTAB\t',
      '\nNL\n',
      'a\r\nb',
      '\r',
      '\r\n\r\n',
      'x\u0000y\u0001\u001fz',
      'lit _x000D_ here',
      '_x0041_x0042_',
      '_x0041\u0001',
      '_x0001\u0001',
      '_x005F_',
      '_x005f_x005F_',
      '__x0041__',
      '_xD83D__xDE00_',
      'a_x',
      'a_x12',
      '\ufffe\uffff',
      '😀 👩‍👩‍👧 שלום مرحبا \u202e',
      '&amp; &lt; <tag> ]]> "q" \'a\'',
      'x'.repeat(MAX_CELL_CHARS),
      '😀'.repeat(Math.floor(MAX_CELL_CHARS / 2)),
      '\r'.repeat(MAX_CELL_CHARS),
    ];
    const rows: Cell[][] = texts.map((v) => [{ t: 's', v }]);
    const path = nextPath();
    await writeWorkbook(path, [{ name: 'text', rows }]);
    const back = await readWorkbook(path);
    expect(back.rows.get('text')).toEqual(expectedRows(rows));
  });

  it('keeps number text exactly as given and tells an empty string from NULL', async () => {
    const rows: Cell[][] = [
      [
        { t: 'n', v: '1.50' },
        { t: 'n', v: '-0' },
        { t: 'n', v: '1E+2' },
        { t: 'n', v: '9007199254740993' },
      ],
      [null, { t: 's', v: '' }, null, { t: 'b', v: false }],
      [],
      [null, null, null],
      [{ t: 'b', v: true }],
    ];
    const path = nextPath();
    await writeWorkbook(path, [{ name: 'values', rows }]);
    const back = await readWorkbook(path);
    expect(back.rows.get('values')).toEqual([
      { rowNumber: 1, cells: rows[0] },
      { rowNumber: 2, cells: [null, { t: 's', v: '' }, null, { t: 'b', v: false }] },
      { rowNumber: 3, cells: [] },
      { rowNumber: 4, cells: [] },
      { rowNumber: 5, cells: [{ t: 'b', v: true }] },
    ]);
  });

  it('reads a workbook through a RandomAccessSource (a byte range inside another file) and closes it', async () => {
    const rows: Cell[][] = Array.from({ length: 500 }, (_, i) => [
      { t: 'n', v: String(i) },
      { t: 's', v: `row ${i} \r\n ${'é'.repeat(i % 50)}` },
    ]);
    const xlsx = nextPath();
    await writeWorkbook(xlsx, [
      { name: 'a', rows },
      { name: 'b', rows: rows.slice(0, 3) },
    ]);
    const size = (await stat(xlsx)).size;
    // The workbook stored at an offset inside a bigger file, as in a bundle.
    const host = join(dir, 'host.bin');
    await writeFile(
      host,
      Buffer.concat([Buffer.alloc(12345, 7), await readFile(xlsx), Buffer.alloc(999, 9)]),
    );
    const source = await fileRangeSource(host, 12345, size);
    const back = await readWorkbook(source);
    expect(back.sheets).toEqual(['a', 'b']);
    expect(back.rows.get('a')).toEqual(expectedRows(rows));
    expect(back.rows.get('b')).toEqual(expectedRows(rows.slice(0, 3)));
    expect(source.closed).toBe(true);
  });

  it('writes zip64 records when asked (they come by themselves past 4 GiB) and reads them back', async () => {
    const rows: Cell[][] = Array.from({ length: 100 }, (_, i) => [
      { t: 'n', v: String(i) },
      { t: 's', v: 'z'.repeat(i) },
    ]);
    const path = nextPath();
    await writeWorkbook(path, [{ name: 'z', rows }], { forceZip64: true });
    const bytes = await readFile(path);
    // The zip64 end of central directory record and its locator are there.
    expect(bytes.includes(Buffer.from([0x50, 0x4b, 0x06, 0x06]))).toBe(true);
    expect(bytes.includes(Buffer.from([0x50, 0x4b, 0x06, 0x07]))).toBe(true);
    expect((await readWorkbook(path)).rows.get('z')).toEqual(expectedRows(rows));
  });

  it('writes several sheets one after another, each readable alone and in any order', async () => {
    const sheets: SheetSpec[] = Array.from({ length: 5 }, (_, k) => ({
      name: `sheet ${k}`,
      rows: Array.from({ length: 50 * (k + 1) }, (_, i) => [{ t: 'n', v: String(k * 1000 + i) }] as Cell[]),
    }));
    const path = nextPath();
    await writeWorkbook(path, sheets);
    const { openWorkbook } = await import('../src/index.js');
    const wb = await openWorkbook(path);
    for (const s of [...sheets].reverse()) {
      const got: string[] = [];
      for await (const row of wb.rows(s.name)) got.push((row.cells[0] as { v: string }).v);
      expect(got).toEqual(s.rows.map((r) => (r[0] as { v: string }).v));
    }
    // A second pass over the same sheet, and two sheets read at the same time.
    const a = wb.rows('sheet 1')[Symbol.asyncIterator]();
    const b = wb.rows('sheet 2')[Symbol.asyncIterator]();
    expect((await a.next()).value?.rowNumber).toBe(1);
    expect((await b.next()).value?.rowNumber).toBe(1);
    expect((await a.next()).value?.rowNumber).toBe(2);
    await a.return?.();
    await b.return?.();
    await wb.close();
  });
});
