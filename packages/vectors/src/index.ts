/**
 * @sam-backup/vectors — the ChromaDB store of a SAM AI installation: a consistent snapshot of a
 * persist directory, or every collection of a server, into the bundle; restore beside the live
 * store, verify, swap (bundle-format.md §7.3).
 */
export { type ChromaServer, startChromaServer } from './chroma-server.js';
export { type DirectoryCollection, type DirectoryFingerprint, liveDirectory } from './directory.js';
export { VectorError, type VectorErrorCode, type VectorErrorKind } from './errors.js';
export type { Hook } from './hooks.js';
export { type ChromaCollectionInfo, ChromaHttp, type ChromaRecords } from './http.js';
export { COSINE_TOLERANCE, type ServerCollection, type ServerFingerprint } from './server.js';
export {
  beginVectorExport,
  checkVectors,
  exportVectors,
  type PreparedVectorRestore,
  prepareVectorRestore,
  recoverVectorSwap,
  type VectorDetails,
  type VectorExportHandle,
  type VectorExportResult,
  type VectorJournal,
  type VectorProgress,
  type VectorRestoreReport,
  type VectorSettings,
} from './vectors.js';
