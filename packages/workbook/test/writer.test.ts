import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Cell,
  cutCellText,
  MAX_CELL_CHARS,
  MAX_COLUMNS,
  MAX_ROWS,
  openWorkbook,
  safeSheetName,
  sheetNameProblem,
  WorkbookError,
  WorkbookWriter,
} from '../src/index.js';
import { expectedRows, nastyString, readWorkbook, tempDir } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterAll(async () => {
  await cleanup();
});
let n = 0;
const nextPath = () => join(dir, `w-${++n}.xlsx`);

function expectCode(fn: () => unknown, code: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown, `expected ${code}`).toBeInstanceOf(WorkbookError);
  expect((thrown as WorkbookError).code).toBe(code);
}

describe('refusals', () => {
  it('refuses overlong text, bad cells and unpaired surrogates, writing nothing of the row', async () => {
    const path = nextPath();
    const wb = new WorkbookWriter(createWriteStream(path));
    const sheet = wb.addSheet('S');
    sheet.writeRow([{ t: 's', v: 'first' }]);
    const refused: Array<[Cell[], string, RegExp]> = [
      [
        [
          { t: 's', v: 'ok' },
          { t: 's', v: 'x'.repeat(MAX_CELL_CHARS + 1) },
        ],
        'CELL_TOO_LONG',
        /cell B2: the text has 32768 characters/,
      ],
      [[{ t: 'n', v: 'abc' }], 'BAD_CELL', /cell A2: "abc" is not the decimal text/],
      [[{ t: 'n', v: '1e999' }], 'BAD_CELL', /finite/],
      [[{ t: 'n', v: '+1' }], 'BAD_CELL', /decimal text/],
      [[{ t: 'n', v: '' }], 'BAD_CELL', /decimal text/],
      [[{ t: 'n', v: '1 ' }], 'BAD_CELL', /decimal text/],
      [[{ t: 'n', v: 1 } as unknown as Cell], 'BAD_CELL', /decimal text/],
      [[{ t: 's', v: 5 } as unknown as Cell], 'BAD_CELL', /string value/],
      [[{ t: 'b', v: 'true' } as unknown as Cell], 'BAD_CELL', /true or false/],
      [[{ t: 'x', v: '1' } as unknown as Cell], 'BAD_CELL', /a cell is null/],
      [
        [null, null, { t: 's', v: 'a\ud800b' }],
        'LONE_SURROGATE',
        /cell C2: .*unpaired UTF-16 surrogate at position 1/,
      ],
      [Array.from({ length: MAX_COLUMNS + 1 }, () => null), 'TOO_MANY_COLUMNS', /16385 cells/],
    ];
    for (const [row, code, message] of refused) {
      expectCode(() => sheet.writeRow(row), code);
      expect(() => sheet.writeRow(row)).toThrow(message);
    }
    expect(sheet.rowCount).toBe(1);
    sheet.writeRow([{ t: 's', v: 'x'.repeat(MAX_CELL_CHARS) }]);
    const wide: Cell[] = Array.from({ length: MAX_COLUMNS }, (_, i) =>
      i % 1000 === 0 || i === MAX_COLUMNS - 1 ? { t: 'n', v: String(i) } : null,
    );
    sheet.writeRow(wide);
    await sheet.end();
    await wb.finalize();
    const back = await readWorkbook(path);
    expect(back.rows.get('S')).toEqual(
      expectedRows([[{ t: 's', v: 'first' }], [{ t: 's', v: 'x'.repeat(MAX_CELL_CHARS) }], wide]),
    );
  });

  it('cutCellText cuts to the limit without splitting a surrogate pair', () => {
    expect(cutCellText('abc')).toBe('abc');
    expect(cutCellText('x'.repeat(MAX_CELL_CHARS + 5))).toHaveLength(MAX_CELL_CHARS);
    const emoji = `${'x'.repeat(MAX_CELL_CHARS - 1)}😀`;
    expect(cutCellText(emoji)).toBe('x'.repeat(MAX_CELL_CHARS - 1));
    expect(cutCellText('a😀b', 2)).toBe('a');
  });

  it('refuses sheet names Excel refuses, and duplicates ignoring case', () => {
    const wb = new WorkbookWriter(new PassThrough());
    for (const name of [
      '',
      'x'.repeat(32),
      'a[b',
      'a]b',
      'a:b',
      'a*b',
      'a?b',
      'a/b',
      'a\\b',
      "'quoted",
      "quoted'",
      'History',
      'HISTORY',
      'tab\there',
      'nul\u0000',
    ]) {
      expectCode(() => wb.addSheet(name), 'BAD_SHEET_NAME');
    }
    wb.addSheet('x'.repeat(31)).end();
    const data = wb.addSheet('Données');
    data.end();
    expectCode(() => wb.addSheet('DONNÉES'), 'DUPLICATE_SHEET_NAME');
    expectCode(() => wb.addSheet('données'), 'DUPLICATE_SHEET_NAME');
    wb.abort();
  });

  it('safeSheetName always makes a valid name not yet taken, which the writer accepts', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(nastyString(6), fc.constantFrom('History', "'a'", 'x'.repeat(40), 'Data', 'data')),
          { maxLength: 40 },
        ),
        (bases) => {
          const wb = new WorkbookWriter(new PassThrough());
          const taken: string[] = [];
          for (const base of bases) {
            const name = safeSheetName(base, taken);
            expect(sheetNameProblem(name), name).toBeUndefined();
            expect(taken.map((t) => t.toUpperCase())).not.toContain(name.toUpperCase());
            wb.addSheet(name).end();
            taken.push(name);
          }
          wb.abort();
        },
      ),
      { numRuns: 200 },
    );
    expect(safeSheetName('res.partner/relations:2024', [])).toBe('res.partner_relations_2024');
    expect(safeSheetName('ai.conversation.message.attachment.rel', [])).toBe(
      'ai.conversation.message.attachm',
    );
    expect(safeSheetName('Data', ['data', 'DATA (2)'])).toBe('Data (3)');
    expect(safeSheetName('x'.repeat(40), ['x'.repeat(31)])).toBe(`${'x'.repeat(27)} (2)`);
  });

  it('refuses the row after the 1,048,576th (the real limit), and a lower limit when asked', async () => {
    const path = nextPath();
    const wb = new WorkbookWriter(createWriteStream(path), { compressionLevel: 0 });
    const sheet = wb.addSheet('full');
    const row: Cell[] = [{ t: 'b', v: true }];
    for (let i = 0; i < MAX_ROWS; i++) if (!sheet.writeRow(row)) await sheet.drain();
    expect(sheet.rowCount).toBe(MAX_ROWS);
    expectCode(() => sheet.writeRow(row), 'TOO_MANY_ROWS');
    await sheet.end();
    await wb.finalize();
    // The reader sees the last row with its number.
    const reader = await openWorkbook(path);
    let count = 0;
    let last = 0;
    for await (const r of reader.rows('full')) {
      count++;
      last = r.rowNumber;
    }
    await reader.close();
    expect(count).toBe(MAX_ROWS);
    expect(last).toBe(MAX_ROWS);

    const limited = new WorkbookWriter(new PassThrough(), { maxRowsPerSheet: 3 });
    const s = limited.addSheet('three');
    for (let i = 0; i < 3; i++) s.writeRow(row);
    expect(() => s.writeRow(row)).toThrow(/row 4 is over the limit of 3 rows per sheet/);
    limited.abort();
    expectCode(() => new WorkbookWriter(new PassThrough(), { maxRowsPerSheet: MAX_ROWS + 1 }), 'BAD_OPTION');
  }, 300_000);

  it('refuses use out of order and bad options', async () => {
    expectCode(() => new WorkbookWriter(new PassThrough(), { compressionLevel: 10 }), 'BAD_OPTION');
    const wb = new WorkbookWriter(new PassThrough().resume());
    expectCode(() => wb.addSheet('w', { columnWidths: [10, -1] }), 'BAD_OPTION');
    await expect(wb.finalize()).rejects.toMatchObject({ code: 'NO_SHEETS' });
    const wb2 = new WorkbookWriter(new PassThrough().resume());
    const a = wb2.addSheet('a');
    expectCode(() => wb2.addSheet('b'), 'WRONG_STATE');
    await expect(wb2.finalize()).rejects.toMatchObject({ code: 'WRONG_STATE' });
    const ended = a.end();
    expect(a.end()).toBe(ended);
    await ended;
    expectCode(() => a.writeRow([]), 'WRONG_STATE');
    await wb2.finalize();
    expectCode(() => wb2.addSheet('c'), 'WRONG_STATE');
    await expect(wb2.finalize()).rejects.toMatchObject({ code: 'WRONG_STATE' });
  });
});

