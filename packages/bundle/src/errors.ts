/**
 * Typed refusals of the bundle reader (bundle-format.md §6). Every problem names the entry it is
 * about (when there is one), the cause, and what the user can do.
 */
export type BundleErrorCode =
  | 'NOT_A_BUNDLE'
  | 'TRUNCATED'
  | 'BAD_ZIP'
  | 'UNSAFE_NAME'
  | 'LINK_ENTRY'
  | 'DIRECTORY_ENTRY'
  | 'ENCRYPTED_ENTRY'
  | 'UNSUPPORTED_COMPRESSION'
  | 'DUPLICATE_ENTRY'
  | 'UNLISTED_ENTRY'
  | 'MISSING_ENTRY'
  | 'SIZE_MISMATCH'
  | 'COMPRESSION_MISMATCH'
  | 'HEADER_MISMATCH'
  | 'CHECKSUM_MISMATCH'
  | 'ZIP_BOMB'
  | 'UNKNOWN_FORMAT_VERSION'
  | 'BAD_METADATA'
  | 'WRITE_FAILED';

export interface BundleProblem {
  readonly code: BundleErrorCode;
  /** The entry the problem is about; absent for problems of the whole file. */
  readonly entry?: string;
  readonly message: string;
}

const FIX: Partial<Record<BundleErrorCode, string>> = {
  TRUNCATED: 'the file is incomplete: copy or download it again',
  CHECKSUM_MISMATCH:
    'the bundle was damaged after it was written: copy or download it again, or use another copy',
  SIZE_MISMATCH: 'the bundle was damaged or altered: use another copy',
  HEADER_MISMATCH: 'the bundle was damaged or altered: use another copy',
  ZIP_BOMB: 'this is not a bundle written by sam-backup; do not use it',
  UNSAFE_NAME: 'this is not a bundle written by sam-backup; do not use it',
  LINK_ENTRY: 'this is not a bundle written by sam-backup; do not use it',
  UNKNOWN_FORMAT_VERSION: 'restore it with the sam-backup version that wrote it, or a newer one',
};

export class BundleError extends Error {
  readonly code: BundleErrorCode;
  readonly entry: string | undefined;

  constructor(code: BundleErrorCode, message: string, entry?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BundleError';
    this.code = code;
    this.entry = entry;
  }

  toProblem(): BundleProblem {
    return this.entry === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, entry: this.entry, message: this.message };
  }
}

/** The bundle was refused before any use; `problems` lists every problem found, not only the first. */
export class BundleRefusedError extends BundleError {
  readonly problems: readonly BundleProblem[];

  constructor(path: string, problems: readonly BundleProblem[]) {
    const first = problems[0];
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem(s))` : '';
    super(
      first?.code ?? 'BAD_ZIP',
      `bundle ${path} refused: ${first?.message ?? 'unknown problem'}${more}`,
      first?.entry,
    );
    this.name = 'BundleRefusedError';
    this.problems = problems;
  }
}

/** Builds a problem whose message reads "entry X: cause: fix". */
export function problem(code: BundleErrorCode, cause: string, entry?: string): BundleProblem {
  const fix = FIX[code];
  const message = `${entry === undefined ? '' : `entry ${entry}: `}${cause}${fix ? `: ${fix}` : ''}`;
  return entry === undefined ? { code, message } : { code, entry, message };
}

export function bundleError(code: BundleErrorCode, cause: string, entry?: string): BundleError {
  const p = problem(code, cause, entry);
  return new BundleError(code, p.message, entry);
}
