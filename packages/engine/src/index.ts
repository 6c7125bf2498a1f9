/**
 * @sam-backup/engine — one export and one restore across the stores of a SAM AI installation
 * (today: the Odoo data and the graph database; the vectors join with the vectors package).
 */
export {
  COMPONENTS,
  type Component,
  type EngineProgress,
  type ExportInstallationOptions,
  type ExportInstallationResult,
  exportInstallation,
} from './export.js';
export {
  BundleDamagedError,
  type RestoreInstallationOptions,
  type RestoreInstallationReport,
  RestoreRefusedError,
  restoreInstallation,
} from './restore.js';
