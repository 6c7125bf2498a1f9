import json
import logging
from datetime import datetime

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from .sidecar import (
    COMPONENTS,
    COMPONENTS_PARAM,
    DEFAULT_COMPONENTS,
    DEFAULT_MODULES,
    MODULES_PARAM,
    SidecarClient,
    SidecarError,
    split_list,
)

_logger = logging.getLogger(__name__)

KINDS = [
    ("export", "Export"),
    ("restore", "Restore"),
    ("verify", "Verify"),
    ("dry-run", "Dry run"),
]
STATES = [
    ("waiting", "Waiting"),
    ("active", "Running"),
    ("completed", "Completed"),
    ("failed", "Failed"),
    ("cancelled", "Cancelled"),
]
RUNNING_STATES = ("waiting", "active")
# BullMQ states the sidecar may report besides the five above.
SIDECAR_STATES = {
    "delayed": "waiting",
    "prioritized": "waiting",
    "waiting-children": "waiting",
    "removed": "cancelled",
}
LOG_LINES = 200
INT4_MAX = 2**31 - 1


def _parse_datetime(value):
    """ISO 8601 from the sidecar (``2025-01-31T12:00:00.000Z``) -> naive UTC."""
    if not value or not isinstance(value, str):
        return False
    try:
        return datetime.strptime(value[:19], "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return False


def _number(value, default=0.0):
    try:
        return float(value) if value is not None else default
    except (TypeError, ValueError):
        return default


class SamBackupJob(models.Model):
    _name = "sam.backup.job"
    _description = "SAM AI Backup Job"
    _order = "id desc"

    kind = fields.Selection(
        KINDS,
        string="Kind",
        required=True,
        readonly=True,
        help="Export writes a new bundle; Restore replaces the current data with a bundle's; "
        "Verify checks a bundle's integrity; Dry run reports what a restore would change.",
    )
    state = fields.Selection(
        STATES,
        string="State",
        required=True,
        default="waiting",
        readonly=True,
        index=True,
        help="State of the job in the sam-backup sidecar, as last read.",
    )
    sidecar_job_id = fields.Char(
        string="Sidecar Job ID",
        readonly=True,
        index=True,
        copy=False,
        help="Identifier of the job in the sam-backup sidecar.",
    )
    phase = fields.Char(
        string="Phase",
        readonly=True,
        help="Component and step the job is in (for example 'odoo copy').",
    )
    progress = fields.Float(
        string="Progress (%)",
        readonly=True,
        digits=(5, 1),
        help="Percentage done of the current phase, 0 to 100.",
    )
    done = fields.Float(string="Done", readonly=True, help="Units done in the current phase.")
    total = fields.Float(string="Total", readonly=True, help="Units to do in the current phase.")
    unit = fields.Char(string="Unit", readonly=True, help="Unit of Done and Total: items or bytes.")
    rate = fields.Float(string="Rate (per second)", readonly=True, help="Units done per second.")
    eta_ms = fields.Integer(
        string="Time Left (ms)",
        readonly=True,
        help="Estimated time left for the current phase, in milliseconds.",
    )
    log = fields.Text(
        string="Log",
        readonly=True,
        help=f"The last {LOG_LINES} lines of the job's log.",
    )
    bundle_name = fields.Char(
        string="Bundle",
        readonly=True,
        help="File name of the bundle written (export) or read (restore, verify, dry run).",
    )
    # A Float, not an Integer: Odoo integers are 32-bit and a bundle can pass 2 GiB.
    bundle_size = fields.Float(
        string="Bundle Size (bytes)",
        readonly=True,
        digits=(20, 0),
        help="Size of the bundle written by an export, in bytes.",
    )
    bundle_sha256 = fields.Char(
        string="Bundle SHA-256",
        readonly=True,
        help="SHA-256 of the bundle written by an export.",
    )
    counts_json = fields.Text(
        string="Counts (JSON)",
        readonly=True,
        help="Rows, nodes or vectors per component in the bundle, as JSON.",
    )
    dry_run_report_json = fields.Text(
        string="Dry Run Report (JSON)",
        readonly=True,
        help="What a restore of the bundle would change, as JSON.",
    )
    started_at = fields.Datetime(
        string="Started At",
        readonly=True,
        help="When the job was requested from Odoo.",
    )
    finished_at = fields.Datetime(
        string="Finished At",
        readonly=True,
        help="When the sidecar finished the job.",
    )
    requested_by = fields.Many2one(
        "res.users",
        string="Requested By",
        readonly=True,
        ondelete="set null",
        default=lambda self: self.env.user,
        help="The administrator who started the job.",
    )
    message = fields.Text(
        string="Message",
        readonly=True,
        help="Error or note about the job (the sidecar's error for a failed job).",
    )

    @api.depends("kind", "sidecar_job_id")
    def _compute_display_name(self):
        # display_name is computed by _compute_display_name since Odoo 17
        # (name_get is gone in 18).
        kinds = dict(KINDS)
        for job in self:
            label = kinds.get(job.kind, job.kind or "")
            job.display_name = f"{label} #{job.sidecar_job_id}" if job.sidecar_job_id else label

    # -- helpers -----------------------------------------------------------

    def _check_system(self):
        if not (self.env.su or self.env.user.has_group("base.group_system")):
            raise AccessError(_("Only administrators (Settings access) can run SAM AI backups."))

    def _client(self):
        return SidecarClient(self.env)

    @api.model
    def _components(self, components):
        if not components:
            components = split_list(
                self.env["ir.config_parameter"].sudo().get_param(COMPONENTS_PARAM),
                DEFAULT_COMPONENTS,
            )
        if isinstance(components, str):
            components = split_list(components)
        unknown = sorted(set(components) - set(COMPONENTS))
        if unknown:
            raise UserError(
                _(
                    "Unknown backup component(s) %(unknown)s: use %(known)s "
                    "(fix the list in Settings > SAM AI Backup).",
                    unknown=", ".join(unknown),
                    known=", ".join(COMPONENTS),
                )
            )
        return [c for c in COMPONENTS if c in components]

    @api.model
    def _start(self, kind, options, bundle_name=False):
        self._check_system()
        answer = self._client().create_job(kind, options) or {}
        job_id = answer.get("id")
        if not job_id:
            raise UserError(
                _("The SAM AI backup service did not return a job id: see the sidecar log.")
            )
        job = self.create(
            {
                "kind": kind,
                "state": "waiting",
                "sidecar_job_id": str(job_id),
                "bundle_name": bundle_name,
                "started_at": fields.Datetime.now(),
                "requested_by": self.env.user.id,
            }
        )
        return job.id

    def _values_from_sidecar(self, data):
        """Field values from a sidecar job (``GET /jobs/<id>``)."""
        state = data.get("state")
        state = SIDECAR_STATES.get(state, state)
        progress = data.get("progress") or {}
        done = _number(progress.get("done"))
        total = _number(progress.get("total"))
        percent = progress.get("percent")
        if percent is None:
            percent = done * 100.0 / total if total else 0.0
        values = {
            "phase": data.get("phase") or False,
            "progress": max(0.0, min(100.0, _number(percent))),
            "done": done,
            "total": total,
            "unit": progress.get("unit") or False,
            "rate": _number(data.get("ratePerSecond")),
            "eta_ms": int(min(_number(data.get("etaMs")), INT4_MAX)),
            "log": "\n".join(str(line) for line in (data.get("log") or [])[-LOG_LINES:]) or False,
            "finished_at": _parse_datetime(data.get("finishedAt")),
        }
        if state == "completed" and data.get("result") is None:
            # Every finished job has a result; a "completed" without one was read mid-way
            # (an older sidecar): keep the job running so the next read gets the result.
            state = None
        if state in dict(STATES):
            values["state"] = state
        if state == "completed":
            values["progress"] = 100.0
        result = data.get("result")
        if isinstance(result, dict):
            if result.get("bundle"):
                values["bundle_name"] = result["bundle"]
            if result.get("bytes") is not None:
                values["bundle_size"] = _number(result["bytes"])
            if result.get("sha256"):
                values["bundle_sha256"] = result["sha256"]
            if result.get("counts") is not None:
                values["counts_json"] = json.dumps(result["counts"], indent=2, sort_keys=True)
            if result.get("report") is not None:
                values["dry_run_report_json"] = json.dumps(
                    result["report"], indent=2, sort_keys=True
                )
        if data.get("error"):
            values["message"] = str(data["error"])
        return values

    def _refresh_from_sidecar(self, client=None):
        client = client or self._client()
        for job in self.filtered("sidecar_job_id"):
            try:
                data = client.get_job(job.sidecar_job_id)
            except SidecarError as error:
                if error.status != 404:
                    raise
                job.write(
                    {
                        "state": "failed" if job.state in RUNNING_STATES else job.state,
                        "message": _(
                            "The SAM AI backup service no longer knows job %(job)s "
                            "(it was removed or the sidecar's queue was reset).",
                            job=job.sidecar_job_id,
                        ),
                    }
                )
                continue
            if isinstance(data, dict):
                job.write(job._values_from_sidecar(data))

    @api.model
    def _status_dict(self, job):
        def loads(text):
            try:
                return json.loads(text) if text else None
            except ValueError:
                return None

        return {
            "id": job.id,
            "sidecar_job_id": job.sidecar_job_id or False,
            "kind": job.kind,
            "state": job.state,
            "phase": job.phase or False,
            "progress": job.progress,
            "done": job.done,
            "total": job.total,
            "unit": job.unit or False,
            "rate": job.rate,
            "eta_ms": job.eta_ms,
            "log": job.log or "",
            "bundle_name": job.bundle_name or False,
            "bundle_size": job.bundle_size,
            "bundle_sha256": job.bundle_sha256 or False,
            "counts": loads(job.counts_json),
            "dry_run_report": loads(job.dry_run_report_json),
            "started_at": fields.Datetime.to_string(job.started_at) if job.started_at else False,
            "finished_at": fields.Datetime.to_string(job.finished_at) if job.finished_at else False,
            "requested_by": job.requested_by.display_name or False,
            "message": job.message or False,
            "running": job.state in RUNNING_STATES,
        }

    # -- called from the browser (orm service) -----------------------------

    @api.model
    def action_start_export(self, components=None):
        """Start an export of ``components`` (default: the Settings list) and
        of the modules set in Settings; return the new job's id."""
        options = {"components": self._components(components)}
        modules = split_list(
            self.env["ir.config_parameter"].sudo().get_param(MODULES_PARAM), DEFAULT_MODULES
        )
        if modules:
            options["modules"] = modules
        return self._start("export", options)

    @api.model
    def action_start_restore(self, bundle_name, components=None, dry_run=False):
        """Start a restore of ``bundle_name`` (a dry run if ``dry_run``);
        return the new job's id."""
        if not bundle_name:
            raise UserError(_("Choose the bundle to restore."))
        options = {"bundle": bundle_name, "components": self._components(components)}
        kind = "dry-run" if dry_run else "restore"
        return self._start(kind, options, bundle_name=bundle_name)

    @api.model
    def action_start_verify(self, bundle_name, components=None):
        """Start a verification of ``bundle_name``; return the new job's id."""
        if not bundle_name:
            raise UserError(_("Choose the bundle to verify."))
        options = {"bundle": bundle_name, "components": self._components(components)}
        return self._start("verify", options, bundle_name=bundle_name)

    def action_refresh(self):
        """Read the jobs' state from the sidecar and store it."""
        self._check_system()
        self._refresh_from_sidecar()
        return True

    def action_cancel(self):
        """Ask the sidecar to cancel the waiting or running jobs."""
        self._check_system()
        client = self._client()
        for job in self.filtered(lambda j: j.state in RUNNING_STATES and j.sidecar_job_id):
            answer = client.cancel_job(job.sidecar_job_id) or {}
            if answer.get("state") == "removed":
                # A waiting job is removed from the queue at once: the sidecar
                # will not know it any more.
                job.write(
                    {
                        "state": "cancelled",
                        "finished_at": fields.Datetime.now(),
                        "message": _("Cancelled before it started."),
                    }
                )
            else:
                job._refresh_from_sidecar(client)
        return True

    @api.model
    def get_status(self, ids, refresh=True):
        """Plain dicts for the progress display; with ``refresh``, the jobs
        still waiting or running are first read from the sidecar."""
        self._check_system()
        jobs = self.browse(ids).exists()
        if refresh:
            jobs.filtered(lambda j: j.state in RUNNING_STATES)._refresh_from_sidecar()
        return [self._status_dict(job) for job in jobs]

    @api.model
    def get_history(self, limit=20):
        """The latest jobs, newest first, as the panel shows them: the ones still waiting or
        running are first read from the sidecar. When the sidecar cannot be reached the history
        is still returned, with the reason in ``sidecar_error`` (one sentence, no traceback)."""
        self._check_system()
        jobs = self.search([], limit=max(1, min(int(limit or 20), 200)))
        sidecar_error = False
        running = jobs.filtered(lambda j: j.state in RUNNING_STATES)
        if running:
            try:
                running._refresh_from_sidecar()
            except UserError as error:
                sidecar_error = str(error.args[0] if error.args else error)
        return {"jobs": [self._status_dict(job) for job in jobs], "sidecar_error": sidecar_error}

    @api.model
    def get_bundles(self):
        """The bundles the sidecar keeps (``GET /bundles``)."""
        self._check_system()
        return self._client().list_bundles()

    @api.model
    def action_delete_bundle(self, bundle_name):
        """Delete one bundle from the sidecar's backup folder."""
        self._check_system()
        if not bundle_name:
            raise UserError(_("Choose the bundle to delete."))
        self._client().delete_bundle(bundle_name)
        return True

    @api.model
    def check_sidecar(self):
        """``True`` if the sidecar answers ``GET /healthz``; raise otherwise."""
        self._check_system()
        self._client().health()
        return True

    # -- cron ----------------------------------------------------------------

    @api.model
    def _cron_sync_running_jobs(self):
        jobs = self.sudo().search([("state", "in", RUNNING_STATES)])
        if not jobs:
            return
        client = SidecarClient(self.sudo().env)
        for job in jobs:
            try:
                job._refresh_from_sidecar(client)
            except UserError as error:
                # The message names the URL and cause, never the token.
                _logger.warning("sam_backup: could not refresh job %s: %s", job.id, error)
                return

    # -- install -------------------------------------------------------------

    @api.model
    def _install_list_view(self):
        """Create the job list view with the root tag this Odoo knows.

        Odoo 17 only knows ``<tree>`` (ir.ui.view type 'tree'); Odoo 18 renamed
        it ``<list>`` (type 'list') and refuses ``<tree>`` ("Invalid view type"),
        as does 19. No single tag installs on all three, so this view is not in
        the XML data but created here, after reading the selection of
        ``ir.ui.view.type``. Called by the post-init hook.
        """
        View = self.env["ir.ui.view"].sudo()
        tag = "list" if "list" in View._fields["type"].get_values(self.env) else "tree"
        arch = f"""<{tag} string="Backup Jobs" create="false" decoration-danger="state == 'failed'"
            decoration-muted="state == 'cancelled'" decoration-info="state in ('waiting', 'active')">
    <field name="started_at"/>
    <field name="kind"/>
    <field name="state"/>
    <field name="phase" optional="show"/>
    <field name="progress" widget="progressbar" optional="show"/>
    <field name="bundle_name"/>
    <field name="bundle_size" optional="hide"/>
    <field name="finished_at" optional="show"/>
    <field name="requested_by" optional="show"/>
    <field name="sidecar_job_id" optional="hide"/>
</{tag}>"""
        xmlid = "sam_backup.sam_backup_job_view_list"
        view = self.env.ref(xmlid, raise_if_not_found=False)
        if view:
            view.write({"arch_db": arch})
            return view
        view = View.create(
            {
                "name": "sam.backup.job.list",
                "model": self._name,
                "type": tag,
                "priority": 10,
                "arch_db": arch,
            }
        )
        # noupdate: the record was not loaded from a data file, so a module
        # update must not delete it as obsolete; uninstall removes it.
        self.env["ir.model.data"].sudo().create(
            {
                "module": "sam_backup",
                "name": "sam_backup_job_view_list",
                "model": "ir.ui.view",
                "res_id": view.id,
                "noupdate": True,
            }
        )
        return view
