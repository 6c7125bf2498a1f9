/** @odoo-module **/
/**
 * The live progress of one job: phase, percent, items or bytes, rate, time left, the last log
 * lines, and Cancel. It asks the `sam.backup.job` model every `pollMs` (default 500 ms) — the model
 * reads the sidecar, which updates a running job at least once a second — so what is shown trails
 * the sidecar by well under a second. Given a job id it attaches to the job whatever its state, so
 * after a page reload the panel re-attaches to the job still running.
 */
import { Component, onMounted, onWillStart, onWillUnmount, useState } from '@odoo/owl';
import { useService } from '@web/core/utils/hooks';
import { formatAmount, formatDuration, formatRate } from '../../lib/format.js';
import { errorMessage, isRunning, JobsApi, KIND_LABELS } from '../../lib/jobs.js';
export class SamBackupProgress extends Component {
    static template = 'sam_backup.Progress';
    static props = {
        jobId: Number,
        onDone: { type: Function, optional: true },
        pollMs: { type: Number, optional: true },
        logLines: { type: Number, optional: true },
    };
    api;
    state;
    timer = null;
    stopped = false;
    finished = false;
    setup() {
        this.api = new JobsApi(useService('orm'));
        this.state = useState({ status: null, error: null, cancelling: false });
        onWillStart(() => this.poll(false));
        onMounted(() => this.schedule());
        onWillUnmount(() => {
            this.stopped = true;
            if (this.timer)
                clearTimeout(this.timer);
        });
    }
    schedule() {
        if (this.stopped || this.finished)
            return;
        this.timer = setTimeout(() => this.poll(true), this.props.pollMs ?? 500);
    }
    /** One status read; the next is scheduled only after this one answered (never two at once). */
    async poll(reschedule) {
        try {
            const status = await this.api.status(this.props.jobId);
            if (this.stopped)
                return;
            if (!status) {
                this.state.error = `Job ${this.props.jobId} no longer exists.`;
                this.finished = true;
                return;
            }
            this.state.status = status;
            this.state.error = null;
            if (!isRunning(status.state) && !this.finished) {
                this.finished = true;
                this.props.onDone?.(status);
            }
        }
        catch (error) {
            // The sidecar or Odoo did not answer this time: say so, and keep asking.
            if (!this.stopped)
                this.state.error = errorMessage(error);
        }
        if (reschedule)
            this.schedule();
    }
    async cancel() {
        this.state.cancelling = true;
        try {
            await this.api.cancel(this.props.jobId);
        }
        catch (error) {
            this.state.error = errorMessage(error);
            this.state.cancelling = false;
        }
    }
    get kindLabel() {
        const kind = this.state.status?.kind;
        return (kind && KIND_LABELS[kind]) || '';
    }
    get percent() {
        const s = this.state.status;
        if (!s)
            return 0;
        return Math.max(0, Math.min(100, s.state === 'completed' ? 100 : s.progress));
    }
    get percentText() {
        return `${this.percent.toFixed(this.percent < 10 ? 1 : 0)} %`;
    }
    get amounts() {
        const s = this.state.status;
        if (!s?.total)
            return '';
        return `${formatAmount(s.done, s.unit)} of ${formatAmount(s.total, s.unit)}`;
    }
    get rate() {
        const s = this.state.status;
        return s && isRunning(s.state) ? formatRate(s.rate, s.unit) : '';
    }
    get eta() {
        const s = this.state.status;
        return s && isRunning(s.state) && s.eta_ms > 0 ? `${formatDuration(s.eta_ms)} left` : '';
    }
    get logTail() {
        const log = this.state.status?.log ?? '';
        return log ? log.split('\n').slice(-(this.props.logLines ?? 5)) : [];
    }
    get barClass() {
        const state = this.state.status?.state;
        if (state === 'failed')
            return 'bg-danger';
        if (state === 'cancelled')
            return 'bg-secondary';
        if (state === 'completed')
            return 'bg-success';
        return 'progress-bar-striped progress-bar-animated';
    }
    get canCancel() {
        const s = this.state.status;
        return !!s && isRunning(s.state) && !this.state.cancelling;
    }
}
