import { readFile, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cell, openWorkbook, WorkbookError } from '../src/index.js';
import { readWorkbook, tempDir, writeWorkbook, writeZip } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterAll(async () => {
  await cleanup();
});

const MAIN = 'http://schemas.openxmlformats.org/spreadsheetml/2006/main';
const REL = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships';
const PKG = 'http://schemas.openxmlformats.org/package/2006/relationships';

interface Parts {
  sheets: Array<{ name: string; xml: string; target?: string; state?: string }>;
  sharedStrings?: string;
  extraRels?: string;
  mainNs?: string;
  relNs?: string;
}

/** A workbook laid out as Excel lays it out (relationships, shared strings), from literal XML. */
function workbookParts(p: Parts): Record<string, string> {
  const relNs = p.relNs ?? REL;
  const mainNs = p.mainNs ?? MAIN;
  const sheets = p.sheets
    .map(
      (s, i) =>
        `<sheet name="${s.name}" sheetId="${i + 1}"${s.state ? ` state="${s.state}"` : ''} r:id="rId${i + 1}"/>`,
    )
    .join('');
  let rels = p.sheets
    .map(
      (s, i) =>
        `<Relationship Id="rId${i + 1}" Type="${relNs}/worksheet" Target="${s.target ?? `worksheets/sheet${i + 1}.xml`}"/>`,
    )
    .join('');
  if (p.sharedStrings !== undefined)
    rels += `<Relationship Id="rIdS" Type="${relNs}/sharedStrings" Target="sharedStrings.xml"/>`;
  rels += p.extraRels ?? '';
  const parts: Record<string, string> = {
    '[Content_Types].xml': '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>',
    '_rels/.rels': `<Relationships xmlns="${PKG}"><Relationship Id="rId1" Type="${relNs}/officeDocument" Target="xl/workbook.xml"/></Relationships>`,
    'xl/workbook.xml': `<workbook xmlns="${mainNs}" xmlns:r="${relNs}"><sheets>${sheets}</sheets></workbook>`,
    'xl/_rels/workbook.xml.rels': `<Relationships xmlns="${PKG}">${rels}</Relationships>`,
  };
  if (p.sharedStrings !== undefined) parts['xl/sharedStrings.xml'] = p.sharedStrings;
  p.sheets.forEach((s, i) => {
    const target = s.target ?? `worksheets/sheet${i + 1}.xml`;
    parts[target.startsWith('/') ? target.slice(1) : posix.normalize(`xl/${target}`)] = s.xml;
  });
  return parts;
}

const sheetXml = (rows: string, ns = MAIN) =>
  `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n<worksheet xmlns="${ns}"><dimension ref="A1:C3"/><sheetData>${rows}</sheetData></worksheet>`;

let n = 0;
async function build(parts: Record<string, string>): Promise<string> {
  const path = join(dir, `w${++n}.xlsx`);
  await writeZip(path, parts);
  return path;
}

