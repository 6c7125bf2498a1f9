/**
 * LibreOffice reads what this writer writes (its CSV export gives the same values), and this reader
 * reads what LibreOffice saves after opening the workbook — the path of a person who opened the
 * backup in a spreadsheet program and saved it. Skipped, with a message, where `soffice` is not
 * installed (Debian: apt-get install libreoffice-calc-nogui).
 *
 * LibreOffice's own limits, pinned down below so a change shows: it keeps no empty-string cell ('' is
 * saved as no cell), in a text that has a line feed it turns every CR (alone or before LF) into LF
 * (a CR in a one-line text survives), and it writes numbers in its own notation with 15
 * significant digits (1.5E-7 as 1.5E-007, 9007199254740991 as 9007199254740990). Its writer
 * escapes a literal `_xHHHH_` only where it does not overlap another escape, so a text such as
 * `_x0041_x0009_`, or `_x0001` followed by a control character, comes back from its re-save
 * changed (LibreOffice reads its own file the same way); the re-save test leaves such texts out.
 */
import { spawnSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cell, ReadCell } from '../src/index.js';
import { NASTY_PIECES, numberText, readWorkbook, type SheetSpec, tempDir, writeWorkbook } from './helpers.js';

const soffice = spawnSync('soffice', ['--version'], { encoding: 'utf8' });
const hasSoffice = soffice.status === 0;
if (!hasSoffice) {
  console.warn(
    'LibreOffice tests skipped: `soffice` is not installed (apt-get install libreoffice-calc-nogui); CI installs it.',
  );
}

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('workbook-lo-'));
});
afterAll(async () => {
  await cleanup();
});

/** Runs soffice headless with a private profile (so parallel runs do not share one). */
function convert(file: string, to: string, outDir: string): void {
  const res = spawnSync(
    'soffice',
    [
      `-env:UserInstallation=file://${join(dir, 'profile')}`,
      '--headless',
      '--convert-to',
      to,
      '--outdir',
      outDir,
      file,
    ],
    { encoding: 'utf8', timeout: 240_000 },
  );
  if (res.status !== 0) throw new Error(`soffice failed (${res.status}): ${res.stderr || res.stdout}`);
}

/** RFC 4180 CSV as LibreOffice writes it: ',' separated, '"' quoted, fields may hold CR and LF. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

// Text LibreOffice can hold: no NUL (PostgreSQL text cannot hold it either).
const loPieces = NASTY_PIECES.filter((p) => !p.includes('\u0000'));
const loText = fc
  .array(
    fc.oneof(
      fc.constantFrom(...loPieces),
      fc.string({ unit: 'grapheme', maxLength: 5 }),
      fc.string({ unit: 'binary', maxLength: 2 }),
    ),
    {
      maxLength: 8,
    },
  )
  .map((p) => p.join('').replaceAll('\u0000', ''));
const loCell: fc.Arbitrary<Cell> = fc.oneof(
  fc.constant(null),
  loText.map((v) => ({ t: 's' as const, v })),
  numberText().map((v) => ({ t: 'n' as const, v })),
  fc.boolean().map((v) => ({ t: 'b' as const, v })),
);

const HAND_PICKED: Cell[][] = [
  [
    { t: 's', v: 'id' },
    { t: 's', v: 'text' },
    { t: 's', v: 'number' },
    { t: 's', v: 'flag' },
  ],
  [
    { t: 'n', v: '1' },
    { t: 's', v: 'lit _x000D_ and _x0041_x0042_ and _x005F_' },
    { t: 'n', v: '1.5E-7' },
    { t: 'b', v: true },
  ],
  [
    { t: 'n', v: '2' },
    { t: 's', v: 'cr\ronly, ctl\u0001\u001f, tab\t, nl\n' },
    { t: 'n', v: '-0.25' },
    { t: 'b', v: false },
  ],
  [{ t: 'n', v: '3' }, { t: 's', v: '  spaces around  ' }, { t: 'n', v: '9007199254740991' }, null],
  [
    { t: 'n', v: '4' },
    { t: 's', v: '😀 👩‍👩‍👧 שלום مرحبا \u202e ﻿ \ufffe' },
    { t: 'n', v: '1e+300' },
  ],
  [{ t: 'n', v: '5' }, { t: 's', v: '&amp; <tag> ]]> "q" \'a\' =1+1' }, null, { t: 'b', v: true }],
  [
    { t: 'n', v: '6' },
    { t: 's', v: 'x'.repeat(32_767) },
  ],
  [
    { t: 'n', v: '7' },
    { t: 's', v: '007' },
    { t: 'n', v: '0.1' },
  ],
];

function workbookUnderTest(): SheetSpec[] {
  const random = fc.sample(fc.array(loCell, { maxLength: 8 }), { numRuns: 300, seed: 20250116 });
  return [
    {
      name: 'Data',
      rows: HAND_PICKED,
      opts: { freezeHeader: true, headerStyle: true, columnWidths: [8, 40, 12, 8] },
    },
    { name: 'Random', rows: random },
  ];
}

/** Literal escape look-alikes that overlap another escape, which LibreOffice's writer gets wrong. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what LibreOffice escapes
const OVERLAPPING_ESCAPES = /_x[0-9A-Fa-f]{4}(?:[\u0000-\u0008\u000b-\u001f\ufffe\uffff]|_x[0-9A-Fa-f]{4}_)/;

/** LibreOffice keeps 15 significant digits of a number (9007199254740991 is saved as 9007199254740990). */
function expectSame15(got: string | undefined, want: string, where: string): void {
  const a = Number(got);
  const b = Number(want);
  expect(Number.isFinite(a), `${where}: ${got}`).toBe(true);
  expect(Math.abs(a - b), `${where}: ${got} for ${want}`).toBeLessThanOrEqual(Math.abs(b) * 1e-14);
}

