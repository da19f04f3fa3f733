"""Issue 9: a reader answers from one store version, however many imports swap it meanwhile.

The unit tests pin a version in-process; the fault test serves the app from a real
gunicorn while real imports (the CLI, in a child process) swap the store back and forth
between two known versions, and checks that every page answer is wholly one of them.
"""
from __future__ import annotations

import io
import json
import sys
import threading
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path


from conftest import start_gunicorn, stop
from queries import cli, quality, store_writer
from queries.store import Store, StoreVersion

FIXTURES = Path(__file__).parent / "fixtures" / "police-uk"
MARCH = FIXTURES / "derbyshire-street-2025-03.zip"
MARCH_MEMBER = "2025-03/2025-03-derbyshire-street.csv"
MARCH_ROWS = 9162
HALF = MARCH_ROWS // 2
FAULT_SECONDS = 9
CLIENT_THREADS = 3


def run(*argv) -> int:
    out, err = io.StringIO(), io.StringIO()
    old = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        return cli.main(list(map(str, argv)))
    finally:
        sys.stdout, sys.stderr = old


def half_march(folder: Path) -> Path:
    """March cut to its first half of rows, under its own name: a second, smaller version of the month."""
    with zipfile.ZipFile(MARCH) as archive:
        lines = archive.read(MARCH_MEMBER).split(b"\n")
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "derbyshire-street-2025-03.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(MARCH_MEMBER, b"\n".join(lines[: HALF + 1]) + b"\n")
    return target


def march_records(version) -> int:
    return int(version.query("SELECT count(*) AS n FROM crime_records WHERE month = DATE '2025-03-01'")["n"].iloc[0])


def import_march(data_dir: Path, path: Path) -> None:
    assert run("import", "police-uk", path, "--data-dir", data_dir, "--no-progress", "--replace-smaller") == 0


def test_a_snapshot_keeps_answering_from_its_version_after_a_swap(tmp_data_dir, tmp_path):
    import_march(tmp_data_dir, MARCH)
    store = Store(tmp_data_dir)
    old = store.snapshot()
    assert isinstance(old, StoreVersion) and march_records(old) == MARCH_ROWS
    old_table = quality.reconciliation_by_month(old, "crime")

    import_march(tmp_data_dir, half_march(tmp_path / "half"))
    new = store.snapshot()
    assert new.token != old.token and march_records(new) == HALF
    assert march_records(old) == MARCH_ROWS  # the old version still answers, whole
    assert quality.reconciliation_by_month(old, "crime").equals(old_table)
    assert march_records(store) == HALF  # the plain Store reads the current version


def test_a_page_token_finds_its_version_in_any_process_until_it_is_pruned(tmp_data_dir, tmp_path):
    import_march(tmp_data_dir, MARCH)
    token = Store(tmp_data_dir).token
    import_march(tmp_data_dir, half_march(tmp_path / "half"))

    other_worker = Store(tmp_data_dir)  # a process that never saw the old version
    assert march_records(other_worker.at(token)) == MARCH_ROWS
    assert other_worker.at(token).token == token
    assert other_worker.at("not-a-token").token == other_worker.token  # unknown: the current version
    assert other_worker.at(None).token == other_worker.token

    # Once the superseded version has aged past the grace period and left the rollback window, it goes.
    for _ in range(store_writer.VERSIONS_KEPT):
        import_march(tmp_data_dir, half_march(tmp_path / "half"))
    store_writer.prune(tmp_data_dir, "crime", now=time.time() + store_writer.SUPERSEDED_KEPT_SECONDS + 1)
    fresh = Store(tmp_data_dir)
    assert fresh.at(token).token == fresh.token != token  # the page learns newer data is available


def test_pin_binds_the_plain_store_to_one_version_for_this_thread_only(tmp_data_dir, tmp_path):
    import_march(tmp_data_dir, MARCH)
    store = Store(tmp_data_dir)
    seen_elsewhere = []
    with store.pin() as pinned:
        import_march(tmp_data_dir, half_march(tmp_path / "half"))
        assert march_records(store) == MARCH_ROWS and store.token == pinned.token
        worker = threading.Thread(target=lambda: seen_elsewhere.append(march_records(store)))
        worker.start()
        worker.join()
    assert seen_elsewhere == [HALF]
    assert march_records(store) == HALF


