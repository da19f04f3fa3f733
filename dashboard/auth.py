"""Sign-in, roles on the server, security headers and the audit of exports (the Flask side).

Everything the browser asks for passes `_before` here, in one place:

* who is asking: a signed-in user (Flask-Login, session cookie signed with the secret in
  the state directory, so every gunicorn worker accepts it), a user named by a trusted
  reverse proxy (CSP_AUTH=proxy, only from CSP_TRUSTED_PROXIES), or an anonymous visitor
  with CSP_ANONYMOUS_ROLE;
* the idle timeout and the Origin check on every state-changing request;
* the roles table (queries/roles.py) on every Dash callback: the callback is found by its
  output ids, the dataset by the id convention ({"tab": <dataset>, ...} or
  "<dataset>-..."), and the capability by the output (a "-csv" dcc.Download is an export,
  a "-drill" output is the neighbourhood drill-down). A request the role may not make gets
  HTTP 403, whatever the page showed;
* the forces on the account, in a store of several forces: a callback whose force (a
  "<dataset>-force" value, or force= in a URL it is given) is not one of the account's
  forces gets HTTP 403 too, and a page opened with such a force= says so instead of drawing.

Page layouts are wrapped too, so /marac for the public role renders "not available to your
role" instead of the page. Exports are written to the audit log before they are sent; if
the log cannot be written the export is refused.
"""
from __future__ import annotations

import base64
import html as html_escape
import ipaddress
import json
import os
import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import dash
import dash_bootstrap_components as dbc
import flask
import flask_login
from dash import html
from flask.sessions import SecureCookieSessionInterface

from queries import access_settings, audit, geography, national, roles, settings, statedb, users

SECRET_FILE = "session-secret"
SECRET_BYTES = 32
CALLBACK_PATH = "/_dash-update-component"
LOGIN_PATH, LOGOUT_PATH, SESSION_PATH, ADMIN_PATH, UNLOCK_PATH = "/login", "/logout", "/session", "/admin", "/admin/unlock"
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
# How long a worker trusts its "are there any users?" answer before asking the database again.
USERS_CHECK_SECONDS = 5.0
COOKIE_IDLE_FACTOR = 2
LOCAL_HOSTS = {"127.0.0.1", "::1", "localhost"}