describe('failure and abort', () => {
  it('abort() destroys the output with the error and rejects pending calls', async () => {
    const out = new PassThrough();
    const wb = new WorkbookWriter(out);
    const sheet = wb.addSheet('S');
    const big: Cell[] = [{ t: 's', v: 'y'.repeat(30000) }];
    while (sheet.writeRow(big)) {
      // fill until backpressure: nobody reads `out`
    }
    const drained = sheet.drain();
    const outError = new Promise<Error>((resolve) => out.on('error', resolve));
    const cause = new Error('the export was cancelled');
    wb.abort(cause);
    await expect(drained).rejects.toBe(cause);
    expect(await outError).toBe(cause);
    expect(() => sheet.writeRow(big)).toThrow(cause);
    await expect(sheet.end()).rejects.toBe(cause);
    await expect(wb.finalize()).rejects.toBe(cause);
  });

  it('reports a failing output as OUTPUT_FAILED on the next call', async () => {
    let written = 0;
    const out = new Writable({
      write(chunk: Buffer, _enc, cb) {
        written += chunk.length;
        cb(written > 200_000 ? new Error('ENOSPC: no space left on device') : null);
      },
    });
    const wb = new WorkbookWriter(out, { compressionLevel: 0 });
    const sheet = wb.addSheet('S');
    const row: Cell[] = [{ t: 's', v: 'z'.repeat(1000) }];
    const failure = (async () => {
      for (let i = 0; i < 100_000; i++) if (!sheet.writeRow(row)) await sheet.drain();
      await sheet.end();
      await wb.finalize();
    })();
    await expect(failure).rejects.toMatchObject({
      code: 'OUTPUT_FAILED',
      message: expect.stringMatching(/ENOSPC/),
    });
    await expect(wb.finalize()).rejects.toMatchObject({ code: 'OUTPUT_FAILED' });
  });
});

