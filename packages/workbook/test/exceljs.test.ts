/**
 * exceljs (a maintained, widely used library) reads what this writer writes, and this reader reads
 * what exceljs writes after a person's edit. Where exceljs itself is lossy, the tests say so and pin
 * down exactly how, so a change in either side shows:
 * - exceljs does not decode ST_Xstring escapes: a CR comes back as the text `_x000D_`, a control
 *   character as `_x0001_`, a literal `_x000D_` as `_x005F_x000D_` (it also writes them back as is,
 *   so a file it re-saves still reads right here);
 * - its non-streaming reader reads an empty string cell as no cell (NULL);
 * - its streaming reader decodes XML references twice (the text `&amp;` comes back as `&`), and
 *   both its readers do so for sheet names;
 * - numbers become JavaScript numbers, so their text may change (`1.5E-7` is saved as `1.5e-7`).
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cell, type ReadCell, safeSheetName } from '../src/index.js';
import { readWorkbook, type SheetSpec, tempDir, writeWorkbook } from './helpers.js';

const require = createRequire(import.meta.url);
// exceljs is CommonJS with loose typings; only what these tests use is described.
interface ExcelCell {
  value: unknown;
  font?: { bold?: boolean };
}
interface ExcelRow {
  number: number;
  values: unknown[];
  getCell(i: number): ExcelCell;
}
interface ExcelSheet {
  name: string;
  views: Array<{ state?: string; ySplit?: number }>;
  getColumn(i: number): { width?: number };
  getRow(i: number): ExcelRow;
  getCell(ref: string): ExcelCell;
  eachRow(opts: { includeEmpty: boolean }, cb: (row: ExcelRow, n: number) => void): void;
}
interface ExcelWorkbook {
  worksheets: ExcelSheet[];
  xlsx: { readFile(path: string): Promise<void>; writeFile(path: string): Promise<void> };
}
const ExcelJS = require('exceljs') as {
  Workbook: new () => ExcelWorkbook;
  stream: {
    xlsx: {
      WorkbookReader: new (
        path: string,
        opts: object,
      ) => AsyncIterable<{ name: string } & AsyncIterable<{ number: number; values: unknown[] }>>;
    };
  };
};

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterAll(async () => {
  await cleanup();
});
let n = 0;
const nextPath = () => join(dir, `x-${++n}.xlsx`);

/** Text exceljs reads without loss: anything but C0 controls (other than TAB/LF), CR, U+FFFE/F and `_x`. */
const plainText = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        '&',
        '<',
        '>',
        '"',
        "'",
        '\t',
        '\n',
        ' ',
        '  ',
        'é',
        '😀',
        'שלום',
        '日本語',
        ']]>',
        '_',
        'x0041_',
        '&amp;',
      ),
      fc.string({ unit: 'grapheme', maxLength: 6 }),
    ),
    { minLength: 1, maxLength: 8 },
  )
  .map((p) => p.join('').replace(/_x/g, '_y'))
  // biome-ignore lint/suspicious/noControlCharactersInRegex: exceljs loses these
  .filter((s) => !/[\u0000-\u0008\u000b-\u001f\ufffe\uffff]/.test(s));

const plainCell: fc.Arbitrary<Cell> = fc.oneof(
  fc.constant(null),
  plainText.map((v) => ({ t: 's' as const, v })),
  // exceljs's readers give null for a <v> in exponent form (seen: -1.6185183442479597e+199), a
  // limitation of exceljs, not of this writer (our own reader round-trips every double, see
  // roundtrip.test.ts): compare only numbers that print without an exponent.
  fc
    .double({ noNaN: true, noDefaultInfinity: true })
    .filter((d) => !/e/i.test(String(d)))
    .map((d) => ({ t: 'n' as const, v: String(d) })),
  fc.integer().map((i) => ({ t: 'n' as const, v: String(i) })),
  fc.boolean().map((v) => ({ t: 'b' as const, v })),
);

