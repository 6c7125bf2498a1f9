/** Errors of the vector component; `kind` maps to the CLI's exit codes (usage 2, failed 1, refused 3). */
export type VectorErrorCode =
  | 'BAD_OPTIONS'
  | 'NOT_FOUND'
  | 'UNREACHABLE'
  | 'TOOL_MISSING'
  | 'SNAPSHOT_FAILED'
  | 'HOOK_FAILED'
  | 'BAD_BUNDLE'
  | 'VERSION_REFUSED'
  | 'LOAD_FAILED'
  | 'VERIFY_FAILED'
  | 'SWAP_FAILED';

export type VectorErrorKind = 'usage' | 'failed' | 'refused';

const KIND: Record<VectorErrorCode, VectorErrorKind> = {
  BAD_OPTIONS: 'usage',
  NOT_FOUND: 'usage',
  UNREACHABLE: 'failed',
  TOOL_MISSING: 'usage',
  SNAPSHOT_FAILED: 'failed',
  HOOK_FAILED: 'failed',
  BAD_BUNDLE: 'refused',
  VERSION_REFUSED: 'refused',
  LOAD_FAILED: 'failed',
  VERIFY_FAILED: 'failed',
  SWAP_FAILED: 'failed',
};

export class VectorError extends Error {
  readonly code: VectorErrorCode;
  readonly kind: VectorErrorKind;

  constructor(code: VectorErrorCode, message: string, opts: { cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'VectorError';
    this.code = code;
    this.kind = KIND[code];
  }
}
