"""Who may see what: the roles table, users and lock-out (pure), then each role over real HTTP
to a real gunicorn (2 workers sharing the state directory), crafted callbacks included."""
from __future__ import annotations

import base64
import io
import json
import sqlite3
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import requests

from conftest import start_gunicorn, stop
from conftest import CITY
from queries import (access_settings, audit, cli, commentary, formats, hate_release, marac, report, report_jobs,
                     report_output, roles, settings, statedb, users)
from queries.settings import DEFAULT_SUPPRESS_BELOW, SettingsError
from queries.store import Store

PASSWORD = "correct horse battery"
ACCOUNTS = {"bea": roles.BOARD, "ann": roles.ANALYST, "ada": roles.ADMIN, "lou": roles.ANALYST}


# --------------------------------------------------------------------------- pure


def test_roles_table_gives_each_role_what_the_issue_lists():
    assert roles.allowed(roles.PUBLIC, "crime", roles.VIEW, closed_session=False)
    assert not roles.allowed(roles.PUBLIC, "crime", roles.DOWNLOAD, closed_session=False)
    assert not roles.allowed(roles.PUBLIC, "marac", roles.VIEW, closed_session=True)
    assert not roles.allowed(roles.BOARD, "marac", roles.VIEW, closed_session=False)
    assert roles.allowed(roles.BOARD, "marac", roles.VIEW, closed_session=True)
    assert not roles.allowed(roles.BOARD, "crime", roles.DOWNLOAD, closed_session=True)
    assert roles.allowed(roles.ANALYST, "hate", roles.DOWNLOAD, closed_session=False)
    # Nobody drills into MARAC records through the web, not even an admin.
    assert not roles.allowed(roles.ADMIN, "marac", roles.DRILL, closed_session=True)
    # A dataset missing from the table is not silently public.
    assert not roles.allowed(roles.BOARD, "new-dataset", roles.VIEW, closed_session=True)


def test_ensure_names_the_capability_and_the_roles_that_may():
    with pytest.raises(roles.Forbidden, match="download of crime is not available to the board role.*analyst"):
        roles.ensure(roles.BOARD, "crime", roles.DOWNLOAD)
    with pytest.raises(roles.Forbidden, match="closed session"):
        roles.ensure(roles.BOARD, "marac", roles.VIEW, closed_session=False)


def test_passwords_are_hashed_and_checked(tmp_path):
    users.add(tmp_path, "bea", roles.BOARD, PASSWORD)
    stored = sqlite3.connect(tmp_path / statedb.DB_FILE).execute("SELECT password_hash FROM users").fetchone()[0]
    assert PASSWORD not in stored and stored.startswith("scrypt:")
    assert users.authenticate(tmp_path, "bea", PASSWORD).role == roles.BOARD
    assert users.authenticate(tmp_path, "bea", "wrong password!") is None
    with pytest.raises(users.UserError, match="at least 10"):
        users.add(tmp_path, "cy", roles.BOARD, "short")
    with pytest.raises(users.UserError, match="choose one of public, board, analyst, admin"):
        users.add(tmp_path, "cy", "king", PASSWORD)


def test_five_failures_in_fifteen_minutes_lock_for_fifteen_minutes_until_unlocked(tmp_path):
    users.add(tmp_path, "bea", roles.BOARD, PASSWORD)
    start = 1_000_000.0
    for i in range(4):
        assert users.authenticate(tmp_path, "bea", "nope", now=start + i * 60) is None
    with pytest.raises(users.Locked):
        users.authenticate(tmp_path, "bea", "nope", now=start + 240)
    with pytest.raises(users.Locked):  # the right password does not help while locked
        users.authenticate(tmp_path, "bea", PASSWORD, now=start + 240 + 899)
    assert users.authenticate(tmp_path, "bea", PASSWORD, now=start + 240 + 901).name == "bea"


def test_failures_spread_over_more_than_fifteen_minutes_do_not_lock(tmp_path):
    users.add(tmp_path, "bea", roles.BOARD, PASSWORD)
    for i in range(6):
        assert users.authenticate(tmp_path, "bea", "nope", now=1_000_000.0 + i * 300) is None


