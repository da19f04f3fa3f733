"""Issue 10, forces on the account: in a store of two forces, a user limited to one force gets
HTTP 403 for a crafted callback or download about the other, a page opened with the other
force's force= says so instead of drawing, and the force select offers only their own force.
Real gunicorn (2 workers), real store made by `app.py init` and `import police-uk`."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import requests

from conftest import REPO, start_gunicorn, stop
from queries import roles, users
from test_access import _call, _page, _payload, _signed_in, PASSWORD

LEICESTERSHIRE_MARCH = REPO / "tests" / "fixtures" / "police-uk" / "leicestershire-street-2021-03.zip"
# name -> (role, forces on the account)
ACCOUNTS = {"lee": (roles.ANALYST, ("Leicestershire Police",)),  # a name is stored as its slug
            "dee": (roles.ANALYST, ("derbyshire",)),
            "all": (roles.ANALYST, ())}


def app(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "app.py", *args], cwd=REPO, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def two_force_server(tmp_path_factory):
    """A Derbyshire + Leicestershire store holding Leicestershire's March 2021, served with accounts."""
    root = tmp_path_factory.mktemp("forces")
    data_dir, state = root / "store", root / "state"
    made = app("init", "--force", "derbyshire", "--force", "leicestershire", "--data-dir", str(data_dir))
    assert made.returncode == 0, made.stderr
    imported = app("import", "police-uk", str(LEICESTERSHIRE_MARCH), "--data-dir", str(data_dir))
    assert imported.returncode == 0, imported.stderr
    for name, (role, forces) in ACCOUNTS.items():
        users.add(state, name, role, PASSWORD, forces)
    # Proxy sign-on trusted from this computer too (the app's own sign-in works beside it).
    proc, url = start_gunicorn(data_dir, workers=2, env_extra={"CSP_STATE_DIR": str(state), "CSP_AUTH": "proxy",
                                                               "CSP_TRUSTED_PROXIES": "127.0.0.1/32"})
    deps = requests.get(url + "/_dash-dependencies", timeout=30).json()
    yield url, deps
    stop(proc)


def chart(deps, force) -> dict:
    return _payload(deps, "crime-chart.figure", {"crime-force": force, "crime-area": "Force Area"})


def download(deps, force) -> dict:
    return _payload(deps, "crime-chart-download.data",
                    {"crime-force": force, "crime-area": "Force Area", "crime-chart-download-csv": 1})


def test_account_forces_are_stored_as_slugs_and_unknown_forces_are_refused(tmp_path):
    assert users.add(tmp_path, "lee", roles.BOARD, PASSWORD, ("Leicestershire Police",)).forces == ("leicestershire",)
    assert users.get(tmp_path, "lee").forces == ("leicestershire",)
    with pytest.raises(users.UserError, match="unknown police force 'Atlantis'"):
        users.add(tmp_path, "cy", roles.BOARD, PASSWORD, ("Atlantis",))


def test_crafted_callbacks_and_downloads_for_another_force_get_403_and_their_own_force_works(two_force_server):
    url, deps = two_force_server
    lee = _signed_in(url, "lee")
    refused = _call(lee, url, chart(deps, "derbyshire"))
    assert refused.status_code == 403 and "not on your account" in refused.text
    assert _call(lee, url, download(deps, "derbyshire")).status_code == 403
    # A missing or made-up force would draw the store's first force (Derbyshire): refused too.
    assert _call(lee, url, chart(deps, None)).status_code == 403
    assert _call(lee, url, chart(deps, "no-such-force")).status_code == 403
    own = _call(lee, url, chart(deps, "leicestershire"))
    assert own.status_code == 200 and "Force Area" in own.text
    exported = _call(lee, url, download(deps, "leicestershire"))
    assert exported.status_code == 200 and exported.json()["response"]["crime-chart-download"]["data"]["content"]

    dee = _signed_in(url, "dee")
    assert _call(dee, url, chart(deps, "leicestershire")).status_code == 403
    assert _call(dee, url, chart(deps, "derbyshire")).status_code == 200


def test_accounts_with_every_force_and_anonymous_visitors_are_not_limited(two_force_server):
    url, deps = two_force_server
    for session in (_signed_in(url, "all"), requests.Session()):
        for force in ("derbyshire", "leicestershire"):
            assert _call(session, url, chart(deps, force)).status_code == 200


def test_a_page_opened_for_another_force_says_so_and_the_select_offers_only_their_own(two_force_server):
    url, _ = two_force_server
    lee = _signed_in(url, "lee")
    other = _page(lee, url, "/", "?force=derbyshire")
    assert "force-refused" in other and "not on your account" in other and "crime-chart" not in other
    own = _page(lee, url, "/", "?force=leicestershire")
    assert "crime-chart" in own and "force-refused" not in own
    # Opened without force=: the account's force, not the store's first, and no other force offered.
    plain = json.loads(_page(lee, url, "/"))
    text = json.dumps(plain)
    assert "Leicestershire Police" in text and "Derbyshire Constabulary" not in text
    assert "force-refused" not in text
    everyone = _page(_signed_in(url, "all"), url, "/")
    assert "Derbyshire Constabulary" in everyone and "Leicestershire Police" in everyone


def _as_proxy_user(forces: str | None) -> requests.Session:
    """A visitor a trusted proxy signed in as an analyst, naming `forces` in X-CSP-Forces (None: no header)."""
    session = requests.Session()
    session.headers.update({"X-CSP-User": "pat@example.org", "X-CSP-Role": roles.ANALYST})
    if forces is not None:
        session.headers["X-CSP-Forces"] = forces
    return session


def test_a_proxy_sign_on_limits_the_user_to_the_forces_its_header_names(two_force_server):
    url, deps = two_force_server
    for named in ("Leicestershire Police", "leicestershire", "leicestershire , atlantis"):  # names or slugs
        lee = _as_proxy_user(named)
        assert _call(lee, url, chart(deps, "derbyshire")).status_code == 403, named
        assert _call(lee, url, chart(deps, "leicestershire")).status_code == 200, named
    both = _as_proxy_user("derbyshire,leicestershire")
    assert all(_call(both, url, chart(deps, f)).status_code == 200 for f in ("derbyshire", "leicestershire"))


def test_a_proxy_user_without_a_forces_header_sees_every_force_and_one_naming_none_sees_none(two_force_server):
    url, deps = two_force_server
    for header in (None, "", ", ,"):
        everyone = _as_proxy_user(header)
        assert all(_call(everyone, url, chart(deps, f)).status_code == 200 for f in ("derbyshire", "leicestershire"))
    nobody = _as_proxy_user("atlantis")  # a header naming no force of this store fails closed, never "all"
    for force in ("derbyshire", "leicestershire"):
        refused = _call(nobody, url, chart(deps, force))
        assert refused.status_code == 403 and "none of this store's forces" in refused.text
