/**
 * Reads the workbook back through @sam-backup/workbook's streaming reader (`openWorkbook`), in
 * place from the stored bundle entry.
 */
import type { RandomAccessSource } from '@sam-backup/bundle';
import type { Cell } from '@sam-backup/workbook';
import * as workbook from '@sam-backup/workbook';
import { OdooDataError } from './errors.js';
import { openXlsx } from './xlsx-fallback.js';

export interface WorkbookRow {
  rowNumber: number;
  cells: ReadonlyArray<Cell | undefined>;
}

export interface OpenedWorkbook {
  sheets: ReadonlyArray<string | { name: string }>;
  rows(sheet: string): AsyncIterable<WorkbookRow>;
  close(): Promise<void>;
}

type OpenFn = (source: string | RandomAccessSource) => Promise<OpenedWorkbook>;

export async function openWorkbookSource(source: string | RandomAccessSource): Promise<OpenedWorkbook> {
  const open = (workbook as unknown as { openWorkbook?: OpenFn }).openWorkbook;
  if (typeof open === 'function') return open(source);
  try {
    return await openXlsx(source);
  } catch (err) {
    throw new OdooDataError(
      'BAD_BUNDLE',
      `the workbook cannot be read (${(err as Error).message}); the bundle is damaged`,
      {
        cause: err,
      },
    );
  }
}
