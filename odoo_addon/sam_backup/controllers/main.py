"""Browser <-> sidecar bridge for bundle uploads and downloads.

The browser never sees the sidecar token: it talks to these routes with its
Odoo session, and they forward to the sidecar.

CSRF: the POST/PUT routes keep Odoo's CSRF check. Odoo reads the token from the
request parameters (query string or form), so the browser sends it as
``?csrf_token=<odoo.csrf_token>``.
"""

import hashlib
import json
import logging
import re
import urllib.parse

from werkzeug.exceptions import Forbidden

from odoo import http
from odoo.exceptions import UserError
from odoo.http import request

from ..models.sidecar import SidecarClient, SidecarError

_logger = logging.getLogger(__name__)

#: The upload chunk size the browser uses: under Odoo's and any proxy's usual
#: request limits, and small enough to hold in memory (the chunk route reads it
#: whole: Odoo's request wrapper offers get_data(), not the raw stream).
CHUNK_SIZE = 8 * 1024 * 1024
#: The largest chunk request the route takes (it is read whole into memory).
MAX_CHUNK_REQUEST = 2 * CHUNK_SIZE
#: Read size when copying request and response bodies.
COPY_SIZE = 1024 * 1024

UPLOAD_ID_RE = re.compile(r"^[\w.-]{1,128}$")
BUNDLE_NAME_RE = re.compile(r"^[^/\\\x00-\x1f]{1,255}$")


def _content_disposition(filename):
    """RFC 6266 attachment header (written here: the helper's location in
    ``odoo.http`` is not the same on 17, 18 and 19)."""
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    quoted = urllib.parse.quote(filename, safe="")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quoted}"


