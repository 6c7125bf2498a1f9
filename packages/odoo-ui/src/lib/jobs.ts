/** @odoo-module **/
/**
 * The `sam.backup.job` model as the browser sees it through the `orm` service: the job status
 * dicts the model's methods return (`_status_dict` in models/sam_backup_job.py) and the restore
 * report the sidecar's engine writes (packages/engine `RestoreInstallationReport`, the fields shown).
 */

export const MODEL = 'sam.backup.job';

// After a statement: tsc drops a type-only import with the comments before it (the annotation).
import type { OrmService } from '@web/core/utils/hooks';

export type JobKind = 'export' | 'restore' | 'verify' | 'dry-run';
export type JobState = 'waiting' | 'active' | 'completed' | 'failed' | 'cancelled';

export interface JobStatus {
  id: number;
  sidecar_job_id: string | false;
  kind: JobKind;
  state: JobState;
  phase: string | false;
  /** Percent of the current phase, 0–100. */
  progress: number;
  done: number;
  total: number;
  unit: string | false;
  /** Units per second. */
  rate: number;
  eta_ms: number;
  log: string;
  bundle_name: string | false;
  bundle_size: number;
  bundle_sha256: string | false;
  counts: Record<string, Record<string, number>> | null;
  dry_run_report: RestoreInstallationReport | null;
  started_at: string | false;
  finished_at: string | false;
  requested_by: string | false;
  message: string | false;
  running: boolean;
}

export interface History {
  jobs: JobStatus[];
  /** Why the sidecar could not be asked about running jobs (one sentence), or false. */
  sidecar_error: string | false;
}

export interface BundleInfo {
  name: string;
  size: number;
  sha256: string | null;
  created: string;
  components: string[];
  counts: Record<string, Record<string, number>>;
  readable: boolean;
}

export interface OdooTableReport {
  table: string;
  model: string | null;
  kind: string;
  rowsInBundle: number;
  rowsNow: number;
  toInsert: number;
  toUpdate: number;
  toDelete: number;
  missingRefs: Array<{ column: string; table: string; ids: number[] }>;
  verified: boolean;
}

export interface OdooRestoreReport {
  verdict: 'ok' | 'refused';
  refusals: string[];
  warnings: string[];
  odooVersion: { bundle: string; target: string };
  modules: Array<{ name: string; bundle: string; target: string | null; verdict: string }>;
  tables: OdooTableReport[];
  files: { inBundle: number; toAdd: number; present: number };
  committed: boolean;
}

export interface GraphRestoreReport {
  database: string;
  differences: string[];
  tables: Array<{ table: string; rowsInBundle: number; rowsNow: number | null }>;
  verified: boolean;
}

export interface VectorRestoreReport {
  mode: 'directory' | 'server';
  target: string;
  collections: Array<{ name: string; recordsInBundle: number; recordsNow: number | null }>;
  verified: boolean;
}

/** One place a restore writes to (packages/engine `RestoreDiskPlace`). */
export interface DiskNeed {
  place: string;
  path?: string;
  server?: string;
  /** An estimate that errs high. */
  needBytes: number;
  /** null: not measurable from the sidecar (a database server). */
  freeBytes: number | null;
  components: string[];
  /** The other places on the same filesystem: their needs add up against its free space. */
  sharesFilesystemWith?: string[];
  /** false: the filesystem lacks the space, and a restore would be refused. */
  fits?: boolean | null;
}

/** The places whose filesystem lacks the space (a restore of this bundle would be refused). */
export function diskShort(report: RestoreInstallationReport | null): DiskNeed[] {
  return (report?.disk ?? []).filter((d) =>
    d.fits === undefined ? d.freeBytes !== null && d.freeBytes < d.needBytes : d.fits === false,
  );
}

export interface RestoreInstallationReport {
  dryRun: boolean;
  odoo: OdooRestoreReport | null;
  graph: GraphRestoreReport | null;
  vectors: VectorRestoreReport | null;
  safetyBundle: string | null;
  switched: boolean;
  durationMs: number;
  disk?: DiskNeed[];
}

/** How a job's kind is named to the user. */
export const KIND_LABELS: Record<JobKind, string> = {
  export: 'Export',
  restore: 'Restore',
  verify: 'Verification',
  'dry-run': 'Dry run',
};

export function isRunning(state: JobState): boolean {
  return state === 'waiting' || state === 'active';
}

/**
 * The message to show for a failed call: the server's own message for an Odoo error (a UserError
 * raised by the model, e.g. "the backup service at … cannot be reached: …"), never a traceback.
 */
export function errorMessage(error: unknown): string {
  if (error && typeof error === 'object') {
    const e = error as { data?: { message?: unknown }; message?: unknown };
    if (typeof e.data?.message === 'string' && e.data.message) return e.data.message;
    if (typeof e.message === 'string' && e.message) return e.message;
  }
  return String(error);
}

/** The model's methods the components call (one place, so the names match the Python side). */
export class JobsApi {
  constructor(private readonly orm: OrmService) {}

  history(limit = 20): Promise<History> {
    return this.orm.call<History>(MODEL, 'get_history', [], { limit });
  }

  async status(id: number): Promise<JobStatus | null> {
    const list = await this.orm.call<JobStatus[]>(MODEL, 'get_status', [[id]]);
    return list[0] ?? null;
  }

  startExport(): Promise<number> {
    return this.orm.call<number>(MODEL, 'action_start_export', []);
  }

  startRestore(bundle: string, dryRun: boolean): Promise<number> {
    return this.orm.call<number>(MODEL, 'action_start_restore', [bundle], { dry_run: dryRun });
  }

  cancel(id: number): Promise<boolean> {
    return this.orm.call<boolean>(MODEL, 'action_cancel', [[id]]);
  }

  bundles(): Promise<BundleInfo[]> {
    return this.orm.call<BundleInfo[]>(MODEL, 'get_bundles', []);
  }
}

/** Where the browser downloads a bundle (the addon's streaming proxy to the sidecar). */
export function downloadUrl(bundle: string): string {
  return `/sam_backup/download/${encodeURIComponent(bundle)}`;
}
