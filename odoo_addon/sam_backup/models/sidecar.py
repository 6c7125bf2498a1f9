"""HTTP client of the sam-backup sidecar.

Standard library only (``urllib.request``). The sidecar URL and token are read
from the system parameters; every failure becomes one ``UserError`` whose text
names the sidecar URL, the cause and the fix. The token is never put in a
message nor in a log line.
"""

import http.client
import json
import logging
import socket
import urllib.error
import urllib.parse
import urllib.request

from odoo import _
from odoo.exceptions import UserError

_logger = logging.getLogger(__name__)

URL_PARAM = "sam_backup.sidecar_url"
TOKEN_PARAM = "sam_backup.sidecar_token"
MODULES_PARAM = "sam_backup.modules"
COMPONENTS_PARAM = "sam_backup.components"

DEFAULT_URL = "http://127.0.0.1:8765"
DEFAULT_MODULES = "ai_*,sam_*"
DEFAULT_COMPONENTS = "odoo,graph,vectors"
COMPONENTS = ("odoo", "graph", "vectors")

#: Seconds to wait for an API answer (job start, status, upload chunk...).
DEFAULT_TIMEOUT = 30
#: Seconds between two reads of a streamed bundle before giving up.
STREAM_TIMEOUT = 120


class SidecarError(UserError):
    """A failed call to the sidecar; ``status`` is the HTTP status, if any."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """The sidecar never redirects: refuse to, so that the bearer token is not
    sent on to another host."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def split_list(value, default=""):
    """``"a, b,,c"`` -> ``["a", "b", "c"]``."""
    return [part.strip() for part in (value or default).split(",") if part.strip()]