class SamBackupController(http.Controller):
    # -- helpers -------------------------------------------------------------

    def _check_system(self):
        if not request.env.user.has_group("base.group_system"):
            raise Forbidden()

    def _json(self, data, status=200):
        return request.make_json_response(data, status=status)

    def _error(self, error):
        status = getattr(error, "status", None)
        if status == 404:
            code = 404
        elif status and 400 <= status < 500 and status != 401:
            code = 400
        elif isinstance(error, SidecarError):
            code = 502
        else:
            code = 400
        return self._json({"error": str(error.args[0] if error.args else error)}, status=code)

    def _json_body(self):
        """The JSON body of the request, or the form/query parameters."""
        raw = request.httprequest.get_data(cache=True)
        if raw:
            try:
                data = json.loads(raw)
            except ValueError:
                raise UserError("The request body is not JSON.") from None
            if isinstance(data, dict):
                return data
        return dict(request.params)

    @staticmethod
    def _check_upload_id(upload_id):
        if not UPLOAD_ID_RE.match(upload_id or ""):
            raise UserError("Invalid upload id.")

    # -- upload --------------------------------------------------------------

    @http.route(
        "/sam_backup/upload/start", type="http", auth="user", methods=["POST"], csrf=True
    )
    def upload_start(self, **kwargs):
        """Body ``{"name": str, "size": int}`` -> ``{"id": upload id, "chunk_size": int}``."""
        self._check_system()
        try:
            data = self._json_body()
            name = str(data.get("name") or "").strip()
            try:
                size = int(data.get("size"))
            except (TypeError, ValueError):
                raise UserError("Give the file size in bytes (size).") from None
            if not BUNDLE_NAME_RE.match(name) or size < 0:
                raise UserError("Give the bundle file name (name) and its size (size).")
            answer = SidecarClient(request.env).start_upload(name, size) or {}
        except UserError as error:
            return self._error(error)
        return self._json({"id": answer.get("id"), "chunk_size": CHUNK_SIZE})

    @http.route(
        "/sam_backup/upload/<string:upload_id>", type="http", auth="user", methods=["GET"]
    )
    def upload_status(self, upload_id, **kwargs):
        """-> ``{"name", "size", "chunks": [received], "bytes", "chunk_size"}``: a browser that
        lost its connection asks this, then sends only the chunks that are missing."""
        self._check_system()
        try:
            self._check_upload_id(upload_id)
            answer = SidecarClient(request.env).get_upload(upload_id) or {}
        except UserError as error:
            return self._error(error)
        return self._json(dict(answer, chunk_size=CHUNK_SIZE))

    @http.route(
        "/sam_backup/upload/<string:upload_id>/chunk/<int:number>",
        type="http",
        auth="user",
        methods=["PUT", "POST"],
        csrf=True,
        # A chunk is read whole (Odoo's request wrapper offers get_data(), not
        # the raw stream): the route's limit bounds the memory one request may
        # take. The dispatcher applies a route's max_content_length on 17, 18
        # and 19; a larger body is refused with 413.
        max_content_length=MAX_CHUNK_REQUEST,
    )
    def upload_chunk(self, upload_id, number, **kwargs):
        """Raw body: the chunk, with the browser's SHA-256 in ``X-Chunk-Sha256`` (optional: the
        browser can compute it on https and localhost only). Checked, then forwarded with the
        SHA-256 computed here, which the sidecar checks again on arrival."""
        self._check_system()
        try:
            self._check_upload_id(upload_id)
            data = request.httprequest.get_data(cache=False)
            length = len(data)
            digest = hashlib.sha256(data)
            if not length:
                raise UserError("The chunk is empty.")
            sent = request.httprequest.headers.get("X-Chunk-Sha256")
            if sent and sent.strip().lower() != digest.hexdigest():
                # The browser's hash of what it sent: refused, the browser sends it again.
                raise UserError(
                    f"Chunk {number} arrived damaged (SHA-256 {digest.hexdigest()}, "
                    f"expected {sent.strip().lower()}): send it again."
                )
            SidecarClient(request.env).put_chunk(
                upload_id, number, data, length, digest.hexdigest()
            )
        except UserError as error:
            return self._error(error)
        return self._json({"chunk": number, "bytes": length, "sha256": digest.hexdigest()})

    @http.route(
        "/sam_backup/upload/<string:upload_id>/complete",
        type="http",
        auth="user",
        methods=["POST"],
        csrf=True,
    )
    def upload_complete(self, upload_id, **kwargs):
        """-> ``{"bundle": name, ...}`` once the sidecar has checked the file."""
        self._check_system()
        try:
            self._check_upload_id(upload_id)
            answer = SidecarClient(request.env).complete_upload(upload_id) or {}
        except UserError as error:
            return self._error(error)
        return self._json(answer)

    # -- download ------------------------------------------------------------

    @http.route(
        "/sam_backup/download/<string:name>", type="http", auth="user", methods=["GET"]
    )
    def download(self, name, **kwargs):
        """Stream the bundle from the sidecar, chunk by chunk (Range supported)."""
        self._check_system()
        if not BUNDLE_NAME_RE.match(name or ""):
            return request.make_response("Invalid bundle name.", status=400)
        try:
            upstream = SidecarClient(request.env).open_bundle(
                name, request.httprequest.headers.get("Range")
            )
        except SidecarError as error:
            status = error.status if error.status in (404, 416) else 502
            return request.make_response(
                str(error.args[0]),
                headers=[("Content-Type", "text/plain; charset=utf-8")],
                status=status,
            )

        def body():
            # Runs after the controller returned: it must not touch request.env.
            try:
                while True:
                    block = upstream.read(COPY_SIZE)
                    if not block:
                        break
                    yield block
            except OSError as error:
                _logger.warning("sam_backup: download of %s interrupted: %s", name, error)
            finally:
                upstream.close()

        headers = [
            ("Content-Type", "application/zip"),
            ("Content-Disposition", _content_disposition(name)),
            ("Accept-Ranges", "bytes"),
            ("Cache-Control", "no-store"),
            ("X-Content-Type-Options", "nosniff"),
        ]
        for header in ("Content-Length", "Content-Range", "Last-Modified", "ETag"):
            value = upstream.headers.get(header)
            if value:
                headers.append((header, value))
        return http.Response(
            body(), status=upstream.status, headers=headers, direct_passthrough=True
        )
