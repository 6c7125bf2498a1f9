/**
 * Typed refusals of the workbook writer and reader. Every message names the thing (workbook part,
 * sheet, cell), the cause, and what the caller can do about it.
 */
export type WorkbookErrorCode =
  /** A cell's text is longer than Excel allows (MAX_CELL_CHARS); the caller must cut it. */
  | 'CELL_TOO_LONG'
  /** A cell is not one of the Cell shapes, or a number cell's text is not a decimal number. */
  | 'BAD_CELL'
  /** A string holds an unpaired UTF-16 surrogate, which no XML document can carry. */
  | 'LONE_SURROGATE'
  /** A sheet name breaks Excel's rules (length, characters, reserved name). */
  | 'BAD_SHEET_NAME'
  /** A sheet name is already used in this workbook (compared case-insensitively). */
  | 'DUPLICATE_SHEET_NAME'
  /** A sheet would get more rows than Excel allows (MAX_ROWS). */
  | 'TOO_MANY_ROWS'
  /** A row has more cells than Excel allows (MAX_COLUMNS). */
  | 'TOO_MANY_COLUMNS'
  /** A bad option value (column width, compression level, limits). */
  | 'BAD_OPTION'
  /** The writer was used out of order (a sheet still open, a sheet already ended, finalized twice…). */
  | 'WRONG_STATE'
  /** The workbook has no sheet; Excel cannot open such a file. */
  | 'NO_SHEETS'
  /** The writer was aborted by its caller. */
  | 'ABORTED'
  /** The output stream or the zip layer failed while writing. */
  | 'OUTPUT_FAILED'
  /** The file is not a readable SpreadsheetML workbook (missing part, malformed XML, bad reference). */
  | 'BAD_WORKBOOK'
  /** The workbook has no worksheet of that name. */
  | 'NO_SUCH_SHEET';

export class WorkbookError extends Error {
  readonly code: WorkbookErrorCode;

  constructor(code: WorkbookErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WorkbookError';
    this.code = code;
  }
}