describe('reading what spreadsheet programs write', () => {
  it('reads shared strings with rich text runs (phonetic runs left out), and every cell type', async () => {
    const sst =
      `<sst xmlns="${MAIN}" count="6" uniqueCount="6">` +
      '<si><t>plain</t></si>' +
      '<si><r><rPr><b/></rPr><t xml:space="preserve">bold </t></r><r><t>and not</t></r></si>' +
      '<si><t>漢字</t><rPh sb="0" eb="2"><t>かんじ</t></rPh><phoneticPr fontId="1"/></si>' +
      '<si><t/></si>' +
      '<si><t>line_x000D_\nbreak &amp; &#13;cr</t></si>' +
      '<si/>' +
      '</sst>';
    const rows =
      '<row r="1" spans="1:8"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>2</v></c>' +
      '<c r="D1" t="s"><v>3</v></c><c r="E1" t="s"><v>4</v></c><c r="F1" t="s"><v>5</v></c></row>' +
      '<row r="2"><c r="A2"><v>1.5E-7</v></c><c r="B2" t="n"><v>42</v></c><c r="C2" t="b"><v>1</v></c><c r="D2" t="b"><v>0</v></c>' +
      '<c r="E2" t="e"><v>#N/A</v></c><c r="F2" t="str"><f>A1&amp;"x"</f><v>plainx</v></c><c r="G2" t="inlineStr"><is><r><t>in</t></r><r><t>line</t></r></is></c>' +
      '<c r="H2" t="d"><v>2025-01-16T14:30:22</v></c></row>' +
      '<row r="3"><c r="A3" s="3"/><c r="B3" t="s" s="1"/><c r="C3"><f>1/0</f></c><c r="D3" t="str"><f>""</f><v></v></c></row>';
    const path = await build(
      workbookParts({ sheets: [{ name: 'Data', xml: sheetXml(rows) }], sharedStrings: sst }),
    );
    const back = await readWorkbook(path);
    expect(back.rows.get('Data')).toEqual([
      {
        rowNumber: 1,
        cells: [
          { t: 's', v: 'plain' },
          { t: 's', v: 'bold and not' },
          { t: 's', v: '漢字' },
          { t: 's', v: '' },
          { t: 's', v: 'line\r\nbreak & \rcr' },
          { t: 's', v: '' },
        ],
      },
      {
        rowNumber: 2,
        cells: [
          { t: 'n', v: '1.5E-7' },
          { t: 'n', v: '42' },
          { t: 'b', v: true },
          { t: 'b', v: false },
          { t: 'e', v: '#N/A' },
          { t: 's', v: 'plainx' },
          { t: 's', v: 'inline' },
          { t: 's', v: '2025-01-16T14:30:22' },
        ],
      },
      // Styled empty cells and an uncalculated formula are no values; a formula's '' result is.
      { rowNumber: 3, cells: [null, null, null, { t: 's', v: '' }] },
    ]);
  });

  it('places cells by their reference, fills gaps with null, and numbers cells and rows without r in order', async () => {
    const rows =
      '<row r="2"><c r="C2"><v>3</v></c><c r="F2"><v>6</v></c></row>' +
      '<row><c><v>1</v></c><c><v>2</v></c><c r="E3"><v>5</v></c><c><v>6</v></c></row>' +
      '<row r="10"/>' +
      '<row r="11"><c r="AB11" t="inlineStr"><is><t>ab</t></is></c></row>';
    const path = await build(workbookParts({ sheets: [{ name: 'Sparse', xml: sheetXml(rows) }] }));
    const back = await readWorkbook(path);
    const n = (v: string) => ({ t: 'n', v });
    expect(back.rows.get('Sparse')).toEqual([
      { rowNumber: 2, cells: [null, null, n('3'), null, null, n('6')] },
      { rowNumber: 3, cells: [n('1'), n('2'), null, null, n('5'), n('6')] },
      { rowNumber: 10, cells: [] },
      { rowNumber: 11, cells: [...Array(27).fill(null), { t: 's', v: 'ab' }] },
    ]);
  });

  it('reads prefixed elements, the Strict namespaces, absolute targets, and skips chart sheets', async () => {
    const STRICT_MAIN = 'http://purl.oclc.org/ooxml/spreadsheetml/main';
    const STRICT_REL = 'http://purl.oclc.org/ooxml/officeDocument/relationships';
    const prefixed =
      `<x:worksheet xmlns:x="${STRICT_MAIN}"><x:sheetData><x:row r="1"><x:c r="A1" t="inlineStr"><x:is><x:t>pre</x:t></x:is></x:c>` +
      '<x:c r="B1"><x:v>7</x:v></x:c></x:row></x:sheetData></x:worksheet>';
    const parts = workbookParts({
      mainNs: STRICT_MAIN,
      relNs: STRICT_REL,
      sheets: [
        {
          name: 'Strict &amp; prefixed',
          xml: prefixed,
          target: '/xl/worksheets/strict.xml',
          state: 'hidden',
        },
        {
          name: 'Other',
          xml: sheetXml('<row r="1"><c r="A1"><v>1</v></c></row>'),
          target: '../xl/worksheets/sheet9.xml',
        },
      ],
      extraRels: `<Relationship Id="rIdX" Type="${STRICT_REL}/chartsheet" Target="chartsheets/sheet1.xml"/>`,
    });
    parts['xl/workbook.xml'] = parts['xl/workbook.xml']?.replace(
      '</sheets>',
      '<sheet name="Chart" sheetId="9" r:id="rIdX"/></sheets>',
    ) as string;
    const path = await build(parts);
    const wb = await openWorkbook(path);
    expect(wb.sheets).toEqual([
      { name: 'Strict & prefixed', index: 0, state: 'hidden' },
      { name: 'Other', index: 1, state: 'visible' },
    ]);
    await wb.close();
    const back = await readWorkbook(path);
    expect(back.rows.get('Strict & prefixed')).toEqual([
      {
        rowNumber: 1,
        cells: [
          { t: 's', v: 'pre' },
          { t: 'n', v: '7' },
        ],
      },
    ]);
  });

  it('refuses what is not a readable workbook, naming the part and the cause', async () => {
    const notZip = join(dir, 'not.xlsx');
    await writeFile(notZip, 'hello, I am a text file');
    await expect(openWorkbook(notZip)).rejects.toMatchObject({ code: 'BAD_WORKBOOK' });
    await expect(openWorkbook(join(dir, 'missing.xlsx'))).rejects.toMatchObject({ code: 'BAD_WORKBOOK' });

    const noWorkbook = await build({ 'a.txt': 'x' });
    await expect(openWorkbook(noWorkbook)).rejects.toThrow(/no xl\/workbook\.xml/);

    const cases: Array<[string, Parts, RegExp]> = [
      [
        'a missing sheet part',
        { sheets: [{ name: 'S', xml: '' }] },
        /no such part|not well-formed|ends inside/,
      ],
      [
        'malformed XML',
        { sheets: [{ name: 'S', xml: `${sheetXml('<row r="1"><c r="A1"><v>1</v></c>')}<` }] },
        /not well-formed/,
      ],
      [
        'a shared string index past the table',
        {
          sheets: [{ name: 'S', xml: sheetXml('<row r="1"><c r="A1" t="s"><v>5</v></c></row>') }],
          sharedStrings: `<sst xmlns="${MAIN}"><si><t>a</t></si></sst>`,
        },
        /shared string 5 does not exist/,
      ],
      [
        'cells out of order',
        {
          sheets: [
            { name: 'S', xml: sheetXml('<row r="1"><c r="B1"><v>1</v></c><c r="A1"><v>2</v></c></row>') },
          ],
        },
        /comes after column/,
      ],
      [
        'rows out of order',
        { sheets: [{ name: 'S', xml: sheetXml('<row r="2"/><row r="1"/>') }] },
        /comes after row 2/,
      ],
      [
        'a column past XFD',
        { sheets: [{ name: 'S', xml: sheetXml('<row r="1"><c r="XFE1"><v>1</v></c></row>') }] },
        /beyond column XFD/,
      ],
      [
        'a huge column reference',
        { sheets: [{ name: 'S', xml: sheetXml('<row r="1"><c r="ZZZZZZZZ1"><v>1</v></c></row>') }] },
        /beyond column XFD/,
      ],
      [
        'a number cell holding text',
        { sheets: [{ name: 'S', xml: sheetXml('<row r="1"><c r="A1"><v>abc</v></c></row>') }] },
        /number cell holds "abc"/,
      ],
      [
        'an unknown cell type',
        { sheets: [{ name: 'S', xml: sheetXml('<row r="1"><c r="A1" t="zz"><v>1</v></c></row>') }] },
        /cell type "zz" is unknown/,
      ],
      [
        'a DTD',
        { sheets: [{ name: 'S', xml: `<!DOCTYPE worksheet [<!ENTITY x "y">]>${sheetXml('')}` }] },
        /DTD/,
      ],
    ];
    for (const [what, parts, message] of cases) {
      const p = workbookParts(parts);
      if (what === 'a missing sheet part') delete p['xl/worksheets/sheet1.xml'];
      const path = await build(p);
      const wb = await openWorkbook(path);
      const read = async () => {
        for await (const _row of wb.rows('S')) {
          // reading
        }
      };
      await expect(read(), what).rejects.toThrow(message);
      await expect(read(), what).rejects.toBeInstanceOf(WorkbookError);
      await wb.close();
    }
  });

  it('refuses a sheet that is not valid UTF-8 and a damaged part', async () => {
    const latin1 = Buffer.from(
      sheetXml('<row r="1"><c r="A1" t="inlineStr"><is><t>caf\u00e9</t></is></c></row>'),
      'latin1',
    );
    const parts: Record<string, string | Buffer> = workbookParts({ sheets: [{ name: 'S', xml: '' }] });
    parts['xl/worksheets/sheet1.xml'] = latin1;
    const path = join(dir, 'latin1.xlsx');
    await writeZip(path, parts);
    const wb = await openWorkbook(path);
    const read = async () => {
      for await (const _row of wb.rows('S')) {
        // reading
      }
    };
    await expect(read()).rejects.toThrow(/not valid UTF-8/);
    await expect(() => wb.rows('nope')).toThrow(/no sheet named "nope"/);
    await wb.close();

    // Bytes flipped inside the compressed sheet: the inflate fails or the size does not match.
    const good = join(dir, 'good.xlsx');
    await writeWorkbook(good, [
      {
        name: 'S',
        rows: Array.from(
          { length: 3000 },
          (_, i) => [{ t: 's', v: `value ${i} ${'x'.repeat(i % 97)}` }] as Cell[],
        ),
      },
    ]);
    const bytes = await readFile(good);
    for (let k = 200; k < 2000; k += 37) bytes[k] = (bytes[k] as number) ^ 0x5a;
    const damaged = join(dir, 'damaged.xlsx');
    await writeFile(damaged, bytes);
    const wb2 = await openWorkbook(damaged);
    const read2 = async () => {
      for await (const _row of wb2.rows('S')) {
        // reading
      }
    };
    await expect(read2()).rejects.toMatchObject({ code: 'BAD_WORKBOOK' });
    await wb2.close();
  });
});
