/**
 * @sam-backup/engine — one export and one restore across the three stores of a SAM AI
 * installation (the Odoo data, the graph database, the vectors): preflight, a consistent cut,
 * one bundle; a restore prepared beside the live stores, verified, switched under a journal.
 */

export { type Cut, openCut } from './cut.js';
export { DISK_PLACES, type DiskPlaceName, type RestoreDiskPlace } from './disk.js';
export {
  COMPONENTS,
  type Component,
  type EngineProgress,
  type ExportInstallationOptions,
  type ExportInstallationResult,
  exportInstallation,
  verifyProgress,
} from './export.js';
export {
  JOURNAL_FILE,
  type RecoveryReport,
  type RecoveryTargets,
  readJournal,
  recoverSwitch,
  type SwitchJournal,
} from './journal.js';
export {
  type ExportEstimate,
  estimateExport,
  formatSize,
  PreflightError,
  type PreflightReport,
  preflightExport,
} from './preflight.js';
export {
  BundleDamagedError,
  newestSafetyBundle,
  type RestoreInstallationOptions,
  type RestoreInstallationReport,
  RestoreRefusedError,
  restoreInstallation,
} from './restore.js';