# Content-Security-Policy, as strict as Dash 4 and plotly.js allow. Checked in Chromium
# (tests/test_access_browser.py listens for violations). Relaxations, each needed:
# - script-src sha256 hashes: Dash's own inline scripts (the renderer start-up and the
#   page-title clientside callback), from app.csp_hashes(); no 'unsafe-inline' and no
#   'unsafe-eval' for scripts (dash-ag-grid parses our {"function": ...} formatters itself).
# - style-src 'unsafe-inline': the Dash renderer, dcc and plotly.js insert <style> elements
#   and style attributes at run time, and none can carry a nonce (without it Chromium
#   refuses them and the page renders unstyled).
# - img-src data: blob:: plotly's modebar icons and "download plot as png".
# - worker-src blob:: the map (plotly's Choroplethmap draws with MapLibre, which starts its
#   web workers from blob: URLs; without it the map never draws).
# - frame-ancestors 'self' (and X-Frame-Options SAMEORIGIN): the Report tab shows the report's
#   HTML in an iframe from this same server; no other site may frame any page.
CSP_BASE = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:", "blob:"],
    "font-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'self'"],
    "worker-src": ["'self'", "blob:"],
}
STATIC_HEADERS = {
    "X-Frame-Options": "SAMEORIGIN",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


@dataclass(frozen=True)
class Identity:
    """Who is asking, as decided once per request."""

    name: str           # user name, or "" for an anonymous visitor
    role: str           # a role in roles.ROLES, or roles.NO_ROLE
    how: str            # "signed in", "proxy", "local", "anonymous"
    forces: tuple[str, ...] = ()  # police.uk slugs on the account; empty: every force in the store

    @property
    def label(self) -> str:
        if self.how == "local":
            return "Local analyst: no users are set up and this app only listens on this computer"
        if self.how == "anonymous":
            return f"Not signed in: {self.role} view" if self.role != roles.NO_ROLE else "Not signed in"
        return f"{self.name} ({self.role})"


class _LoginUser(flask_login.UserMixin):
    def __init__(self, user: users.User):
        self.user = user

    def get_id(self) -> str:
        return self.user.name


class _SessionInterface(SecureCookieSessionInterface):
    """Secure cookies, except over plain HTTP to this computer itself (the README's first command)."""

    def get_cookie_secure(self, app) -> bool:
        request = flask.request
        if _scheme(request) == "https":
            return True
        return (urlsplit(request.host_url).hostname or "") not in LOCAL_HOSTS


def _scheme(request) -> str:
    if _from_trusted_proxy(request):
        return (request.headers.get("X-Forwarded-Proto") or request.scheme).split(",")[0].strip()
    return request.scheme


def _from_trusted_proxy(request) -> bool:
    return access_settings.trusted(request.remote_addr, _access())


def _client_address(request) -> str:
    if _from_trusted_proxy(request) and request.headers.get("X-Forwarded-For"):
        return request.headers["X-Forwarded-For"].split(",")[0].strip()
    return request.remote_addr or ""


_ACCESS: access_settings.AccessSettings | None = None
_CONFIG: settings.Settings | None = None
_users_cache: tuple[float, bool] = (0.0, False)


def _access() -> access_settings.AccessSettings:
    assert _ACCESS is not None, "dashboard.auth.install has not run"
    return _ACCESS


def _state_dir() -> Path:
    assert _CONFIG is not None
    return _CONFIG.state_dir


def session_secret(state_dir: Path) -> bytes:
    """The signing secret shared by every worker: created once (atomically) in the state directory."""
    path = Path(state_dir) / SECRET_FILE
    Path(state_dir).mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(SECRET_BYTES))
    for _ in range(50):  # another worker may be writing it this instant
        text = path.read_text().strip()
        if text:
            return bytes.fromhex(text)
        time.sleep(0.05)
    raise statedb.StateError(f"{path} is empty; delete it and restart")


def _any_users() -> bool:
    global _users_cache
    checked, answer = _users_cache
    if time.time() - checked > USERS_CHECK_SECONDS:
        try:
            answer = users.any_users(_state_dir())
        except statedb.StateError:
            answer = False
        _users_cache = (time.time(), answer)
    return answer


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return address in LOCAL_HOSTS


def anonymous_role(request) -> tuple[str, str]:
    """(role, how) for a visitor who has not signed in.

    The documented default ("auto"): a local analyst when no users exist, the app is bound
    to a loopback address, and the request comes straight from this computer (no proxy
    headers); otherwise public.
    """
    chosen = _access().anonymous_role
    if chosen != access_settings.AUTO:
        return chosen, "anonymous"
    local = (
        _access().auth == access_settings.LOGIN
        and _is_loopback(_CONFIG.host)
        and _is_loopback(request.remote_addr or "")
        and not request.headers.get("X-Forwarded-For")
        and not request.headers.get("Forwarded")
        and not _any_users()
    )
    return (roles.ANALYST, "local") if local else (roles.PUBLIC, "anonymous")


def identity() -> Identity:
    """Who is asking (computed once per request)."""
    if "identity" not in flask.g:
        flask.g.identity = _resolve_identity(flask.request)
    return flask.g.identity


def _resolve_identity(request) -> Identity:
    access = _access()
    if access.auth == access_settings.PROXY and _from_trusted_proxy(request):
        name = request.headers.get(access_settings.PROXY_USER_HEADER, "").strip()
        role = request.headers.get(access_settings.PROXY_ROLE_HEADER, "").strip()
        if name and role in roles.ROLES:
            return Identity(name[:64], role, "proxy",
                            proxy_forces(request.headers.get(access_settings.PROXY_FORCES_HEADER, "")))
    user = flask_login.current_user
    if getattr(user, "is_authenticated", False):
        return Identity(user.user.name, user.user.role, "signed in", user.user.forces)
    role, how = anonymous_role(request)
    return Identity("", role, how)