# --------------------------------------------------------------------------- the fault test


def _pages_request(url: str) -> tuple[str, bytes]:
    """The Dash pages callback that renders /data, built from the app's own dependency list."""
    with urllib.request.urlopen(url + "/_dash-dependencies", timeout=30) as response:
        callbacks = json.load(response)
    pages = next(c for c in callbacks if "_pages_content.children" in c["output"])
    inputs = [{"id": i["id"], "property": i["property"],
               "value": {"pathname": "/data", "search": "", "href": url + "/data", "hash": ""}.get(i["property"])}
              for i in pages["inputs"]]
    state = [{"id": s["id"], "property": s["property"]} for s in pages.get("state", [])]
    body = {"output": pages["output"], "outputs": _outputs(pages["output"]), "inputs": inputs, "state": state,
            "changedPropIds": [f"{i['id']}.{i['property']}" for i in inputs]}
    return url + "/_dash-update-component", json.dumps(body).encode()


def _outputs(output: str) -> list[dict] | dict:
    parts = output.strip(".").split("...")
    specs = [{"id": p.rsplit(".", 1)[0], "property": p.rsplit(".", 1)[1]} for p in parts if p]
    return specs if output.startswith("..") else specs[0]


def _find(node, component_id: str):
    """The props of the component with this id, anywhere in a Dash layout JSON."""
    if isinstance(node, dict):
        if node.get("props", {}).get("id") == component_id:
            return node["props"]
        for value in node.values():
            found = _find(value, component_id)
            if found is not None:
                return found
    elif isinstance(node, list):
        for value in node:
            found = _find(value, component_id)
            if found is not None:
                return found
    return None


def _figures(payload: dict) -> tuple:
    """What the Data page says of crime: records held, and rows read / loaded / rejected per month."""
    overview = _find(payload, "data-overview")["rowData"]
    crime = next(r for r in overview if r["dataset"] == "crime")
    months = _find(payload, "data-crime-recon-month")["rowData"]
    return (crime["records"], crime["months held"],
            tuple((r["Month"], r["Rows read"], r["Loaded"], r["Rejected"]) for r in months))


def test_pages_answer_from_one_version_while_imports_swap_the_store_under_gunicorn(tmp_data_dir, tmp_path):
    half = half_march(tmp_path / "half")
    import_march(tmp_data_dir, MARCH)
    proc, url = start_gunicorn(tmp_data_dir, workers=2)
    try:
        endpoint, body = _pages_request(url)

        def ask() -> tuple[int, tuple | None]:
            request = urllib.request.Request(endpoint, data=body, headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    return response.status, _figures(json.load(response))
            except urllib.error.HTTPError as exc:
                return exc.code, None

        status, full = ask()
        assert status == 200 and full[0] >= MARCH_ROWS
        import_march(tmp_data_dir, half)
        status, halved = ask()
        assert status == 200 and halved != full
        expected = {full, halved}

        answers: list[tuple[int, tuple | None]] = []
        stop_at = time.time() + FAULT_SECONDS

        def client():
            while time.time() < stop_at:
                answers.append(ask())

        clients = [threading.Thread(target=client) for _ in range(CLIENT_THREADS)]
        for c in clients:
            c.start()
        swaps = 0
        while time.time() < stop_at:
            import_march(tmp_data_dir, MARCH if swaps % 2 == 0 else half)  # the real importer, this process
            swaps += 1
        for c in clients:
            c.join()
    finally:
        stop(proc)
    errors = [s for s, _ in answers if s != 200]
    mixed = [f for s, f in answers if s == 200 and f not in expected]
    print(f"{swaps} swaps, {len(answers)} answers")
    assert swaps >= 3 and len(answers) >= 10
    assert errors == [], f"{len(errors)} of {len(answers)} requests failed: {sorted(set(errors))}"
    assert mixed == [], f"{len(mixed)} of {len(answers)} answers matched neither version, e.g. {mixed[0]}"
