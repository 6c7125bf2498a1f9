/** @odoo-module **/
/**
 * The block on the Settings page (widget `sam_backup_panel` of the view_widgets registry):
 * Export complete backup, Import previous backup, the progress of the job running now (after a
 * page reload too), and the history of jobs with download links. Calls go through the `orm`
 * service to the `sam.backup.job` model, which talks to the sidecar; when the sidecar cannot be
 * reached, the model's one-sentence message is shown here instead of an error dialog.
 */
import { Component, onWillStart, useState } from '@odoo/owl';
import { _t } from '@web/core/l10n/translation';
import { registry } from '@web/core/registry';
import { useService } from '@web/core/utils/hooks';
import { formatBytes, formatDateTime, formatDuration } from '../../lib/format.js';
import { downloadUrl, errorMessage, isRunning, JobsApi, KIND_LABELS, } from '../../lib/jobs.js';
import { SamBackupProgress } from '../progress_bar/progress_bar.js';
import { SamBackupRestoreDialog } from '../restore_dialog/restore_dialog.js';
export class SamBackupPanel extends Component {
    static template = 'sam_backup.BackupPanel';
    static components = { SamBackupProgress, SamBackupRestoreDialog };
    // A view widget receives the record and readonly (standardWidgetProps) and, depending on the
    // Odoo version, more: accept them all, use none.
    static props = ['*'];
    api;
    notification;
    state;
    setup() {
        this.api = new JobsApi(useService('orm'));
        this.notification = useService('notification');
        this.state = useState({
            jobs: [],
            loaded: false,
            sidecarError: null,
            error: null,
            activeJobId: null,
            activeFinished: false,
            busy: false,
            dialogOpen: false,
        });
        onWillStart(async () => {
            await this.loadHistory();
            // Re-attach to a job still running (a reload, another tab, another administrator).
            const running = this.state.jobs.find((j) => isRunning(j.state));
            if (running)
                this.state.activeJobId = running.id;
        });
    }
    async loadHistory() {
        try {
            const history = await this.api.history(20);
            this.state.jobs = history.jobs;
            this.state.sidecarError = history.sidecar_error || null;
        }
        catch (error) {
            this.state.error = errorMessage(error);
        }
        finally {
            this.state.loaded = true;
        }
    }
    get running() {
        const active = this.state.activeJobId !== null && !this.state.activeFinished;
        return active || this.state.jobs.some((j) => isRunning(j.state));
    }
    async startExport() {
        this.state.busy = true;
        this.state.error = null;
        try {
            this.state.activeJobId = await this.api.startExport();
            this.state.activeFinished = false;
            await this.loadHistory();
        }
        catch (error) {
            this.state.error = errorMessage(error);
        }
        finally {
            this.state.busy = false;
        }
    }
    onJobDone(status) {
        // The bar stays, showing how the job ended, until the next job starts.
        this.state.activeFinished = true;
        void this.loadHistory();
        const what = KIND_LABELS[status.kind] ?? status.kind;
        if (status.state === 'completed') {
            const size = status.kind === 'export' && status.bundle_size ? ` (${formatBytes(status.bundle_size)})` : '';
            this.notification.add(String(_t('%s finished%s.', what, size)), { type: 'success' });
        }
        else {
            this.notification.add(status.message || String(_t('%s %s.', what, status.state)), {
                type: status.state === 'failed' ? 'danger' : 'warning',
            });
        }
    }
    openRestore() {
        this.state.error = null;
        this.state.dialogOpen = true;
    }
    closeRestore() {
        this.state.dialogOpen = false;
        void this.loadHistory();
    }
    onDialogChange() {
        void this.loadHistory();
    }
    kindLabel(job) {
        return KIND_LABELS[job.kind] ?? job.kind;
    }
    downloadUrl(job) {
        return job.kind === 'export' && job.state === 'completed' && job.bundle_name
            ? downloadUrl(job.bundle_name)
            : null;
    }
    duration(job) {
        if (!job.started_at || !job.finished_at)
            return '';
        const ms = Date.parse(`${job.finished_at.replace(' ', 'T')}Z`) -
            Date.parse(`${job.started_at.replace(' ', 'T')}Z`);
        return formatDuration(ms);
    }
    formatBytes = formatBytes;
    formatDateTime = formatDateTime;
}
registry.category('view_widgets').add('sam_backup_panel', { component: SamBackupPanel });
