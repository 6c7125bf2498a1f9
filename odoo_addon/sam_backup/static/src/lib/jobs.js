/** @odoo-module **/
/**
 * The `sam.backup.job` model as the browser sees it through the `orm` service: the job status
 * dicts the model's methods return (`_status_dict` in models/sam_backup_job.py) and the restore
 * report the sidecar's engine writes (packages/engine `RestoreInstallationReport`, the fields shown).
 */
export const MODEL = 'sam.backup.job';
/** The places whose filesystem lacks the space (a restore of this bundle would be refused). */
export function diskShort(report) {
    return (report?.disk ?? []).filter((d) => d.fits === undefined ? d.freeBytes !== null && d.freeBytes < d.needBytes : d.fits === false);
}
/** How a job's kind is named to the user. */
export const KIND_LABELS = {
    export: 'Export',
    restore: 'Restore',
    verify: 'Verification',
    'dry-run': 'Dry run',
};
export function isRunning(state) {
    return state === 'waiting' || state === 'active';
}
/**
 * The message to show for a failed call: the server's own message for an Odoo error (a UserError
 * raised by the model, e.g. "the backup service at … cannot be reached: …"), never a traceback.
 */
export function errorMessage(error) {
    if (error && typeof error === 'object') {
        const e = error;
        if (typeof e.data?.message === 'string' && e.data.message)
            return e.data.message;
        if (typeof e.message === 'string' && e.message)
            return e.message;
    }
    return String(error);
}
/** The model's methods the components call (one place, so the names match the Python side). */
export class JobsApi {
    orm;
    constructor(orm) {
        this.orm = orm;
    }
    history(limit = 20) {
        return this.orm.call(MODEL, 'get_history', [], { limit });
    }
    async status(id) {
        const list = await this.orm.call(MODEL, 'get_status', [[id]]);
        return list[0] ?? null;
    }
    startExport() {
        return this.orm.call(MODEL, 'action_start_export', []);
    }
    startRestore(bundle, dryRun) {
        return this.orm.call(MODEL, 'action_start_restore', [bundle], { dry_run: dryRun });
    }
    cancel(id) {
        return this.orm.call(MODEL, 'action_cancel', [[id]]);
    }
    bundles() {
        return this.orm.call(MODEL, 'get_bundles', []);
    }
}
/** Where the browser downloads a bundle (the addon's streaming proxy to the sidecar). */
export function downloadUrl(bundle) {
    return `/sam_backup/download/${encodeURIComponent(bundle)}`;
}