# At most this many forces are read from a forces header (England and Wales have 43).
MAX_PROXY_FORCES = 64
# What a forces header naming none of the store's forces becomes: a force no store holds, so the
# user sees no force's data (an empty tuple would mean every force: never the answer to a bad header).
NO_FORCE = "none-of-this-store"


def proxy_forces(header: str) -> tuple[str, ...]:
    """The forces a trusted proxy's `X-CSP-Forces` names, as the store's slugs; () (every force) when
    absent or blank.

    Each entry is a police.uk slug or "Falls within" name (as `users add --forces` takes), checked
    by queries/params.py's `force` parameter against the store's forces. Entries the store does not
    hold are dropped; a header naming none of them gives NO_FORCE, so it fails closed.
    """
    from dashboard import state  # dashboard.state is set up by create_app, after this module loads
    from queries import params

    entries = [e.strip() for e in str(header or "").split(",") if e.strip()][:MAX_PROXY_FORCES]
    if not entries:
        return ()
    context = params.Context(state.store(), "crime", state.config)
    forces = []
    for entry in entries:
        try:
            slug = national.find_force(entry).slug
        except (LookupError, ValueError, national.MissingForces):
            slug = entry
        try:
            forces.append(params.check(FORCE_PARAM, slug, context))
        except (params.ParamError, LookupError, OSError):
            continue
    return tuple(dict.fromkeys(forces)) or (NO_FORCE,)


def closed_session() -> bool:
    ident = identity()
    if not roles.can_switch_session(ident.role):
        return False
    return bool(flask.session.get("closed", roles.default_closed(ident.role)))


# --------------------------------------------------------------------------- callbacks


def _ids_of(items) -> list:
    """Component ids in a callback payload's outputs/inputs/state (lists nest for ALL patterns)."""
    found = []
    if isinstance(items, dict):
        if "id" in items:
            found.append(items["id"])
    elif isinstance(items, list):
        for item in items:
            found.extend(_ids_of(item))
    return found


def _ids_in_output_string(output: str) -> list:
    """Ids from Dash's "output" key: "id.prop" or "..id1.prop1...id2.prop2.."."""
    text = output[2:-2] if output.startswith("..") and output.endswith("..") else output
    ids = []
    for part in text.split("..."):
        ident = part.rsplit(".", 1)[0]
        if ident.startswith("{"):
            try:
                ids.append(json.loads(ident))
            except ValueError:
                ids.append(ident)
        else:
            ids.append(ident)
    return ids


def dataset_of(component_id) -> str | None:
    """The dataset a component serves, from the id convention (None: not a dataset's component)."""
    if isinstance(component_id, dict):
        tab = component_id.get("tab")
        return tab if isinstance(tab, str) else None
    if isinstance(component_id, str):
        prefix = component_id.split("-", 1)[0]
        return prefix if prefix in roles.ACCESS else None
    return None


def capability_of(component_id) -> str:
    """What an output does: an export (-csv download), the drill-down, or a view."""
    name = component_id.get("part", "") if isinstance(component_id, dict) else str(component_id)
    if not isinstance(name, str):
        return roles.VIEW
    if name.endswith("-csv") or name.endswith("csv") or name.endswith("download"):
        return roles.DOWNLOAD
    if "drill" in name:
        return roles.DRILL
    return roles.VIEW


def callback_needs(payload: dict) -> set[tuple[str, str]]:
    """Every (dataset, capability) a callback request touches."""
    needs = set()
    outputs = _ids_in_output_string(str(payload.get("output", ""))) + _ids_of(payload.get("outputs"))
    for component in outputs:
        dataset = dataset_of(component)
        if dataset:
            needs.add((dataset, capability_of(component)))
    for component in _ids_of(payload.get("inputs")) + _ids_of(payload.get("state")):
        dataset = dataset_of(component)
        if dataset:
            needs.add((dataset, roles.VIEW))
    return needs