describe('backpressure', () => {
  it('stops taking rows within a few MiB of unread output, and resumes when the output is read', async () => {
    const out = new PassThrough();
    const wb = new WorkbookWriter(out, { compressionLevel: 0 });
    const sheet = wb.addSheet('S');
    const rows: Cell[][] = Array.from({ length: 200 }, (_, i) => [
      { t: 'n', v: String(i) },
      { t: 's', v: `${i} ${'w'.repeat(2000)}` },
    ]);
    let accepted = 0;
    let xmlBytes = 0;
    // Nobody reads `out`: writeRow must say stop while what it holds is bounded.
    for (let k = 0; k < 100_000; k++) {
      const row = rows[k % rows.length] as Cell[];
      xmlBytes += 2100;
      accepted++;
      if (!sheet.writeRow(row)) break;
      // let the streams move what they can
      if (k % 100 === 0) await new Promise((r) => setImmediate(r));
    }
    expect(accepted).toBeLessThan(100_000);
    expect(xmlBytes).toBeLessThan(16 << 20);
    let drained = false;
    const drain = sheet.drain().then(() => {
      drained = true;
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(drained).toBe(false);
    // Start reading the output: the writer takes rows again.
    const path = nextPath();
    const file = createWriteStream(path);
    const fileDone = new Promise<void>((resolve) => file.on('close', () => resolve()));
    out.pipe(file);
    await drain;
    for (let k = accepted; k < 20_000; k++)
      if (!sheet.writeRow(rows[k % rows.length] as Cell[])) await sheet.drain();
    await sheet.end();
    await wb.finalize();
    await fileDone;
    const back = await readWorkbook(path);
    const got = back.rows.get('S') ?? [];
    expect(got).toHaveLength(20_000);
    expect(got[19_999]?.cells).toEqual(rows[19_999 % rows.length]);
  });
});
