"""The one Flask route that serves finished report files (HTML, PDF, Word) from the cache.

Kept out of `dashboard/pages/` so `create_app` can register it without importing a page
module twice (Dash imports pages itself, and a second import would register its callbacks again).
"""
from __future__ import annotations

import re
from pathlib import Path

from flask import Flask, abort, send_file

from dashboard import auth, state
from queries import marac, report_output, roles

ROUTE = "/report-files"
# Served names: <store version>/<month>-<parameters>/report.<format>, nothing else.
VERSION_PART = re.compile(r"^[0-9a-f]{12}$")
# Folders are `<YYYY-MM>-<open|closed>-<hash>` (report_output.cache_key); folders of an older
# layout (without the session, always with MARAC) no longer match and are never served.
FOLDER_PART = re.compile(rf"^\d{{4}}-\d{{2}}-({report_output.OPEN_SESSION}|{report_output.CLOSED_SESSION})-[0-9a-f]{{12}}$")
MIMETYPES = {"html": "text/html", "pdf": "application/pdf",
             "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}


def cache_dir() -> Path:
    return report_output.cache_dir_for(state.config)


def register_routes(server: Flask) -> None:
    """Serve finished report files; names are checked against the cache layout, nothing else is reachable."""

    @server.route(f"{ROUTE}/<version>/<folder>/<name>")
    def report_file(version: str, folder: str, name: str):
        fmt = name.removeprefix("report.")
        if not (VERSION_PART.match(version) and FOLDER_PART.match(folder) and name == f"report.{fmt}" and fmt in MIMETYPES):
            abort(404)
        # The report holds hate crime, MARAC's release and commentary: the roles table decides, not
        # the unguessable-looking path. Reading it (HTML) is "view", the PDF and Word files "download".
        capability = roles.VIEW if fmt == "html" else roles.DOWNLOAD
        try:
            roles.ensure(auth.identity().role, "report", capability, auth.closed_session())
        except roles.Forbidden as exc:
            abort(403, description=str(exc))
        # A closed-session report prints MARAC: served only to who may see MARAC now (role and
        # session), so a file cached for a closed session never reaches an open-session request.
        if FOLDER_PART.match(folder).group(1) == report_output.CLOSED_SESSION and not auth.may_view(marac.DATASET):
            abort(403, description="this report was prepared for a closed session (it includes MARAC); "
                                   "switch the session to closed first")
        path = cache_dir() / version / folder / name
        if not path.is_file():
            abort(404)
        return send_file(path, mimetype=MIMETYPES[fmt], as_attachment=fmt != "html",
                         download_name=f"csp-report-{folder[:7]}.{fmt}")
