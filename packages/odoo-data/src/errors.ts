/**
 * Typed errors of the Odoo data component. Every message names the thing, the cause and the fix;
 * `kind` tells a command line how to exit: usage → 2, failed → 1, refused → 3.
 */
export type OdooDataErrorKind = 'usage' | 'failed' | 'refused';

export type OdooDataErrorCode =
  | 'BAD_OPTIONS'
  | 'NO_MODULES'
  | 'CONNECT_FAILED'
  | 'EXPORT_FAILED'
  | 'BAD_BUNDLE'
  | 'VERSION_REFUSED'
  | 'COLUMNS_DROPPED'
  | 'DANGLING_REFERENCES'
  | 'ID_CONFLICT'
  | 'MISSING_ROWS'
  | 'HASH_MISMATCH'
  | 'RESTORE_FAILED'
  | 'FILESTORE_FAILED';

const KIND: Record<OdooDataErrorCode, OdooDataErrorKind> = {
  BAD_OPTIONS: 'usage',
  NO_MODULES: 'usage',
  CONNECT_FAILED: 'failed',
  EXPORT_FAILED: 'failed',
  BAD_BUNDLE: 'refused',
  VERSION_REFUSED: 'refused',
  COLUMNS_DROPPED: 'refused',
  DANGLING_REFERENCES: 'refused',
  ID_CONFLICT: 'refused',
  MISSING_ROWS: 'refused',
  HASH_MISMATCH: 'failed',
  RESTORE_FAILED: 'failed',
  FILESTORE_FAILED: 'failed',
};

export class OdooDataError extends Error {
  readonly code: OdooDataErrorCode;
  readonly kind: OdooDataErrorKind;
  /** Structured detail (e.g. the list of dangling references), for reports. */
  readonly details: unknown;

  constructor(code: OdooDataErrorCode, message: string, opts: { cause?: unknown; details?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'OdooDataError';
    this.code = code;
    this.kind = KIND[code];
    this.details = opts.details;
  }
}

/** A restore (or export) was refused before anything changed. */
export class OdooDataRefusedError extends OdooDataError {
  constructor(code: OdooDataErrorCode, message: string, opts: { cause?: unknown; details?: unknown } = {}) {
    super(code, message, opts);
    this.name = 'OdooDataRefusedError';
  }
}
