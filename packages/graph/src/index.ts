/**
 * @sam-backup/graph — the graph database of a SAM AI installation (Apache AGE on PostgreSQL, or a
 * plain PostgreSQL database): a pg_dump from the snapshot its fingerprint is computed in, and a
 * restore beside the live database that is verified before the two swap names.
 */
export { GraphError, type GraphErrorCode, type GraphErrorKind } from './errors.js';
export {
  exportGraph,
  type GraphExportOptions,
  type GraphExportResult,
  type GraphProgress,
} from './export.js';
export {
  compareFingerprints,
  fingerprint,
  fingerprintHash,
  GRAPH_HASH_ALGORITHM,
  type GraphFingerprint,
} from './fingerprint.js';
export {
  type GraphRestoreOptions,
  type GraphRestoreReport,
  type PreparedGraphRestore,
  prepareGraphRestore,
  recoverGraphSwap,
  restoreGraph,
  undoGraphSwap,
} from './restore.js';
export { findTool, type Tool } from './tools.js';
