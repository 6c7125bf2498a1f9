export { WorkbookError, type WorkbookErrorCode } from './errors.js';
export {
  columnName,
  cutCellText,
  MAX_CELL_CHARS,
  MAX_COLUMNS,
  MAX_ROWS,
  MAX_SHEET_NAME_CHARS,
  safeSheetName,
  sheetNameProblem,
} from './limits.js';
export {
  openWorkbook,
  type RandomAccessSource,
  type ReadCell,
  type RowRead,
  type SheetInfo,
  type WorkbookReader,
} from './reader.js';
export {
  type Cell,
  type SheetOptions,
  type SheetWriter,
  WorkbookWriter,
  type WorkbookWriterOptions,
} from './writer.js';
