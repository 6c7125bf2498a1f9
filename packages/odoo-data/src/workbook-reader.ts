/**
 * Opens the workbook in place from the stored bundle entry with @sam-backup/workbook's streaming
 * reader; a workbook that cannot be read is a damaged bundle, said in those words.
 */
import type { RandomAccessSource } from '@sam-backup/bundle';
import { openWorkbook, type WorkbookReader } from '@sam-backup/workbook';
import { OdooDataError } from './errors.js';

export async function openWorkbookSource(source: string | RandomAccessSource): Promise<WorkbookReader> {
  try {
    return await openWorkbook(source);
  } catch (err) {
    throw new OdooDataError(
      'BAD_BUNDLE',
      `the workbook cannot be read (${(err as Error).message}); the bundle is damaged — restore from another bundle, or undo the edit that broke the workbook`,
      { cause: err },
    );
  }
}