/** What exceljs's streaming reader makes of a text: it decodes references a second time. */
function decodedTwice(v: string): string {
  const refs: Record<string, string> = {
    '&lt;': '<',
    '&gt;': '>',
    '&amp;': '&',
    '&apos;': "'",
    '&quot;': '"',
  };
  return v.replace(/&([a-z]*);/g, (m) => refs[m] ?? m);
}

/** exceljs's value for a cell we wrote. */
function asExceljs(c: Cell): unknown {
  if (c === null) return undefined;
  if (c.t === 'n') return Number(c.v);
  return c.v;
}

describe('exceljs reads what this writer writes', () => {
  it('gives the same strings, numbers and booleans, with both its readers', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            base: plainText,
            rows: fc.array(fc.array(plainCell, { maxLength: 8 }), { minLength: 1, maxLength: 15 }),
          }),
          {
            minLength: 1,
            maxLength: 3,
          },
        ),
        async (specs) => {
          const taken: string[] = [];
          const sheets: SheetSpec[] = specs.map((s) => {
            const name = safeSheetName(s.base, taken);
            taken.push(name);
            return { name, rows: s.rows };
          });
          const path = nextPath();
          await writeWorkbook(path, sheets);

          const wb = new ExcelJS.Workbook();
          await wb.xlsx.readFile(path);
          // exceljs decodes references in sheet names a second time too.
          expect(wb.worksheets.map((w) => w.name)).toEqual(sheets.map((s) => decodedTwice(s.name)));
          for (const [k, spec] of sheets.entries()) {
            const ws = wb.worksheets[k] as ExcelSheet;
            spec.rows.forEach((row, r) => {
              row.forEach((c, i) => {
                // exceljs's non-streaming reader reads '' as no value.
                const want = c?.t === 's' && c.v === '' ? null : asExceljs(c);
                expect(
                  ws.getRow(r + 1).getCell(i + 1).value ?? null,
                  `${spec.name} ${r + 1}:${i + 1}`,
                ).toEqual(want ?? null);
              });
            });
          }

          const streamed: Array<[string, Map<number, unknown[]>]> = [];
          for await (const ws of new ExcelJS.stream.xlsx.WorkbookReader(path, {
            worksheets: 'emit',
            sharedStrings: 'cache',
            styles: 'ignore',
          })) {
            const rows = new Map<number, unknown[]>();
            for await (const row of ws) rows.set(row.number, row.values);
            streamed.push([ws.name, rows]);
          }
          for (const [k, spec] of sheets.entries()) {
            const rows = streamed[k]?.[1] ?? new Map();
            spec.rows.forEach((row, r) => {
              row.forEach((c, i) => {
                const want = c?.t === 's' ? decodedTwice(c.v) : asExceljs(c);
                expect(rows.get(r + 1)?.[i + 1] ?? null, `${spec.name} ${r + 1}:${i + 1}`).toEqual(
                  want ?? null,
                );
              });
            });
          }
        },
      ),
      { numRuns: 25, seed: 20261128 },
    );
  });

  it('sees the layout: frozen header, bold header, column widths', async () => {
    const path = nextPath();
    await writeWorkbook(path, [
      {
        name: 'Tidy',
        rows: [
          [
            { t: 's', v: 'id' },
            { t: 's', v: 'name' },
          ],
          [
            { t: 'n', v: '1' },
            { t: 's', v: 'one' },
          ],
        ],
        opts: { freezeHeader: true, headerStyle: true, columnWidths: [8, 30] },
      },
    ]);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(path);
    const ws = wb.worksheets[0] as ExcelSheet;
    expect(ws.views[0]).toMatchObject({ state: 'frozen', ySplit: 1 });
    expect(ws.getRow(1).getCell(1).font?.bold).toBe(true);
    expect(ws.getRow(2).getCell(1).font?.bold).toBeFalsy();
    expect(ws.getColumn(1).width).toBe(8);
    expect(ws.getColumn(2).width).toBe(30);
  });

  it('pins down where exceljs is lossy: it keeps ST_Xstring escapes as text', async () => {
    const path = nextPath();
    const texts = ['a\r\nb', 'ctl\u0001', 'lit _x000D_ here', '\ufffe'];
    await writeWorkbook(path, [{ name: 'S', rows: texts.map((v) => [{ t: 's', v }]) }]);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(path);
    const ws = wb.worksheets[0] as ExcelSheet;
    expect([1, 2, 3, 4].map((r) => ws.getCell(`A${r}`).value)).toEqual([
      'a_x000D_\nb',
      'ctl_x0001_',
      'lit _x005F_x000D_ here',
      '_xFFFE_',
    ]);
    const streamed: unknown[] = [];
    const amp = nextPath();
    await writeWorkbook(amp, [{ name: 'S', rows: [[{ t: 's', v: 'a &amp; b &lt;' }]] }]);
    for await (const sheet of new ExcelJS.stream.xlsx.WorkbookReader(amp, { worksheets: 'emit' })) {
      for await (const row of sheet) streamed.push(row.values[1]);
    }
    expect(streamed).toEqual(['a & b <']);
    expect((await readWorkbook(amp)).rows.get('S')?.[0]?.cells).toEqual([{ t: 's', v: 'a &amp; b &lt;' }]);
  });
});

