/**
 * @sam-backup/odoo-data — the Odoo module data of a SAM AI installation: discovery from Odoo's own
 * metadata, lossless export to the workbook, verified all-or-nothing restore, dry-run.
 */
export {
  DEFAULT_MODULE_PATTERNS,
  type Discovery,
  NEVER_BACKED_UP_MODULES,
  type PlannedTable,
  SECRET_COLUMN_PATTERN,
} from './discover.js';
export {
  OdooDataError,
  type OdooDataErrorCode,
  type OdooDataErrorKind,
  OdooDataRefusedError,
} from './errors.js';
export {
  componentHash,
  discoverOdooData,
  type ExportOptions,
  type ExportResult,
  exportOdooData,
  type OdooProgress,
  type SecretOmitted,
} from './export.js';
export { HASH_ALGORITHM } from './hash.js';
export {
  type ColumnSpec,
  type ModelList,
  ModelListSchema,
  type OutsideRef,
  type TableSpec,
} from './model-list.js';
export {
  dryRunRestore,
  odooRestoreCommitted,
  type PreparedRestore,
  prepareRestore,
  type RestoreOptions,
  type RestoreReport,
  recoverOdooFilestore,
  restoreOdooData,
  type TableReport,
} from './restore.js';