/** What LibreOffice keeps of a string: in a text with a line feed, every CR (alone or before LF) becomes LF. */
const loString = (v: string) => (v.includes('\n') ? v.replace(/\r\n?/g, '\n') : v);

describe.skipIf(!hasSoffice)('LibreOffice', () => {
  it('reads what this writer writes: its CSV export gives the same values', async () => {
    const sheets = workbookUnderTest();
    const xlsx = join(dir, 'written.xlsx');
    await writeWorkbook(xlsx, sheets);
    const out = join(dir, 'csv');
    // Token 9 'false': values as stored, not as displayed; token 12 '-1': every sheet, one file each.
    convert(xlsx, 'csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1', out);
    const files = await readdir(out);
    for (const sheet of sheets) {
      const file = files.find((f) => f === `written-${sheet.name}.csv`);
      expect(file, `CSV of sheet ${sheet.name} among ${files.join(', ')}`).toBeDefined();
      const csv = parseCsv(await readFile(join(out, file as string), 'utf8'));
      sheet.rows.forEach((row, r) => {
        row.forEach((c, i) => {
          const got = csv[r]?.[i] ?? '';
          const where = `${sheet.name}!${r + 1}:${i + 1}`;
          if (c === null) expect(got, where).toBe('');
          else if (c.t === 's') expect(got, where).toBe(loString(c.v));
          else if (c.t === 'n') expectSame15(got, c.v, where);
          else expect(got, where).toBe(c.v ? 'TRUE' : 'FALSE');
        });
      });
    }
  }, 300_000);

  it('saves a workbook this reader reads back with the same values (a person opened and saved it)', async () => {
    const sheets = workbookUnderTest();
    const xlsx = join(dir, 'opened.xlsx');
    await writeWorkbook(xlsx, sheets);
    const out = join(dir, 'resaved');
    convert(xlsx, 'xlsx:Calc MS Excel 2007 XML', out);
    const back = await readWorkbook(join(out, 'opened.xlsx'));
    expect(back.sheets).toEqual(sheets.map((s) => s.name));
    let compared = 0;
    let left = 0;
    for (const sheet of sheets) {
      const got = back.rows.get(sheet.name) ?? [];
      const byNumber = new Map(got.map((r) => [r.rowNumber, r.cells]));
      sheet.rows.forEach((row, r) => {
        const cells = byNumber.get(r + 1) ?? [];
        row.forEach((c, i) => {
          const where = `${sheet.name}!${r + 1}:${i + 1}`;
          const g: ReadCell = cells[i] ?? null;
          if (c?.t === 's' && OVERLAPPING_ESCAPES.test(c.v)) {
            left++;
            return;
          }
          compared++;
          if (c === null || (c.t === 's' && c.v === '')) expect(g, where).toBeNull();
          else if (c.t === 's') expect(g, where).toEqual({ t: 's', v: loString(c.v) });
          else if (c.t === 'n') {
            expect(g?.t, where).toBe('n');
            expectSame15(g?.v as string, c.v, where);
          } else expect(g, where).toEqual(c);
        });
        expect(cells.length, `${sheet.name} row ${r + 1} width`).toBeLessThanOrEqual(row.length);
      });
    }
    expect(left).toBeLessThan(compared / 50);
    // The notation LibreOffice writes numbers in, and its 15 significant digits.
    const data = back.rows.get('Data') ?? [];
    expect(data[1]?.cells[2]).toEqual({ t: 'n', v: '1.5E-007' });
    expect(data[3]?.cells[2]).toEqual({ t: 'n', v: '9007199254740990' });
  }, 300_000);
});
