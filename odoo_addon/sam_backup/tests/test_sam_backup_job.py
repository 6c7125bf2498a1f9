import urllib.error
from unittest.mock import patch

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged
from odoo.tests.common import TransactionCase, new_test_user

from odoo.addons.sam_backup.models.sidecar import SidecarClient, SidecarError

TOKEN = "s3cret-token-0123456789abcdef"
URL = "http://127.0.0.1:8765"


@tagged("post_install", "-at_install", "sam_backup")
class TestSamBackupJob(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        params = cls.env["ir.config_parameter"].sudo()
        params.set_param("sam_backup.sidecar_url", URL)
        params.set_param("sam_backup.sidecar_token", TOKEN)
        cls.Job = cls.env["sam.backup.job"]
        cls.admin = new_test_user(
            cls.env, login="sam_backup_admin", groups="base.group_user,base.group_system"
        )
        cls.employee = new_test_user(cls.env, login="sam_backup_employee", groups="base.group_user")

    def test_settings_saved_to_system_parameters(self):
        settings = self.env["res.config.settings"].create(
            {
                "sam_backup_sidecar_url": "http://backup.internal:9000",
                "sam_backup_sidecar_token": "another-token-0123456789",
                "sam_backup_modules": "sam_*",
                "sam_backup_components": "odoo,graph",
            }
        )
        settings.execute()
        params = self.env["ir.config_parameter"].sudo()
        self.assertEqual(params.get_param("sam_backup.sidecar_url"), "http://backup.internal:9000")
        self.assertEqual(params.get_param("sam_backup.sidecar_token"), "another-token-0123456789")
        self.assertEqual(params.get_param("sam_backup.modules"), "sam_*")
        self.assertEqual(params.get_param("sam_backup.components"), "odoo,graph")

    def test_export_with_sidecar_unreachable(self):
        refused = urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))
        before = self.Job.search_count([])
        with patch.object(SidecarClient, "_urlopen", side_effect=refused):
            with self.assertRaises(UserError) as caught:
                self.Job.with_user(self.admin).action_start_export(["odoo"])
        message = str(caught.exception.args[0])
        self.assertIn(URL, message)
        self.assertIn("connection refused", message)
        self.assertNotIn(TOKEN, message)
        self.assertEqual(self.Job.search_count([]), before)

    def test_export_with_sidecar_timeout(self):
        timeout = urllib.error.URLError(TimeoutError("timed out"))
        with patch.object(SidecarClient, "_urlopen", side_effect=timeout):
            with self.assertRaises(UserError) as caught:
                self.Job.with_user(self.admin).action_start_export()
        self.assertIn(URL, str(caught.exception.args[0]))
        self.assertNotIn(TOKEN, str(caught.exception.args[0]))

    def test_export_then_refresh(self):
        calls = []

        def fake_call(client, method, path, payload=None, timeout=None):
            calls.append((method, path, payload))
            if method == "POST" and path == "/jobs":
                return {"id": "17"}
            if method == "GET" and path == "/jobs/17":
                return {
                    "id": "17",
                    "type": "export",
                    "state": "completed",
                    "phase": "vectors copy",
                    "progress": {"done": 10, "total": 10, "unit": "items", "percent": 100},
                    "ratePerSecond": 5,
                    "etaMs": 0,
                    "log": ["start", "done"],
                    "result": {
                        "bundle": "sam-backup-2025.zip",
                        "bytes": 3 * 2**30,
                        "sha256": "ab" * 32,
                        "counts": {"odoo": {"res_partner": 3}},
                    },
                    "error": None,
                    "createdAt": "2025-01-31T12:00:00.000Z",
                    "finishedAt": "2025-01-31T12:05:00.000Z",
                }
            raise AssertionError(f"unexpected call {method} {path}")

        with patch.object(SidecarClient, "call", autospec=True, side_effect=fake_call):
            job_id = self.Job.with_user(self.admin).action_start_export(["odoo", "vectors"])
            job = self.Job.browse(job_id)
            self.assertEqual(job.state, "waiting")
            self.assertEqual(job.kind, "export")
            self.assertEqual(job.requested_by, self.admin)
            self.assertEqual(calls[0][2]["options"]["components"], ["odoo", "vectors"])
            self.assertTrue(calls[0][2]["options"]["modules"])

            status = self.Job.with_user(self.admin).get_status([job_id])
        self.assertEqual(status[0]["state"], "completed")
        self.assertEqual(status[0]["bundle_name"], "sam-backup-2025.zip")
        self.assertEqual(status[0]["counts"], {"odoo": {"res_partner": 3}})
        self.assertEqual(job.bundle_size, 3 * 2**30)
        self.assertEqual(job.progress, 100.0)
        self.assertEqual(job.log, "start\ndone")

    def test_history_when_sidecar_down(self):
        """The panel's history still loads, with one sentence saying why the running job's
        progress could not be read."""
        done = self.Job.create({"kind": "export", "sidecar_job_id": "1", "state": "completed"})
        running = self.Job.create({"kind": "restore", "sidecar_job_id": "2", "state": "active"})
        refused = urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))
        with patch.object(SidecarClient, "_urlopen", side_effect=refused):
            history = self.Job.with_user(self.admin).get_history(limit=10)
        ids = [job["id"] for job in history["jobs"]]
        self.assertEqual(ids[:2], [running.id, done.id])
        self.assertIn(URL, history["sidecar_error"])
        self.assertNotIn(TOKEN, history["sidecar_error"])
        self.assertTrue(history["jobs"][0]["running"])
        with self.assertRaises(AccessError):
            self.Job.with_user(self.employee).get_history()

    def test_completed_without_result_stays_running(self):
        job = self.Job.create({"kind": "export", "sidecar_job_id": "9", "state": "active"})
        values = job._values_from_sidecar({"state": "completed", "result": None, "progress": {}})
        self.assertNotIn("state", values)
        values = job._values_from_sidecar(
            {"state": "completed", "result": {"bundle": "b.zip"}, "progress": {}}
        )
        self.assertEqual(values["state"], "completed")
        self.assertEqual(values["bundle_name"], "b.zip")

    def test_sidecar_error_message(self):
        error = SidecarError("x", status=401)
        self.assertEqual(error.status, 401)

    def test_unknown_component_refused(self):
        with self.assertRaises(UserError):
            self.Job.with_user(self.admin).action_start_export(["odoo", "bogus"])

    def test_access_rights(self):
        job = self.Job.create({"kind": "export", "sidecar_job_id": "1"})
        with self.assertRaises(AccessError):
            self.Job.with_user(self.employee).search([])
        with self.assertRaises(AccessError):
            job.with_user(self.employee).read(["state"])
        with self.assertRaises(AccessError):
            self.Job.with_user(self.employee).action_start_export()
        self.assertEqual(job.with_user(self.admin).read(["state"])[0]["state"], "waiting")

    def test_list_view_tag_matches_version(self):
        view = self.env.ref("sam_backup.sam_backup_job_view_list")
        self.assertIn(view.type, ("list", "tree"))
        self.assertTrue(view.arch.lstrip().startswith(f"<{view.type}"))