# ----------------------------------------------------------------- forces on the account

# A component whose value is a force: the trend tabs' "<dataset>-force" select.
FORCE_ID_SUFFIX = "-force"
# Properties holding a URL (or its query) from which a callback may read force=.
URL_PROPERTIES = {"search", "href"}
FORCE_PARAM = "force"
# The page router's output: it draws the page layout, which answers a refused force itself.
PAGES_OUTPUT = "_pages_content"


def store_forces() -> list[str]:
    """The store's forces (slugs, in forces.csv order); empty when the store names none."""
    try:
        return geography.force_slugs(_CONFIG.data_dir)
    except (national.MissingForces, OSError, ValueError, LookupError):
        return []


def permitted_forces() -> list[str]:
    """The store's forces this request may see: the account's (all for an empty list, anonymous roles, proxy users)."""
    own = identity().forces
    return [force for force in store_forces() if not own or force in own]


def _limited() -> bool:
    """True when the account names forces and some force of the store is not among them."""
    return bool(identity().forces) and permitted_forces() != store_forces()


def visible_forces(forces: list[str]) -> list[str]:
    """The force select's options for this request: only the account's forces (all outside a request)."""
    if not flask.has_request_context():
        return list(forces)
    allowed = set(permitted_forces())
    return [force for force in forces if force in allowed]


def _effective_force(value) -> str | None:
    """The force a value makes a page or callback draw: queries/params.py falls back to the store's
    first force for a missing or unknown one, so that is what an unknown value asks for."""
    held = store_forces()
    if isinstance(value, str) and value in held:
        return value
    return held[0] if held else None


def _forces_in_url(value) -> list | None:
    """force= values in a URL or its query string; None when it has none."""
    if not isinstance(value, str):
        return None
    query = urlsplit(value).query if "?" in value or "://" in value else value
    found = parse_qs(query.lstrip("?")).get(FORCE_PARAM)
    return found or None


def forces_asked(payload: dict) -> list:
    """Every force value a callback request carries (raw, possibly hostile)."""
    asked = []
    for item in _items(payload.get("inputs")) + _items(payload.get("state")):
        component, value = item.get("id"), item.get("value")
        part = component.get("part") if isinstance(component, dict) else component
        if isinstance(part, str) and (part.endswith(FORCE_ID_SUFFIX) or part == FORCE_PARAM):
            asked.append(value)
        elif item.get("property") in URL_PROPERTIES:
            asked.extend(_forces_in_url(value) or [])
    return asked


def _items(items) -> list[dict]:
    """The {"id", "property", "value"} items of a payload's inputs or state (lists nest for ALL patterns)."""
    if isinstance(items, dict):
        return [items]
    if isinstance(items, list):
        return [found for item in items for found in _items(item)]
    return []


def force_refusal(asked: list) -> str | None:
    """Why these force values are refused for this request's account (None: all allowed)."""
    if not identity().forces:
        return None
    permitted = permitted_forces()
    for value in asked:
        force = _effective_force(value)
        if force not in permitted:
            yours = ", ".join(permitted) or "none of this store's forces"
            return (f"force {force or value!r} is not on your account (yours: {yours}); "
                    "ask an admin to add it to your account")
    return None


def _forbidden(message: str, status: int = 403) -> flask.Response:
    return flask.Response(message, status=status, mimetype="text/plain")


def _check_callback(request) -> flask.Response | None:
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return _forbidden("a callback request must be a JSON object", 400)
    if _app is not None and str(payload.get("output", "")) not in _app.callback_map:
        # Dash would answer a made-up output with a traceback and HTTP 500.
        return _forbidden("no such callback: the request names an output this app does not have", 400)
    ident = identity()
    closed = closed_session()
    needs = callback_needs(payload)
    if ident.forces and PAGES_OUTPUT not in str(payload.get("output", "")):
        # The page router is left to the page itself, which shows a refusal instead of a blank page.
        refused = force_refusal(forces_asked(payload))
        if refused is None and needs and not permitted_forces():
            refused = "your account names none of this store's forces"
        if refused:
            return _forbidden(refused)
    exports = []
    for dataset, capability in sorted(needs):
        try:
            roles.ensure(ident.role, dataset, capability, closed)
        except roles.Forbidden as exc:
            return _forbidden(str(exc))
        if capability == roles.DOWNLOAD:
            exports.append(dataset)
    if exports:
        try:  # refuse an export we could not log, before doing the work
            statedb.connect(_state_dir()).close()
        except statedb.StateError as exc:
            return _forbidden(f"exports are refused: {exc}", 503)
        flask.g.export = (",".join(exports), payload)
    return None


