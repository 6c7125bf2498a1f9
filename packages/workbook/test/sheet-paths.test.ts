/**
 * The worksheet reader has fast paths for the usual shapes of a cell (SheetHandler.startElement and
 * cellContent). They must give exactly what the general path gives, for any shape and wherever the
 * input is cut into chunks — and the general path must agree with what the writer wrote.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeText } from '../src/escape.js';
import { columnName } from '../src/limits.js';
import { type RowRead, SheetHandler } from '../src/reader.js';
import { XmlScanner } from '../src/scan.js';
import { nastyString } from './helpers.js';

type Shape = 'inline' | 'inlinePreserve' | 'inlineRich' | 'number' | 'bool' | 'str' | 'empty' | 'emptySelf';

interface CellSpec {
  col: number;
  shape: Shape;
  text: string;
  withRef: boolean;
  style: boolean;
  attrOrder: boolean;
  quote: '"' | "'";
  spaceInTag: boolean;
}

function cellXml(row: number, c: CellSpec): string {
  const q = c.quote;
  const ref = c.withRef ? ` r=${q}${columnName(c.col)}${row}${q}` : '';
  const style = c.style ? ` s=${q}3${q}` : '';
  const type = (t: string) => ` t=${q}${t}${q}`;
  const attrs = (t: string) => (c.attrOrder ? `${ref}${style}${t}` : `${t}${style}${ref}`);
  const sp = c.spaceInTag ? ' ' : '';
  const text = encodeText(c.text);
  switch (c.shape) {
    case 'inline':
      return `<c${attrs(type('inlineStr'))}${sp}><is><t>${text}</t></is></c>`;
    case 'inlinePreserve':
      return `<c${attrs(type('inlineStr'))}><is><t xml:space="preserve">${text}</t></is></c>`;
    case 'inlineRich':
      return `<c${attrs(type('inlineStr'))}><is><r><t>${text}</t></r><r><rPr/><t>!</t></r><rPh><t>x</t></rPh></is></c>`;
    case 'number':
      return `<c${attrs('')}><v>${c.text.length}</v></c>`;
    case 'bool':
      return `<c${attrs(type('b'))}${sp}><v>${c.text.length % 2}</v></c>`;
    case 'str':
      return `<c${attrs(type('str'))}><f>A1</f><v>${text}</v></c>`;
    case 'empty':
      return `<c${attrs('')}></c>`;
    default:
      return `<c${attrs('')}${sp}/>`;
  }
}

const cellSpec = fc.record({
  col: fc.integer({ min: 0, max: 40 }),
  shape: fc.constantFrom<Shape>(
    'inline',
    'inlinePreserve',
    'inlineRich',
    'number',
    'bool',
    'str',
    'empty',
    'emptySelf',
  ),
  text: nastyString(6),
  withRef: fc.boolean(),
  style: fc.boolean(),
  attrOrder: fc.boolean(),
  quote: fc.constantFrom<'"' | "'">('"', "'"),
  spaceInTag: fc.boolean(),
});

function sheetXml(rows: CellSpec[][]): string {
  let xml = '<?xml version="1.0" encoding="UTF-8"?>\n<worksheet xmlns="urn:main"><sheetData>';
  rows.forEach((cells, r) => {
    // Columns must ascend; a cell without a reference is the one after the previous cell.
    let prev = -1;
    const placed = [...cells]
      .sort((a, b) => a.col - b.col)
      .map((c) => {
        const col = c.withRef ? Math.max(c.col, prev + 1) : prev + 1;
        prev = col;
        return { ...c, col };
      });
    xml += `<row r="${r + 1}">${placed.map((c) => cellXml(r + 1, c)).join('')}</row>`;
  });
  return `${xml}</sheetData></worksheet>`;
}

function read(xml: string, cuts: number[], fast: boolean): RowRead[] {
  const handler = new SheetHandler('test', () => undefined);
  if (!fast) {
    // The general path only: no fast element or content reading.
    Object.defineProperty(handler, 'startElement', { value: undefined });
    Object.defineProperty(handler, 'cellContent', { value: undefined });
  }
  const scanner = new XmlScanner('test', handler);
  const rows: RowRead[] = [];
  let from = 0;
  for (const cut of [...new Set(cuts)].sort((a, b) => a - b)) {
    if (cut <= from || cut >= xml.length) continue;
    scanner.feed(xml.slice(from, cut));
    rows.push(...handler.take());
    from = cut;
  }
  scanner.feed(xml.slice(from));
  scanner.end();
  rows.push(...handler.take());
  return rows;
}

describe('worksheet fast paths', () => {
  it('give exactly what the general path gives, for any cell shape and any chunking', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(cellSpec, { maxLength: 8 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 10 }),
        (rows, fractions) => {
          const xml = sheetXml(rows);
          const cuts = fractions.map((f) => Math.floor(f * xml.length));
          const general = read(xml, [], false);
          expect(read(xml, cuts, true)).toEqual(general);
          expect(read(xml, cuts, false)).toEqual(general);
          expect(read(xml, [], true)).toEqual(general);
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('read each shape as the value it stands for', () => {
    const spec = (shape: Shape, text: string, col: number): CellSpec => ({
      col,
      shape,
      text,
      withRef: true,
      style: true,
      attrOrder: false,
      quote: "'",
      spaceInTag: true,
    });
    const text = ' a\r\nb & _x000D_ ';
    const xml = sheetXml([
      [
        spec('inline', text, 0),
        spec('inlinePreserve', text, 1),
        spec('inlineRich', text, 2),
        spec('number', 'abc', 3),
        spec('bool', 'ab', 4),
        spec('str', text, 5),
        spec('empty', '', 6),
        spec('emptySelf', '', 7),
      ],
    ]);
    for (const fast of [true, false]) {
      expect(read(xml, [], fast)).toEqual([
        {
          rowNumber: 1,
          cells: [
            { t: 's', v: text },
            { t: 's', v: text },
            { t: 's', v: `${text}!` },
            { t: 'n', v: '3' },
            { t: 'b', v: false },
            { t: 's', v: text },
          ],
        },
      ]);
    }
  });
});
