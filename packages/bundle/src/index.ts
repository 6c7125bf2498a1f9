export {
  BundleError,
  type BundleErrorCode,
  type BundleProblem,
  BundleRefusedError,
} from './errors.js';
export {
  type Component,
  type EntryRecord,
  FORMAT_NAME,
  FORMAT_VERSION,
  type Metadata,
  type MetadataInput,
  MetadataSchema,
} from './metadata.js';
export { bundleFileName, checkEntryName, ENTRY, entryNameProblem } from './names.js';
export { BundleReader, openBundle, type RandomAccessSource, type ReaderOptions } from './reader.js';
export {
  type InspectReport,
  inspectBundle,
  type VerifyProgress,
  type VerifyReport,
  verifyBundle,
} from './verify.js';
export { BundleWriter, type BundleWriterOptions, type EntrySource, type FinalizedBundle } from './writer.js';