def _export_rows(response: flask.Response) -> int | None:
    try:
        body = json.loads(response.get_data(as_text=True))
    except ValueError:
        return None
    rows = 0
    for props in (body.get("response") or {}).values():
        data = props.get("data") if isinstance(props, dict) else None
        if isinstance(data, dict) and isinstance(data.get("content"), str):
            if not str(data.get("filename", "")).lower().endswith(".csv"):
                return None  # a binary file (Excel): its rows are not counted from its bytes, so none are claimed
            text = base64.b64decode(data["content"]).decode("utf-8", "replace") if data.get("base64") else data["content"]
            rows += max(text.count("\n") - 1, 0)
    return rows


def _audit_export(response: flask.Response) -> flask.Response:
    dataset, payload = flask.g.export
    if response.status_code != 200:
        return response
    ident = identity()
    filters = {str(i.get("id")) + "." + str(i.get("property")): i.get("value")
               for i in (payload.get("inputs") or []) + (payload.get("state") or []) if isinstance(i, dict)}
    try:
        audit.record(_state_dir(), ident.name or ident.how, ident.role, audit.EXPORT, view=str(payload.get("output", "")),
                     filters=filters, rows=_export_rows(response), address=_client_address(flask.request))
    except statedb.StateError as exc:
        return _forbidden(f"the export was refused: {exc}", 503)
    return response


# --------------------------------------------------------------------------- request hooks


def _origin_ok(request) -> bool:
    """A state-changing request must come from this site: Origin (or Referer) host equals ours."""
    if request.headers.get("Sec-Fetch-Site") == "cross-site":
        return False
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if not source:
        return True  # not a browser (browsers send Origin on every POST)
    host = request.headers.get("X-Forwarded-Host") if _from_trusted_proxy(request) else None
    return urlsplit(source).netloc == (host or request.host)


def _before():
    request = flask.request
    if request.method in STATE_CHANGING and not _origin_ok(request):
        return _forbidden("cross-site request refused (its Origin is not this site)")
    if flask_login.current_user.is_authenticated:
        seen = flask.session.get("seen", 0)
        if time.time() - seen > _access().idle_minutes * 60:
            _audit_quietly(flask_login.current_user.user.name, flask_login.current_user.user.role, audit.SIGN_OUT, "idle timeout")
            flask_login.logout_user()
            flask.session.clear()
            flask.session["timed_out"] = True
        else:
            flask.session["seen"] = time.time()
            flask.session.permanent = True
    ident = identity()
    if ident.role == roles.NO_ROLE and request.path != LOGIN_PATH and not request.path.startswith(("/assets/", "/_dash-component-suites/")):
        # CSP_ANONYMOUS_ROLE=none: nothing but the sign-in form (and its static files) without signing in.
        if request.path.startswith("/_dash"):
            return _forbidden("sign in first", 401)
        return flask.redirect(LOGIN_PATH)
    if request.path == CALLBACK_PATH and request.method == "POST":
        return _check_callback(request)
    return None


def _after(response: flask.Response) -> flask.Response:
    if getattr(flask.g, "export", None):
        response = _audit_export(response)
    policy = dict(CSP_BASE)
    policy["script-src"] = CSP_BASE["script-src"] + list(_csp_hashes())
    response.headers["Content-Security-Policy"] = "; ".join(f"{k} {' '.join(v)}" for k, v in policy.items())
    for name, value in STATIC_HEADERS.items():
        response.headers[name] = value
    if _scheme(flask.request) == "https":
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
    return response


