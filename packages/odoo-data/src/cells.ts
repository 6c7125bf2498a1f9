/**
 * PostgreSQL text ⇄ workbook cell, following the lossless rules (DESIGN.md "The workbook is
 * lossless"): a number cell only when the text is exactly what a spreadsheet prints back for the
 * number (integers within ±2^53, floats whose JavaScript shortest form is the same text), a boolean
 * cell for `boolean`, a string cell holding PostgreSQL's text form for everything else, no cell
 * for NULL, and a string cell for ''.
 */
import type { Cell, ReadCell } from '@sam-backup/workbook';

export type ColumnKind = 'number' | 'bool' | 'text';

const NUMERIC_TYPES = /^(integer|smallint|bigint|double precision|real|numeric(\(.*\))?)$/;

export function columnKind(pgType: string): ColumnKind {
  if (pgType === 'boolean') return 'bool';
  if (NUMERIC_TYPES.test(pgType)) return 'number';
  return 'text';
}

/** The cell for one PostgreSQL text value (not cut: the caller handles overlong text). */
export function toCell(kind: ColumnKind, value: string | null): Cell {
  if (value === null) return null;
  if (kind === 'number') {
    const n = Number(value);
    if (Number.isFinite(n) && String(n) === value && (Number.isSafeInteger(n) || !Number.isInteger(n))) {
      return { t: 'n', v: value };
    }
    return { t: 's', v: value };
  }
  if (kind === 'bool') {
    if (value === 't') return { t: 'b', v: true };
    if (value === 'f') return { t: 'b', v: false };
  }
  return { t: 's', v: value };
}

/**
 * The PostgreSQL text of a cell read back. A number cell gives its text as written (an edited
 * number, as a spreadsheet writes it); a boolean cell gives 't'/'f' for boolean columns and
 * 'true'/'false' otherwise.
 */
export function fromCell(kind: ColumnKind, cell: ReadCell | undefined): string | null {
  if (cell == null) return null;
  if (cell.t === 'e') throw new CellError(cell.v);
  if (cell.t === 'b') return kind === 'bool' ? (cell.v ? 't' : 'f') : cell.v ? 'true' : 'false';
  if (cell.t === 'n' && kind === 'bool') return cell.v === '0' ? 'f' : 't';
  return cell.v;
}

/** A cell holding a spreadsheet error value (#N/A, #REF!, …): no PostgreSQL value corresponds. */
export class CellError extends Error {
  constructor(readonly value: string) {
    super(`the cell holds the spreadsheet error ${value}`);
  }
}
