/** Errors of the graph component; `kind` maps to the CLI's exit codes (usage 2, failed 1, refused 3). */
export type GraphErrorCode =
  | 'BAD_OPTIONS'
  | 'CONNECT_FAILED'
  | 'TOOL_TOO_OLD'
  | 'TOOL_MISSING'
  | 'DUMP_FAILED'
  | 'BAD_BUNDLE'
  | 'VERSION_REFUSED'
  | 'LOAD_FAILED'
  | 'VERIFY_FAILED'
  | 'SWAP_FAILED';

export type GraphErrorKind = 'usage' | 'failed' | 'refused';

const KIND: Record<GraphErrorCode, GraphErrorKind> = {
  BAD_OPTIONS: 'usage',
  CONNECT_FAILED: 'failed',
  TOOL_TOO_OLD: 'usage',
  TOOL_MISSING: 'usage',
  DUMP_FAILED: 'failed',
  BAD_BUNDLE: 'refused',
  VERSION_REFUSED: 'refused',
  LOAD_FAILED: 'failed',
  VERIFY_FAILED: 'failed',
  SWAP_FAILED: 'failed',
};

export class GraphError extends Error {
  readonly code: GraphErrorCode;
  readonly kind: GraphErrorKind;

  constructor(code: GraphErrorCode, message: string, opts: { cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'GraphError';
    this.code = code;
    this.kind = KIND[code];
  }
}