_hashes: list[str] = []
_app: dash.Dash | None = None


def _csp_hashes() -> list[str]:
    # Dash adds its page-title clientside callback on the first request, so read them after it.
    if not _hashes and _app is not None and _app._got_first_request.get("pages"):
        _hashes.extend(_app.csp_hashes())
    return _hashes or (_app.csp_hashes() if _app is not None else [])


def _audit_quietly(who: str, role: str, event: str, note: str = "") -> bool:
    try:
        audit.record(_state_dir(), who, role, event, filters=note, address=_client_address(flask.request))
        return True
    except statedb.StateError:
        return False


# --------------------------------------------------------------------------- pages


PAGE_STYLE = ("body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}"
              "label{display:block;margin-top:1rem}input{width:100%;padding:.4rem}"
              "button{margin-top:1.2rem;padding:.5rem 1.2rem}.err{color:#a00}.note{color:#555}"
              "table{border-collapse:collapse;font-size:.85rem}td,th{border:1px solid #ccc;padding:.2rem .4rem}")


def _page(title: str, body: str, status: int = 200) -> flask.Response:
    return flask.Response(
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
        f"<style>{PAGE_STYLE}</style></head><body><h1>{title}</h1>{body}</body></html>",
        status=status, mimetype="text/html")


def _login_form(message: str = "", status: int = 200) -> flask.Response:
    error = f"<p class='err' id='login-error'>{html_escape.escape(message)}</p>" if message else ""
    note = ""
    if flask.session.pop("timed_out", False):
        note = "<p class='note' id='login-timed-out'>You were signed out after a period without activity.</p>"
    if _access().auth == access_settings.PROXY:
        note += "<p class='note'>Sign-in is handled by your organisation's sign-on.</p>"
    return _page("Sign in", note + error + (
        "<form method='post' action='/login'>"
        "<label>User name <input name='username' id='login-username' autocomplete='username' required></label>"
        "<label>Password <input name='password' id='login-password' type='password' autocomplete='current-password' required></label>"
        "<button type='submit' id='login-submit'>Sign in</button></form>"
        "<p><a href='/'>Back to the dashboard</a></p>"), status)


def login():
    request = flask.request
    if request.method == "GET":
        return _login_form()
    name = (request.form.get("username") or "").strip()[:64]
    password = request.form.get("password") or ""
    state = _state_dir()
    try:
        statedb.connect(state).close()
    except statedb.StateError as exc:
        return _login_form(f"Sign-in is unavailable: {exc}", 503)
    try:
        user = users.authenticate(state, name, password)
    except users.Locked as exc:
        _audit_quietly(name, "", audit.LOCKED_OUT)
        return _login_form(f"Too many failed sign-ins: this account is {exc}. An admin can unlock it.", 429)
    if user is None:
        _audit_quietly(name, "", audit.SIGN_IN_FAILED)
        return _login_form("Wrong user name or password.", 401)
    if not _audit_quietly(user.name, user.role, audit.SIGN_IN):
        return _login_form("Sign-in is unavailable: the audit log cannot be written.", 503)
    flask.session.clear()
    flask_login.login_user(_LoginUser(user))
    flask.session["seen"] = time.time()
    flask.session.permanent = True
    return flask.redirect("/")


def logout():
    user = flask_login.current_user
    if user.is_authenticated:
        _audit_quietly(user.user.name, user.user.role, audit.SIGN_OUT)
    flask_login.logout_user()
    flask.session.clear()
    return flask.redirect(LOGIN_PATH)


def switch_session():
    ident = identity()
    if not roles.can_switch_session(ident.role):
        return _forbidden(f"the {ident.role} role cannot switch to a closed session")
    closed = flask.request.form.get("mode") == "closed"
    flask.session["closed"] = closed
    _audit_quietly(ident.name or ident.how, ident.role, audit.SESSION, "closed" if closed else "open")
    # Back to the page the switch was pressed on (same site only, path and query only).
    referrer = urlsplit(flask.request.referrer or "")
    back = (referrer.path + (f"?{referrer.query}" if referrer.query else "")) if referrer.netloc == flask.request.host else "/"
    return flask.redirect(back if back.startswith("/") and not back.startswith("//") else "/")