class SidecarClient:
    """A small client of the sidecar's JSON API.

    ``SidecarClient(env)`` reads the configuration (with sudo: only the
    callers decide who may use the sidecar).
    """

    def __init__(self, env, timeout=DEFAULT_TIMEOUT):
        self.env = env
        params = env["ir.config_parameter"].sudo()
        self.url = (params.get_param(URL_PARAM) or DEFAULT_URL).strip().rstrip("/")
        self._token = (params.get_param(TOKEN_PARAM) or "").strip()
        self.timeout = timeout

    def __repr__(self):
        return f"<SidecarClient {self.url}>"

    # -- low level ---------------------------------------------------------

    def _check_config(self):
        scheme = urllib.parse.urlsplit(self.url).scheme
        if scheme not in ("http", "https"):
            raise SidecarError(
                _(
                    "The SAM AI backup service URL %(url)r is not an http:// or https:// URL: "
                    "fix it in Settings > SAM AI Backup (for example %(example)s).",
                    url=self.url,
                    example=DEFAULT_URL,
                )
            )
        if not self._token:
            raise SidecarError(
                _(
                    "No token is set for the SAM AI backup service at %(url)s: "
                    "copy the sidecar's SAM_SIDECAR_TOKEN into Settings > SAM AI Backup.",
                    url=self.url,
                )
            )

    def _clean(self, text):
        """Never let the token through, whatever the sidecar echoes back."""
        text = str(text)
        if self._token and self._token in text:
            text = text.replace(self._token, "***")
        return text

    def _urlopen(self, request, timeout):
        return _OPENER.open(request, timeout=timeout)

    def open(self, method, path, body=None, headers=None, timeout=None):
        """Send one request and return the open ``http.client.HTTPResponse``
        (the caller reads and closes it). ``body`` is bytes or a file object
        (then give ``Content-Length`` in ``headers``)."""
        self._check_config()
        all_headers = {"Accept": "application/json"}
        all_headers.update(headers or {})
        all_headers["Authorization"] = f"Bearer {self._token}"
        request = urllib.request.Request(
            self.url + path, data=body, headers=all_headers, method=method
        )
        timeout = timeout or self.timeout
        try:
            return self._urlopen(request, timeout)
        except urllib.error.HTTPError as error:
            raise self._http_error(method, path, error) from None
        except urllib.error.URLError as error:
            raise self._network_error(error.reason, timeout) from None
        except (OSError, http.client.HTTPException) as error:
            raise self._network_error(error, timeout) from None

    def call(self, method, path, payload=None, timeout=None):
        """JSON in, JSON out; ``None`` for an empty answer (204)."""
        body, headers = None, {}
        if payload is not None:
            body = json.dumps(payload).encode()
            headers["Content-Type"] = "application/json"
        response = self.open(method, path, body=body, headers=headers, timeout=timeout)
        try:
            raw = response.read()
        except (OSError, http.client.HTTPException) as error:
            raise self._network_error(error, timeout or self.timeout) from None
        finally:
            response.close()
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise SidecarError(
                _(
                    "The SAM AI backup service at %(url)s answered %(method)s %(path)s with "
                    "something that is not JSON: check that this URL is the sam-backup sidecar's "
                    "in Settings > SAM AI Backup.",
                    url=self.url,
                    method=method,
                    path=path,
                )
            ) from None

    # -- error messages ----------------------------------------------------

    def _network_error(self, reason, timeout=None):
        if isinstance(reason, (TimeoutError, socket.timeout)):
            cause = _("no answer within %(seconds)s seconds", seconds=timeout or self.timeout)
            fix = _(
                "check that the sam-backup sidecar is running and not overloaded, "
                "or fix its URL in Settings > SAM AI Backup"
            )
        elif isinstance(reason, ConnectionRefusedError):
            cause = _("connection refused")
            fix = _("start the sam-backup sidecar or fix its URL in Settings > SAM AI Backup")
        elif isinstance(reason, socket.gaierror):
            cause = _("unknown host name")
            fix = _("fix the sidecar URL in Settings > SAM AI Backup")
        elif isinstance(reason, ConnectionError):
            cause = _("the connection was closed (%(reason)s)", reason=self._clean(reason))
            fix = _("check the sidecar log, then try again")
        else:
            cause = self._clean(getattr(reason, "strerror", None) or reason)
            fix = _("start the sam-backup sidecar or fix its URL in Settings > SAM AI Backup")
        message = _(
            "The SAM AI backup service at %(url)s is not reachable (%(cause)s): %(fix)s.",
            url=self.url,
            cause=cause,
            fix=fix,
        )
        _logger.warning("sam_backup: %s", message)
        return SidecarError(message)

    def _http_error(self, method, path, error):
        status = error.code
        detail = ""
        try:
            raw = error.read()
            data = json.loads(raw) if raw else {}
            detail = data.get("error", "") if isinstance(data, dict) else ""
        except (ValueError, OSError):
            detail = ""
        finally:
            error.close()
        detail = self._clean(detail or error.reason or "")
        if status == 401:
            fix = _(
                "the token in Settings > SAM AI Backup is not the sidecar's SAM_SIDECAR_TOKEN: "
                "copy it again"
            )
        elif status == 404:
            fix = _("it does not know this job, bundle or upload: refresh the list")
        elif status == 409:
            fix = _("wait for the running operation to end, then try again")
        elif status == 413:
            fix = _("the file is larger than the sidecar accepts (SAM_SIDECAR_MAX_UPLOAD_BYTES)")
        elif 400 <= status < 500:
            fix = _("the request was refused; check the options and try again")
        else:
            fix = _("see the sam-backup sidecar log for the cause")
        message = _(
            "The SAM AI backup service at %(url)s answered %(status)s to %(method)s %(path)s "
            "(%(detail)s): %(fix)s.",
            url=self.url,
            status=status,
            method=method,
            path=path,
            detail=detail,
            fix=fix,
        )
        _logger.warning("sam_backup: %s", message)
        return SidecarError(message, status=status)

    # -- API ---------------------------------------------------------------

    @staticmethod
    def quote(value):
        return urllib.parse.quote(str(value), safe="")

    def health(self):
        return self.call("GET", "/healthz")

    def create_job(self, job_type, options):
        return self.call("POST", "/jobs", {"type": job_type, "options": options})

    def list_jobs(self):
        return self.call("GET", "/jobs") or []

    def get_job(self, job_id):
        return self.call("GET", f"/jobs/{self.quote(job_id)}")

    def cancel_job(self, job_id):
        return self.call("DELETE", f"/jobs/{self.quote(job_id)}")

    def list_bundles(self):
        return self.call("GET", "/bundles") or []

    def delete_bundle(self, name):
        return self.call("DELETE", f"/bundles/{self.quote(name)}")

    def open_bundle(self, name, range_header=None):
        headers = {"Accept": "application/zip"}
        if range_header:
            headers["Range"] = range_header
        return self.open(
            "GET", f"/bundles/{self.quote(name)}", headers=headers, timeout=STREAM_TIMEOUT
        )

    def start_upload(self, name, size):
        return self.call("POST", "/uploads", {"name": name, "size": size})

    def get_upload(self, upload_id):
        """``{"name", "size", "chunks": [numbers received], "bytes"}``: what to send again."""
        return self.call("GET", f"/uploads/{self.quote(upload_id)}")

    def put_chunk(self, upload_id, number, body, length, sha256):
        response = self.open(
            "PUT",
            f"/uploads/{self.quote(upload_id)}/chunks/{int(number)}",
            body=body,
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Length": str(length),
                "X-Chunk-Sha256": sha256,
            },
            timeout=STREAM_TIMEOUT,
        )
        response.close()

    def complete_upload(self, upload_id):
        return self.call(
            "POST", f"/uploads/{self.quote(upload_id)}/complete", timeout=STREAM_TIMEOUT
        )