describe('this reader reads a workbook a person edited with exceljs', () => {
  it('sees the edit and every other value, through exceljs’s shared strings', async () => {
    const original: Cell[][] = [
      [
        { t: 's', v: 'id' },
        { t: 's', v: 'name' },
        { t: 's', v: 'note' },
        { t: 's', v: 'active' },
      ],
      [
        { t: 'n', v: '1' },
        { t: 's', v: 'first' },
        { t: 's', v: 'a\r\nb' },
        { t: 'b', v: true },
      ],
      [
        { t: 'n', v: '2' },
        { t: 's', v: ' spaced ' },
        { t: 's', v: 'ctl\u0001 & <x> _x000D_ 😀' },
        { t: 'b', v: false },
      ],
      [{ t: 'n', v: '3' }, { t: 's', v: 'third' }, null, { t: 'b', v: true }],
      [{ t: 'n', v: '4.25' }, { t: 's', v: 'fourth' }, { t: 's', v: 'same' }, null],
      [{ t: 'n', v: '5' }, { t: 's', v: 'same' }, { t: 's', v: '' }, null],
    ];
    const path = nextPath();
    await writeWorkbook(path, [
      { name: 'ai.conversation', rows: original, opts: { freezeHeader: true, headerStyle: true } },
      { name: 'other', rows: [[{ t: 's', v: 'untouched' }]] },
    ]);

    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(path);
    const ws = wb.worksheets[0] as ExcelSheet;
    ws.getCell('B3').value = 'renamed by a person';
    ws.getCell('C4').value = 'added & typed';
    const edited = nextPath();
    await wb.xlsx.writeFile(edited);

    const back = await readWorkbook(edited);
    expect(back.sheets).toEqual(['ai.conversation', 'other']);
    const expected: ReadCell[][] = original.map((r) => [...r]);
    (expected[2] as ReadCell[])[1] = { t: 's', v: 'renamed by a person' };
    (expected[3] as ReadCell[])[2] = { t: 's', v: 'added & typed' };
    // exceljs read '' as no value and saved no cell: a loss of exceljs, not of this reader.
    (expected[5] as ReadCell[])[2] = null;
    const got = back.rows.get('ai.conversation') ?? [];
    expect(got.map((r) => r.rowNumber)).toEqual([1, 2, 3, 4, 5, 6]);
    got.forEach((row, r) => {
      const want = (expected[r] as ReadCell[]).slice();
      while (want.length > 0 && want[want.length - 1] === null) want.pop();
      expect(row.cells, `row ${r + 1}`).toEqual(want);
    });
    expect(back.rows.get('other')).toEqual([{ rowNumber: 1, cells: [{ t: 's', v: 'untouched' }] }]);
  });
});