def admin_page():
    ident = identity()
    if not roles.ROLES.get(ident.role, roles.ROLES[roles.PUBLIC]).manage_users:
        return _forbidden("users and the audit log are for the admin role")
    state = _state_dir()
    rows = "".join(
        f"<tr><td>{html_escape.escape(u.name)}</td><td>{u.role}</td><td>{html_escape.escape(','.join(u.forces) or 'all')}</td>"
        f"<td>{'locked' if users.locked_until(state, u.name) else ''}</td>"
        f"<td><form method='post' action='{UNLOCK_PATH}'><input type='hidden' name='username' value='{html_escape.escape(u.name)}'>"
        "<button type='submit'>Unlock</button></form></td></tr>"
        for u in users.list_users(state))
    log = audit.entries(state, 200)
    log_rows = "".join("<tr>" + "".join(f"<td>{html_escape.escape(str(v))}</td>" for v in r) + "</tr>"
                       for r in log.itertuples(index=False))
    return _page("Users and audit log", (
        f"<p>State directory: {html_escape.escape(str(state))}</p>"
        f"<h2>Users</h2><table id='admin-users'><tr><th>Name</th><th>Role</th><th>Forces</th><th>Lock</th><th></th></tr>{rows}</table>"
        f"<h2>Audit log (newest first)</h2><table id='admin-audit'><tr>{''.join(f'<th>{c}</th>' for c in log.columns)}</tr>{log_rows}</table>"
        "<p><a href='/'>Back to the dashboard</a></p>"))


def admin_unlock():
    ident = identity()
    if not roles.ROLES.get(ident.role, roles.ROLES[roles.PUBLIC]).manage_users:
        return _forbidden("unlocking accounts is for the admin role")
    name = (flask.request.form.get("username") or "")[:64]
    users.unlock(_state_dir(), name)
    _audit_quietly(ident.name, ident.role, audit.UNLOCK, name)
    return flask.redirect(ADMIN_PATH)


def _not_available(dataset: str, reason: str) -> html.Div:
    return dbc.Alert([html.Strong("Not available to your role. "), reason], color="secondary", id="role-refused")


def guard_page(layout, dataset: str):
    """Wrap a page's layout so a role that may not view its dataset gets a clear message, not data.

    A dataset with a public release (hate crime) lets the page through for roles that may view
    that release; the page then asks `page_release` which one to draw.
    """
    def guarded(**params):
        if identity().forces:
            asked = params.get(FORCE_PARAM)
            refused = force_refusal(asked if isinstance(asked, list) else [asked]) if asked is not None else None
            if refused is None and not permitted_forces():
                refused = "your account names none of this store's forces"
            if refused:
                return dbc.Alert([html.Strong("Not available to your account. "), refused + "."],
                                 color="secondary", id="force-refused")
            if _limited() and asked is None:
                # Opened without force=: the account's first force, not the store's first.
                params = {**params, FORCE_PARAM: permitted_forces()[0]}
        if page_release(dataset) is None:
            try:
                roles.ensure(identity().role, dataset, roles.VIEW, closed_session())
            except roles.Forbidden as exc:
                return _not_available(dataset, str(exc) + ".")
        return layout(**params) if callable(layout) else layout
    return guarded


def page_release(dataset: str) -> str | None:
    """The release of `dataset` this request's role gets: the dataset, its public release, or None."""
    return roles.page_release(identity().role, dataset, closed_session())


def page_dataset(page: dict) -> str:
    module = sys.modules.get(page["module"])
    return getattr(module, "DATASET", None) or page["module"].rsplit(".", 1)[-1]


def may_view(dataset: str) -> bool:
    return roles.allowed(identity().role, dataset, roles.VIEW, closed_session())


