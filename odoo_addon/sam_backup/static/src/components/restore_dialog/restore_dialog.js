/** @odoo-module **/
/**
 * Import a previous backup, in steps that each say what happens next:
 *   1. choose — a bundle the backup service keeps, or a file from this computer (uploaded in chunks
 *      with its own progress; it resumes after a lost connection or a reload: choose the same file);
 *   2. dry run — the bundle is verified and compared with this installation, nothing is changed;
 *   3. preview — the table of what the restore would change, warnings, disk needed; the restore is
 *      started only after the bundle's name is typed;
 *   4. restore — the progress bar, then the verification report.
 */
import { Component, useState } from '@odoo/owl';
import { useService } from '@web/core/utils/hooks';
import { formatBytes, formatDateTime } from '../../lib/format.js';
import { diskShort, errorMessage, JobsApi } from '../../lib/jobs.js';
import { uploadBundle } from '../../lib/upload.js';
import { SamBackupProgress } from '../progress_bar/progress_bar.js';
import { SamBackupReportTable } from '../report_table/report_table.js';
export class SamBackupRestoreDialog extends Component {
    static template = 'sam_backup.RestoreDialog';
    static components = { SamBackupProgress, SamBackupReportTable };
    static props = { close: Function, onChange: { type: Function, optional: true } };
    api;
    state;
    uploadAbort = null;
    setup() {
        this.api = new JobsApi(useService('orm'));
        this.state = useState({
            step: 'choose',
            bundles: null,
            bundle: null,
            file: null,
            upload: null,
            dryRunJob: null,
            dryRun: null,
            confirmText: '',
            restoreJob: null,
            restore: null,
            error: null,
            busy: false,
        });
        void this.loadBundles();
    }
    async loadBundles() {
        try {
            this.state.bundles = await this.api.bundles();
        }
        catch (error) {
            this.state.bundles = [];
            this.state.error = errorMessage(error);
        }
    }
    formatBytes = formatBytes;
    formatDateTime = (iso) => formatDateTime(iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, ''));
    onFileChange(ev) {
        const input = ev.target;
        this.state.file = input.files?.[0] ?? null;
        this.state.error = null;
    }
    async uploadFile() {
        const file = this.state.file;
        if (!file)
            return;
        this.state.step = 'upload';
        this.state.error = null;
        this.state.upload = { sent: 0, total: file.size, resumed: 0 };
        this.uploadAbort = new AbortController();
        try {
            const done = await uploadBundle(file, {
                csrfToken: globalThis.odoo?.csrf_token ?? '',
                signal: this.uploadAbort.signal,
                onProgress: (p) => {
                    this.state.upload = { sent: p.sent, total: p.total, resumed: p.resumedChunks };
                },
            });
            await this.startDryRun(done.bundle);
        }
        catch (error) {
            if (this.uploadAbort?.signal.aborted)
                return;
            this.state.error = `${errorMessage(error)} — choose the same file again to resume the upload.`;
            this.state.step = 'choose';
        }
        finally {
            this.uploadAbort = null;
        }
    }
    get uploadPercent() {
        const u = this.state.upload;
        return u?.total ? Math.min(100, (u.sent * 100) / u.total) : 0;
    }
    async startDryRun(bundle) {
        this.state.bundle = bundle;
        this.state.error = null;
        this.state.busy = true;
        try {
            this.state.dryRunJob = await this.api.startRestore(bundle, true);
            this.state.dryRun = null;
            this.state.step = 'dry-run';
        }
        catch (error) {
            this.state.error = errorMessage(error);
            this.state.step = 'choose';
        }
        finally {
            this.state.busy = false;
        }
    }
    onDryRunDone(status) {
        this.state.dryRun = status;
        this.state.confirmText = '';
        this.state.step = 'preview';
    }
    get dryRunOk() {
        const s = this.state.dryRun;
        return (!!s &&
            s.state === 'completed' &&
            !!s.dry_run_report &&
            s.dry_run_report.odoo?.verdict !== 'refused' &&
            // A restore would be refused for want of disk (the engine checks again before writing).
            diskShort(s.dry_run_report).length === 0);
    }
    get confirmed() {
        return !!this.state.bundle && this.state.confirmText.trim() === this.state.bundle;
    }
    async startRestore() {
        if (!this.confirmed || !this.state.bundle)
            return;
        this.state.busy = true;
        this.state.error = null;
        try {
            this.state.restoreJob = await this.api.startRestore(this.state.bundle, false);
            this.state.step = 'restore';
            this.props.onChange?.();
        }
        catch (error) {
            this.state.error = errorMessage(error);
        }
        finally {
            this.state.busy = false;
        }
    }
    onRestoreDone(status) {
        this.state.restore = status;
        this.state.step = 'done';
        this.props.onChange?.();
    }
    get verification() {
        const r = this.state.restore?.dry_run_report;
        if (!r)
            return [];
        const out = [];
        if (r.odoo) {
            const ok = r.odoo.tables.filter((t) => t.verified).length;
            out.push(`Odoo: ${ok} of ${r.odoo.tables.length} tables verified after the restore${r.odoo.committed ? ', committed' : ''}.`);
        }
        if (r.graph)
            out.push(`Graph: database ${r.graph.database} ${r.graph.verified ? 'verified' : 'NOT verified'}.`);
        if (r.vectors)
            out.push(`Vectors: ${r.vectors.collections.length} collections ${r.vectors.verified ? 'verified' : 'NOT verified'}.`);
        if (r.safetyBundle)
            out.push(`The state before the restore was saved as ${r.safetyBundle} (sam-backup undo puts it back).`);
        return out;
    }
    back() {
        this.state.step = 'choose';
        this.state.bundle = null;
        this.state.dryRun = null;
        this.state.dryRunJob = null;
        this.state.error = null;
    }
    close() {
        this.uploadAbort?.abort();
        this.props.close();
    }
    /** The dialog can be closed except while stores are being replaced (the job goes on anyway). */
    get closable() {
        return this.state.step !== 'restore';
    }
}
