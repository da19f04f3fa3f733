"""The real WSGI deployment: gunicorn with several workers, each opening the store itself."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request

import pandas as pd

from conftest import REPO, start_gunicorn, stop
from queries import geography
from test_series import _publish_crime


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.status == 200
        return response.read().decode()


def _banner(layout: str) -> str:
    """The text of the synthetic-data banner in a served layout ('' if none)."""
    def find(node):
        if isinstance(node, dict):
            if node.get("props", {}).get("id") == "synthetic-banner":
                return json.dumps(node)
            for value in node.values():
                found = find(value)
                if found:
                    return found
        elif isinstance(node, list):
            for value in node:
                found = find(value)
                if found:
                    return found
        return ""
    return find(json.loads(layout))


def test_gunicorn_workers_serve_pages_and_pick_up_a_new_import_without_restart(tmp_data_dir):
    proc, url = start_gunicorn(tmp_data_dir, workers=3)
    try:
        for path in ("/", "/?area=Erewash", "/_dash-layout", "/_dash-dependencies"):
            _get(url + path)
        before = _banner(_get(url + "/_dash-layout"))
        assert "crime" in before and "Synthetic demo data" in before
        records = pd.DataFrame({
            "record_id": ["x1"], "month": pd.to_datetime(["2025-01-01"]).date, "measure": ["Shoplifting"],
            "ward_code": ["E05015507"], "location": [geography.IN_AREA],
        })
        _publish_crime(tmp_data_dir, records, ["2025-01-01"])
        # Every worker (requests land on any of them) now reports crime as real data.
        for _ in range(12):
            banner = _banner(_get(url + "/_dash-layout"))
            assert "crime" not in banner.split("figures")[0]
    finally:
        stop(proc)


def test_assets_are_served_locally_so_the_app_works_offline(live_server):
    index = _get(live_server + "/")
    assert "00-bootstrap.min.css" in index
    assert "cdn" not in index.lower()
    assert _get(live_server + "/assets/00-bootstrap.min.css").startswith("@charset")


# What gunicorn's preloading master does (gunicorn.conf.py): import the app, then run pre_fork
# before forking each worker; printed: whether a DuckDB connection is open, then the hook's answer
# before and after a query opens the store.
_PRELOAD_CHECK = """
import runpy
import app
from dashboard import state
conf = runpy.run_path("gunicorn.conf.py")
print(conf["preload_app"], state.store().is_open)
conf["pre_fork"](None, None)
print("fork allowed")
state.store().snapshot()
try:
    conf["pre_fork"](None, None)
except RuntimeError:
    print("fork refused")
"""


def test_the_preloaded_app_holds_no_duckdb_connection_when_gunicorn_forks_its_workers(demo_dir):
    """A DuckDB connection must not cross a fork: the app gunicorn imports in its master opens none,
    and the pre_fork hook refuses to fork once one is open."""
    done = subprocess.run([sys.executable, "-c", _PRELOAD_CHECK], cwd=REPO, capture_output=True, text=True,
                          env=dict(os.environ, CSP_DATA_DIR=str(demo_dir)), timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False", "fork", "allowed", "fork", "refused"]