def hidden_controls() -> str:
    """Classes naming the controls this role may not use ("no-download-marac", "no-drill-hate").

    assets/roles.css hides those buttons and cards, so nobody is offered what the server
    would refuse with 403. Hiding is only courtesy: the server check is the control.
    """
    ident, closed = identity(), closed_session()
    names = []
    for dataset in roles.ACCESS:
        for capability in (roles.DOWNLOAD, roles.DRILL):
            if not roles.allowed(ident.role, dataset, capability, closed):
                names.append(f"no-{capability}-{dataset}")
    return " ".join(names)


def status_bar() -> list:
    """The navbar's right end: who you are (on every page), the session switch, sign-in/out."""
    ident = identity()
    items = [html.Span(ident.label, id="role-status", className="navbar-text small text-light me-2")]
    if roles.can_switch_session(ident.role):
        closed = closed_session()
        items.append(html.Form([
            html.Button("Closed session (MARAC shown): switch to open" if closed else "Open session: switch to closed",
                        type="submit", id="session-switch", name="mode", value="open" if closed else "closed",
                        className=f"btn btn-sm {'btn-warning' if closed else 'btn-outline-light'} me-2"),
        ], action=SESSION_PATH, method="post", className="d-inline"))
    if ident.how == "signed in":
        if roles.ROLES[ident.role].manage_users:
            items.append(html.A("Users and audit", href=ADMIN_PATH, className="btn btn-sm btn-outline-light me-2", id="admin-link"))
        items.append(html.Form(html.Button("Sign out", type="submit", id="sign-out", className="btn btn-sm btn-outline-light"),
                               action=LOGOUT_PATH, method="post", className="d-inline"))
    elif ident.how != "proxy" and _access().auth == access_settings.LOGIN:
        items.append(html.A("Sign in", href=LOGIN_PATH, id="sign-in", className="btn btn-sm btn-outline-light"))
    return items


def install(app: dash.Dash, config: settings.Settings) -> None:
    """Wire sign-in, the roles check, headers and audit into the app's Flask server."""
    global _ACCESS, _CONFIG, _app
    _CONFIG, _ACCESS, _app = config, access_settings.load(), app
    server = app.server
    try:
        server.secret_key = session_secret(config.state_dir)
    except (OSError, statedb.StateError) as exc:
        # The app still serves what needs no sign-in; sign-in and exports are refused with a
        # message because the state database cannot be written either.
        print(f"warning: {exc}; sign-in and exports are refused until CSP_STATE_DIR is writable", file=sys.stderr)
        server.secret_key = secrets.token_bytes(SECRET_BYTES)
    server.session_interface = _SessionInterface()
    server.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="csp_session",
        # The server checks idleness itself (session "seen"); the cookie outlives that check a
        # little so a returning user is told they were signed out, then the browser drops it.
        PERMANENT_SESSION_LIFETIME=max(int(_ACCESS.idle_minutes * 60 * COOKIE_IDLE_FACTOR), 1),
        SESSION_REFRESH_EACH_REQUEST=True,
    )
    manager = flask_login.LoginManager()
    manager.init_app(server)
    manager.session_protection = "basic"

    @manager.user_loader
    def _load(name: str):
        try:
            user = users.get(config.state_dir, name)
        except statedb.StateError:
            return None
        return _LoginUser(user) if user else None  # a removed user is signed out at once

    server.before_request(_before)
    server.after_request(_after)
    server.add_url_rule(LOGIN_PATH, "csp_login", login, methods=["GET", "POST"])
    server.add_url_rule(LOGOUT_PATH, "csp_logout", logout, methods=["POST"])
    server.add_url_rule(SESSION_PATH, "csp_session", switch_session, methods=["POST"])
    server.add_url_rule(ADMIN_PATH, "csp_admin", admin_page, methods=["GET"])
    server.add_url_rule(UNLOCK_PATH, "csp_unlock", admin_unlock, methods=["POST"])
    for page in dash.page_registry.values():
        page["layout"] = guard_page(page["layout"], page_dataset(page))