def test_admin_unlock_lifts_a_lock(tmp_path):
    users.add(tmp_path, "bea", roles.BOARD, PASSWORD)
    for _ in range(5):
        try:
            users.authenticate(tmp_path, "bea", "nope")
        except users.Locked:
            pass
    assert users.locked_until(tmp_path, "bea") is not None
    users.unlock(tmp_path, "bea")
    assert users.authenticate(tmp_path, "bea", PASSWORD).name == "bea"


def test_audit_log_is_append_only(tmp_path):
    audit.record(tmp_path, "ann", roles.ANALYST, audit.EXPORT, view="marac-cases-download.data", rows=12)
    con = sqlite3.connect(tmp_path / statedb.DB_FILE)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("DELETE FROM audit")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("UPDATE audit SET rows = 0")
    assert audit.entries(tmp_path)["rows"].tolist() == [12]


def test_an_unwritable_state_directory_refuses_with_a_message(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(statedb.StateError, match="cannot be written"):
        audit.record(blocker, "ann", roles.ANALYST, audit.EXPORT)


def test_access_settings_refuse_bad_values_by_name():
    with pytest.raises(SettingsError, match="CSP_AUTH"):
        access_settings.load({"CSP_AUTH": "magic"})
    with pytest.raises(SettingsError, match="CSP_TRUSTED_PROXIES"):
        access_settings.load({"CSP_AUTH": "proxy"})
    with pytest.raises(SettingsError, match="CSP_ANONYMOUS_ROLE"):
        access_settings.load({"CSP_ANONYMOUS_ROLE": "board"})
    with pytest.raises(SettingsError, match="CSP_TRUSTED_PROXIES"):
        access_settings.load({"CSP_TRUSTED_PROXIES": "not-an-ip"})


def test_users_command_line_adds_lists_and_refuses_bad_roles(tmp_path, monkeypatch, capsys):
    def run(*args, stdin=""):
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = cli.main(["users", "--state-dir", str(tmp_path), *args])
        out, err = capsys.readouterr()
        return code, out, err
    assert run("add", "bea", "--role", "board", "--password-stdin", stdin=PASSWORD + "\n")[0] == 0
    code, listed, _ = run("list")
    assert "bea\tboard" in listed and PASSWORD not in listed
    code, _, err = run("add", "cy", "--role", "king", "--password-stdin", stdin=PASSWORD + "\n")
    assert code == 2 and "choose one of" in err
    assert run("remove", "bea")[0] == 0 and "no users" in run("list")[1]


def test_command_line_exports_are_in_the_audit_log(tmp_data_dir, tmp_path, monkeypatch, capsys):
    state = tmp_path / "state"
    monkeypatch.setenv("CSP_STATE_DIR", str(state))
    out = tmp_path / "counts.csv"
    assert cli.main(["export", "counts", "--dataset", "fire", "--by", "month", "--data-dir", str(tmp_data_dir), "--out", str(out)]) == 0
    logged = audit.entries(state).iloc[0]
    assert logged["event"] == audit.EXPORT and logged["view"] == "export counts" and logged["who"].startswith("cli:")
    assert logged["rows"] == len(out.read_text().splitlines()) - 1
    capsys.readouterr()


# --------------------------------------------------------------------------- over HTTP


@pytest.fixture(scope="module")
def secured(tmp_path_factory, demo_dir):
    """gunicorn (2 workers) with accounts set up, so visitors who do not sign in are public."""
    state = tmp_path_factory.mktemp("state")
    for name, role in ACCOUNTS.items():
        users.add(state, name, role, PASSWORD)
    # As `import marac` does: the release is audited and in the ledger before anyone asks.
    marac.release(Store(demo_dir), DEFAULT_SUPPRESS_BELOW, state_dir=state)
    # Likewise the public hate release: audited and in its ledger before the first public view.
    hate_release.release(Store(demo_dir), DEFAULT_SUPPRESS_BELOW, state_dir=state)
    # Proxy mode, trusting this computer as the proxy: the app's own sign-in works beside it.
    proc, url = start_gunicorn(demo_dir, workers=2, env_extra={
        "CSP_STATE_DIR": str(state), "CSP_AUTH": "proxy", "CSP_TRUSTED_PROXIES": "127.0.0.1/32"})
    deps = requests.get(url + "/_dash-dependencies", timeout=30).json()
    yield url, state, deps
    stop(proc)


def _payload(deps: list, output_fragment: str, values: dict) -> dict:
    """A callback request as the browser sends it, for the callback whose output names `output_fragment`.
    A download button among `values` ("...-download-csv"/"-xlsx") is the one clicked."""
    dep = next(d for d in deps if output_fragment in d["output"])
    def items(specs):
        return [{"id": s["id"], "property": s["property"], "value": values.get(s["id"])} for s in specs]
    outputs = [{"id": o.rsplit(".", 1)[0], "property": o.rsplit(".", 1)[1]}
               for o in dep["output"].strip(".").split("...")]
    return {"output": dep["output"], "outputs": outputs if len(outputs) > 1 else outputs[0],
            "inputs": items(dep["inputs"]), "state": items(dep["state"]),
            "changedPropIds": [f"{i['id']}.n_clicks" for i in dep["inputs"] if "-download-" in str(i["id"]) and values.get(i["id"])]}


MARAC_VALUES = {"marac-area": "Force Area", "marac-period": "quarter", "marac-cases-download-csv": 1}


def _signed_in(url: str, name: str) -> requests.Session:
    session = requests.Session()
    response = session.post(url + "/login", data={"username": name, "password": PASSWORD}, timeout=30)
    assert response.status_code == 200 and name in session.get(url + "/_dash-layout", timeout=30).text
    return session


def _call(session, url, payload):
    return session.post(url + "/_dash-update-component", json=payload, timeout=60)


def _page(session, url, path, search: str = ""):
    """The page content a role gets for `path` (through Dash's page router callback)."""
    payload = {"output": ".._pages_content.children..._pages_store.data..",
               "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
               "inputs": [{"id": "_pages_location", "property": "pathname", "value": path},
                          {"id": "_pages_location", "property": "search", "value": search}],
               "changedPropIds": ["_pages_location.pathname"]}
    response = _call(session, url, payload)
    assert response.status_code == 200
    return json.dumps(response.json())  # Dash escapes "/" as \u002f; compare plain text


def test_public_sees_crime_but_crafted_marac_hate_and_export_requests_get_403(secured):
    url, _, deps = secured
    public = requests.Session()
    layout = public.get(url + "/_dash-layout", timeout=30).text
    assert "Not signed in: public view" in layout and '"MARAC"' not in layout
    assert _call(public, url, _payload(deps, "marac-cases-chart.figure", MARAC_VALUES)).status_code == 403
    assert _call(public, url, _payload(deps, "marac-cases-download.data", MARAC_VALUES)).status_code == 403
    assert _call(public, url, _payload(deps, "hate-chart.figure", {})).status_code == 403
    refused = _call(public, url, _payload(deps, "crime-chart-download.data", {"crime-chart-download-csv": 1}))
    assert refused.status_code == 403 and "download of crime" in refused.text
    assert "role-refused" in _page(public, url, "/marac") and "Cases discussed" not in _page(public, url, "/marac")
    assert "role-refused" in _page(public, url, "/data")
    crime = _page(public, url, "/")
    assert "crime-chart" in crime and "role-refused" not in crime


def test_board_gets_marac_only_after_switching_to_closed_session_and_no_exports(secured):
    url, _, deps = secured
    board = _signed_in(url, "bea")
    chart = _payload(deps, "marac-cases-chart.figure", MARAC_VALUES)
    assert _call(board, url, chart).status_code == 403
    assert "Open session: switch to closed" in board.get(url + "/_dash-layout", timeout=30).text
    board.post(url + "/session", data={"mode": "closed"}, timeout=30)
    assert "Closed session (MARAC shown)" in board.get(url + "/_dash-layout", timeout=30).text
    assert _call(board, url, chart).status_code == 200
    assert _call(board, url, _payload(deps, "marac-cases-download.data", MARAC_VALUES)).status_code == 403
    # The page does not offer what the server refuses (assets/roles.css hides it).
    classes = board.get(url + "/_dash-layout", timeout=30).json()["props"]["className"].split()
    assert {"no-download-marac", "no-download-crime", "no-drill-hate"} <= set(classes)
    assert "no-download-marac" not in _signed_in(url, "ann").get(url + "/_dash-layout", timeout=30).json()["props"]["className"]


def test_analyst_export_is_served_and_written_to_the_audit_log(secured):
    url, state, deps = secured
    analyst = _signed_in(url, "ann")
    response = _call(analyst, url, _payload(deps, "marac-cases-download.data", MARAC_VALUES))
    assert response.status_code == 200
    content = base64.b64decode(json.loads(response.text)["response"]["marac-cases-download"]["data"]["content"]).decode()
    log = audit.entries(state)
    export = log[(log["event"] == audit.EXPORT) & (log["who"] == "ann")].iloc[0]
    assert export["rows"] == content.count("\n") - 1 > 0
    assert "Force Area" in export["filters"] and "marac-cases-download" in export["view"]
    assert (log[log["who"] == "ann"]["event"] == audit.SIGN_IN).any()
    assert analyst.get(url + "/admin", timeout=30).status_code == 403


MARAC_XLSX = {**{k: v for k, v in MARAC_VALUES.items() if "download" not in k}, "marac-periods-download-xlsx": 1}


def test_marac_excel_is_the_protected_release_for_an_analyst_and_refused_to_board_and_public(secured, demo_dir):
    url, state, deps = secured
    request = _payload(deps, "marac-periods-download.data", MARAC_XLSX)
    assert _call(requests.Session(), url, request).status_code == 403
    board = _signed_in(url, "bea")
    board.post(url + "/session", data={"mode": "closed"}, timeout=30)  # even in closed session: no exports
    assert _call(board, url, request).status_code == 403
    response = _call(_signed_in(url, "ann"), url, request)
    assert response.status_code == 200
    data = json.loads(response.text)["response"]["marac-periods-download"]["data"]
    assert data["filename"].endswith(".xlsx") and data["base64"]
    book = openpyxl.load_workbook(io.BytesIO(base64.b64decode(data["content"])))
    assert book.sheetnames == [formats.DATA_SHEET, formats.ABOUT_SHEET]
    rows = list(book[formats.DATA_SHEET].iter_rows(values_only=True))
    release = marac.period_table(marac.release(Store(demo_dir), DEFAULT_SUPPRESS_BELOW, state_dir=state),
                                 "Force Area", "quarter")
    assert list(rows[0]) == list(release.columns) and len(rows) - 1 == len(release) > 0
    shown = {str(v) for row in rows[1:] for v in row if v is not None}
    assert marac.SUPPRESSED in shown  # the small counts left the server suppressed, as on screen
    about = dict(r[:2] for r in book[formats.ABOUT_SHEET].iter_rows(min_row=2, values_only=True))
    assert "suppressed" in about[formats.ABOUT_FIELDS["suppression"]] and about["Filters: Area"] == "Force Area"
    log = audit.entries(state)
    export = log[(log["event"] == audit.EXPORT) & (log["view"].str.contains("marac-periods-download"))]
    assert len(export) == 1 and export.iloc[0]["who"] == "ann"


def test_admin_sees_users_and_the_audit_log_and_the_data_directory(secured, demo_dir):
    url, _, _ = secured
    admin = _signed_in(url, "ada")
    page = admin.get(url + "/admin", timeout=30)
    assert page.status_code == 200 and "admin-audit" in page.text and "bea" in page.text
    assert str(demo_dir) in _page(admin, url, "/data")
    analyst = _signed_in(url, "ann")
    assert str(demo_dir) not in _page(analyst, url, "/data")


def test_malformed_and_made_up_callback_requests_get_a_message_not_a_500(secured):
    url, _, _ = secured
    garbage = requests.post(url + "/_dash-update-component", data="not json", timeout=30,
                            headers={"Content-Type": "application/json"})
    assert garbage.status_code == 400 and "JSON object" in garbage.text
    made_up = requests.post(url + "/_dash-update-component", json={"output": "marac-secret.data", "inputs": []}, timeout=30)
    assert made_up.status_code == 400 and "no such callback" in made_up.text


def test_cross_site_posts_are_refused(secured):
    url, _, deps = secured
    analyst = _signed_in(url, "ann")
    forged = analyst.post(url + "/_dash-update-component", json=_payload(deps, "marac-cases-download.data", MARAC_VALUES),
                          headers={"Origin": "https://evil.example"}, timeout=30)
    assert forged.status_code == 403 and "cross-site" in forged.text
    assert analyst.post(url + "/logout", headers={"Origin": "https://evil.example"}, timeout=30).status_code == 403


def test_lock_out_is_shared_by_workers_and_an_admin_can_unlock(secured):
    url, state, _ = secured
    for _ in range(5):  # requests land on either worker
        requests.post(url + "/login", data={"username": "lou", "password": "wrong password"}, timeout=30)
    locked = requests.post(url + "/login", data={"username": "lou", "password": PASSWORD}, timeout=30)
    assert locked.status_code == 429 and "Too many failed sign-ins" in locked.text
    admin = _signed_in(url, "ada")
    admin.post(url + "/admin/unlock", data={"username": "lou"}, timeout=30)
    _signed_in(url, "lou")
    events = audit.entries(state)
    assert (events["event"] == audit.LOCKED_OUT).any() and (events["event"] == audit.UNLOCK).any()


def test_security_headers_are_on_every_response(secured):
    url, _, _ = secured
    for path in ("/", "/_dash-layout", "/login"):
        headers = requests.get(url + path, timeout=30).headers
        policy = headers["Content-Security-Policy"]
        assert "frame-ancestors 'self'" in policy and "default-src 'self'" in policy
        assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "SAMEORIGIN"
        assert headers["Referrer-Policy"] == "same-origin"


def test_trusted_proxy_headers_name_the_user_and_role(secured):
    url, _, deps = secured
    as_board = {"X-CSP-User": "pat@example.org", "X-CSP-Role": roles.BOARD}
    layout = requests.get(url + "/_dash-layout", headers=as_board, timeout=30).text
    assert "pat@example.org (board)" in layout
    download = _payload(deps, "crime-chart-download.data", {"crime-chart-download-csv": 1})
    assert requests.post(url + "/_dash-update-component", json=download, headers=as_board, timeout=30).status_code == 403
    as_analyst = {"X-CSP-User": "pat@example.org", "X-CSP-Role": roles.ANALYST}
    assert requests.post(url + "/_dash-update-component", json=_payload(deps, "marac-cases-download.data", MARAC_VALUES),
                         headers=as_analyst, timeout=30).status_code == 200
    # An unknown role in the header is not believed: the visitor stays public.
    odd = requests.get(url + "/_dash-layout", headers={"X-CSP-User": "pat", "X-CSP-Role": "root"}, timeout=30).text
    assert "Not signed in: public view" in odd


def test_proxy_headers_are_believed_only_from_the_listed_addresses():
    listed = access_settings.load({"CSP_AUTH": "proxy", "CSP_TRUSTED_PROXIES": "10.1.0.0/16, ::1"})
    assert access_settings.trusted("10.1.2.3", listed) and access_settings.trusted("::1", listed)
    assert not access_settings.trusted("10.2.0.1", listed) and not access_settings.trusted("", listed)


def test_readme_defaults_for_sign_in_match_the_code():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    defaults = access_settings.load({})
    assert f"| `CSP_AUTH` | `{defaults.auth}` |" in readme
    assert f"| `CSP_ANONYMOUS_ROLE` | `{defaults.anonymous_role}` |" in readme
    assert f"| `CSP_IDLE_MINUTES` | `{defaults.idle_minutes:g}` |" in readme


def test_local_demo_without_users_is_a_local_analyst_said_on_the_page(live_server):
    layout = requests.get(live_server + "/_dash-layout", timeout=30).text
    assert "Local analyst" in layout and '"MARAC"' in layout


# --------------------------------------------------------------------------- report, commentary and board view


def _note(deps: list, button: str, text: str) -> dict:
    """A crafted commentary save or approve for the Force Area's CSP Activity in October 2026."""
    payload = _payload(deps, "commentary-text.value", {
        "report-month": "2026-10", "commentary-area": "Force Area", "commentary-about": "__activity__",
        "commentary-kind": "commentary", f"commentary-{button}": 1, "commentary-text": text,
        "commentary-author": "Someone", "commentary-version": 0})
    payload["changedPropIds"] = [f"commentary-{button}.n_clicks"]
    return payload


REPORT_FILE = "/report-files/0123456789ab/2026-10-open-0123456789ab/report."


def test_public_gets_no_report_no_commentary_and_no_report_files(secured):
    url, state, deps = secured
    public = requests.Session()
    assert "role-refused" in _page(public, url, "/report")
    assert _call(public, url, _note(deps, "save", "public was here")).status_code == 403
    assert _call(public, url, _payload(deps, "report-status.children", {"report-month": "2026-10"})).status_code == 403
    for fmt in ("html", "pdf", "docx"):  # refused before the server even looks for the file
        assert public.get(url + REPORT_FILE + fmt, timeout=30).status_code == 403


def test_board_reads_the_report_but_a_crafted_save_or_approve_gets_403(secured):
    url, state, deps = secured
    board = _signed_in(url, "bea")
    page = _page(board, url, "/report")
    assert "report-commentary-note" in page and "commentary-text" not in page and "role-refused" not in page
    for button in ("save", "approve"):
        refused = _call(board, url, _note(deps, button, "board was here"))
        assert refused.status_code == 403 and "commentary" in refused.text
    assert "board was here" not in json.dumps([e.text for e in commentary.Commentary(state, "derbyshire").history(
        commentary.Key("Force Area", "", "2026-10", commentary.ACTIVITY, "derbyshire"))])
    # The report's files are the board's to read and download (404 here: this one was never prepared).
    assert board.get(url + REPORT_FILE + "pdf", timeout=30).status_code == 404


def _cached_reports(state: Path, data_dir: Path, month: str) -> dict[bool, str]:
    """Files in the report cache for an open and a closed session, as a finished background build
    leaves them (each file says which session it is for); {closed?: URL stem of its files}."""
    config = settings.load_settings({"CSP_DATA_DIR": str(data_dir), "CSP_STATE_DIR": str(state)})
    store = Store(data_dir)
    stems = {}
    for closed in (False, True):
        job = report_jobs.Job(store.data_dir, report_output.cache_dir_for(config), report.store_version(store).key,
                              pd.Timestamp(month), config.limit_method, config.k, config.min_significant,
                              config.suppress_below, config.state_dir,
                              report.notes_key(report_jobs.approved_notes(config.state_dir, pd.Timestamp(month), data_dir)), closed)
        job.folder.mkdir(parents=True, exist_ok=True)
        for fmt, path in job.files().items():
            path.write_text(f"{report_output.session_word(closed)} session report ({fmt})")
        stems[closed] = f"/report-files/{job.version}/{job.folder.name}/report."
    return stems


def test_report_with_marac_is_served_only_to_a_closed_session_cached_files_included(secured, demo_dir):
    """The Report tab points each requester at the report for their session, and the server serves a
    closed-session file (with MARAC) only to a role and session that may see MARAC now."""
    url, state, deps = secured
    stems = _cached_reports(state, demo_dir, "2026-09")

    def frame(session: requests.Session) -> str:
        answer = _call(session, url, _payload(deps, "report-status.children", {"report-month": "2026-09"}))
        assert answer.status_code == 200
        return answer.json()["response"]["report-frame"]["src"]

    def fetched(session: requests.Session, closed: bool) -> set[int]:
        return {session.get(url + stems[closed] + fmt, timeout=30).status_code for fmt in ("html", "pdf", "docx")}

    board = _signed_in(url, "bea")  # board members start in an open session
    assert frame(board) == stems[False] + "html"
    assert board.get(url + stems[False] + "html", timeout=30).text == "open session report (html)"
    assert fetched(board, closed=False) == {200} and fetched(board, closed=True) == {403}
    board.post(url + "/session", data={"mode": "closed"}, timeout=30)
    assert frame(board) == stems[True] + "html" and fetched(board, closed=True) == {200}

    analyst = _signed_in(url, "ann")  # analysts start closed
    assert frame(analyst) == stems[True] + "html" and fetched(analyst, closed=True) == {200}
    analyst.post(url + "/session", data={"mode": "open"}, timeout=30)
    assert frame(analyst) == stems[False] + "html" and fetched(analyst, closed=True) == {403}

    public = requests.Session()
    assert fetched(public, closed=False) == {403} and fetched(public, closed=True) == {403}


def test_analyst_saves_and_approves_commentary(secured):
    url, state, deps = secured
    analyst = _signed_in(url, "ann")
    assert "commentary-text" in _page(analyst, url, "/report")
    saved = _call(analyst, url, _note(deps, "save", "Analyst's note on October."))
    assert saved.status_code == 200 and "Saved as version 1" in saved.text
    approve = _note(deps, "approve", "Analyst's note on October.")
    approve["state"] = [dict(s, value=1) if s["id"] == "commentary-version" else s for s in approve["state"]]
    approved = _call(analyst, url, approve)
    assert approved.status_code == 200 and "approved" in approved.text
    entry = commentary.Commentary(state, "derbyshire").get(
        commentary.Key("Force Area", "", "2026-10", commentary.ACTIVITY, "derbyshire"))
    assert entry.approved_is_current and entry.text == "Analyst's note on October."


def test_board_view_offers_the_public_only_what_it_may_see(secured):
    url, _, deps = secured
    public = requests.Session()
    crime = _page(public, url, "/", "?present=1")
    assert "crime-chart" in crime and "Exit board view" in crime and "role-refused" not in crime
    # MARAC is not shown to the public, in the board view or out of it; hate crime's board view
    # is the public release page (no trend chart, no board view link).
    marac_page = _page(public, url, "/marac", "?present=1")
    assert "role-refused" in marac_page and "Cases discussed" not in marac_page
    hate_page = _page(public, url, "/hate", "?present=1")
    assert "hatepublic-chart" in hate_page and "hate-chart" not in hate_page and "board view" not in hate_page.lower()
    # The board view's own callbacks (chart, its text alternative) for hate are refused to the public.
    assert _call(public, url, _payload(deps, "hate-chart.figure", {"hate-area": "Force Area"})).status_code == 403
    # A board member in an open session gets the hate board view but not MARAC's.
    board = _signed_in(url, "bea")
    assert "hate-chart" in _page(board, url, "/hate", "?present=1")
    assert "role-refused" in _page(board, url, "/marac", "?present=1")


# --------------------------------------------------------------------------- hate crime for the public


def _public_hate(session, url, deps, kind="crimes", strand="All strands", area="Force Area"):
    payload = _payload(deps, "hatepublic-chart.figure", {"hatepublic-kind": kind, "hatepublic-strand": strand,
                                                        "hatepublic-area": area})
    return _call(session, url, payload)


def test_public_gets_hate_crime_only_from_the_suppressed_release(secured, demo_dir):
    from queries import geography, hate

    url, state, deps = secured
    public = requests.Session()
    page = _page(public, url, "/hate")
    assert "hatepublic-chart" in page and "role-refused" not in page and "hate-chart" not in page
    assert '"Hate crime"' in public.get(url + "/_dash-layout", timeout=30).text  # offered in the navigation bar
    # The board's hate callbacks (trend, YTD, strands, outcomes, drill-down, exports) stay refused.
    for output in ("hate-chart.figure", "hate-ytd.rowData", "hate-strands.rowData", "hate-outcomes.rowData",
                   "hate-ytd-download.data"):
        assert _call(public, url, _payload(deps, output, {"hate-area": "Force Area"})).status_code == 403, output
    release = hate_release.release(Store(demo_dir), DEFAULT_SUPPRESS_BELOW, state_dir=state)  # what was published
    checked = hidden_seen = 0
    for kind in ("crimes", "incidents"):
        for strand in ("All strands", "Race", "Disability"):
            for area in ("Force Area", "Bolsover", CITY, geography.UNALLOCATED):
                response = _public_hate(public, url, deps, kind, strand, area)
                assert response.status_code == 200
                body = response.json()["response"]
                shown, hidden = body["hatepublic-chart"]["figure"]["data"]
                assert all(v >= DEFAULT_SUPPRESS_BELOW for v in shown["y"])       # no small count drawn
                assert set(hidden["y"]) <= {DEFAULT_SUPPRESS_BELOW} and set(hidden["text"]) <= {"<5"}
                truth = release.cells[(release.cells["kind"] == hate.KIND_PARAMS[kind])
                                      & (release.cells["strand"] == strand) & (release.cells["area"] == area)]
                labels = [row["Count"] for row in body["hatepublic-table"]["rowData"]]
                assert len(labels) == len(truth)
                for label in labels:  # every row a count of 5 or more, or "<5"
                    assert label == "<5" or int(label) >= DEFAULT_SUPPRESS_BELOW
                small = int((truth["value"] < DEFAULT_SUPPRESS_BELOW).sum())
                assert labels.count("<5") >= small
                hidden_seen += small
                checked += 1
    assert checked == 24 and hidden_seen > 0
    # A neighbourhood (or anything not a district or above) is not answered with its own count.
    crafted = _public_hate(public, url, deps, area="Chesterfield Town Centre")
    assert crafted.status_code == 200 and "Force Area - Hate crimes" in crafted.text


def test_board_still_gets_the_full_hate_tab_not_the_public_release(secured):
    url, _, _ = secured
    board = _signed_in(url, "bea")
    page = _page(board, url, "/hate")
    assert "hate-chart" in page and "hatepublic-chart" not in page
