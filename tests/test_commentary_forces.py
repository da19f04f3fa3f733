"""Commentary is kept per force: area names repeat across forces ("Force Area" in every one), so in
a store of two forces the text written for one force never shows for the other — in the Report
page's editor, in the approved notes a report is built with, or in the report itself. A database
written before commentary was keyed by force is migrated: its rows become the store's first force's.

The store: Derbyshire and Leicestershire (made by `init`), holding Leicestershire's real March 2021.
"""
from __future__ import annotations

import dataclasses
import json
import sqlite3

import pandas as pd
import pytest

from queries import commentary, report, report_jobs
from queries.commentary import ACTIVITY, COMMENTARY, Commentary, Key
from queries.init_store import init_store
from queries.store import Store
from test_two_force_store import FIXTURES, run_import

MONTH = "2021-03"
DERBYS, LEICS = "derbyshire", "leicestershire"


@pytest.fixture(scope="module")
def two_forces(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("two-notes") / "store"
    init_store(data_dir, [DERBYS, LEICS])
    code, err = run_import(data_dir, FIXTURES / "leicestershire-street-2021-03.zip")
    assert code == 0, err
    return data_dir


def _approve(notes: Commentary, key: Key, text: str) -> None:
    notes.save(key, text, "A. Analyst", base_version=0)
    notes.approve(key, "Lead Analyst", version=1)


def test_force_area_commentary_written_for_one_force_is_not_the_other_forces(two_forces, tmp_path):
    notes = commentary.for_store(tmp_path, two_forces)
    _approve(notes, Key("Force Area", "", MONTH, ACTIVITY, DERBYS), "Derbyshire's operation.")
    assert notes.get(Key("Force Area", "", MONTH, ACTIVITY, LEICS)) is None
    assert report_jobs.approved_notes(tmp_path, pd.Timestamp(MONTH), two_forces, LEICS) == {}
    assert report_jobs.approved_notes(tmp_path, pd.Timestamp(MONTH), two_forces) == {
        ("Force Area", "", ACTIVITY): ("Derbyshire's operation.", "Lead Analyst")}  # no force: the first


def test_a_forces_report_prints_its_own_approved_commentary_and_not_a_same_named_areas_of_another(two_forces, tmp_path):
    notes = commentary.for_store(tmp_path, two_forces)
    _approve(notes, Key("Charnwood", "", MONTH, ACTIVITY, LEICS), "Charnwood partnership tasking.")
    _approve(notes, Key("Charnwood", "", MONTH, ACTIVITY, DERBYS), "Not Leicestershire's text.")  # same area name
    approved = report_jobs.approved_notes(tmp_path, pd.Timestamp(MONTH), two_forces, LEICS)
    built = report.build_report(Store(two_forces), pd.Timestamp(MONTH), "pooled", 2.0, 10, notes=approved,
                                with_other_datasets=False, force=LEICS)
    charnwood = next(s for s in built.sections if s.area == "Charnwood")
    assert charnwood.activity == ("Charnwood partnership tasking.", "Lead Analyst")
    assert "Not Leicestershire's text." not in json.dumps([(s.activity, s.commentary) for s in built.sections])


OLD_SCHEMA = """
CREATE TABLE entries (
    area TEXT NOT NULL, measure TEXT NOT NULL, month TEXT NOT NULL, kind TEXT NOT NULL,
    version INTEGER NOT NULL, text TEXT NOT NULL, author TEXT NOT NULL, saved_at TEXT NOT NULL,
    approved_version INTEGER, approved_text TEXT, approved_by TEXT, approved_at TEXT,
    PRIMARY KEY (area, measure, month, kind)
);
CREATE TABLE history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    area TEXT NOT NULL, measure TEXT NOT NULL, month TEXT NOT NULL, kind TEXT NOT NULL,
    version INTEGER NOT NULL, action TEXT NOT NULL, text TEXT NOT NULL, author TEXT NOT NULL, at TEXT NOT NULL
);
CREATE INDEX history_key ON history (area, measure, month, kind);
INSERT INTO entries VALUES ('Force Area', '', '2021-03', 'activity', 1, 'Written before forces.', 'A', 't0',
                            1, 'Written before forces.', 'Lead', 't1');
INSERT INTO history (area, measure, month, kind, version, action, text, author, at)
    VALUES ('Force Area', '', '2021-03', 'activity', 1, 'saved', 'Written before forces.', 'A', 't0');
"""


def test_a_database_from_before_forces_is_migrated_to_the_stores_first_force(two_forces, tmp_path):
    con = sqlite3.connect(tmp_path / commentary.DB_FILE)
    con.executescript(OLD_SCHEMA)
    con.close()
    notes = commentary.for_store(tmp_path, two_forces)
    first = Key("Force Area", "", MONTH, ACTIVITY, DERBYS)
    assert notes.get(first).approved_text == "Written before forces."
    assert [e.text for e in notes.history(first)] == ["Written before forces."]
    assert notes.get(Key("Force Area", "", MONTH, ACTIVITY, LEICS)) is None
    notes.save(Key("Force Area", "", MONTH, ACTIVITY, LEICS), "Leicestershire's own.", "B", base_version=0)
    again = commentary.for_store(tmp_path, two_forces)  # a second open migrates nothing twice
    assert again.get(first).text == "Written before forces."
    assert again.get(Key("Force Area", "", MONTH, ACTIVITY, LEICS)).text == "Leicestershire's own."


def test_a_key_without_a_force_is_refused_naming_it(tmp_path):
    with pytest.raises(commentary.CommentaryError, match="force is required"):
        Commentary(tmp_path, DERBYS).save(Key("Force Area", "", MONTH, ACTIVITY, " "), "t", "A", base_version=0)


# --------------------------------------------------------------------------- through the dashboard


@pytest.fixture(scope="module")
def report_page(two_forces, tmp_path_factory, monkeypatch_module):
    """The real app over the two-force store (Flask's test client), with its own state directory."""
    from dashboard import auth, create_app, state

    held = state._store, auth._CONFIG, state.config
    state_dir = tmp_path_factory.mktemp("two-notes-state")
    monkeypatch_module.setenv("CSP_STATE_DIR", str(state_dir))
    state.config = dataclasses.replace(state.config, state_dir=state_dir)
    app = create_app(two_forces)
    client = app.server.test_client()
    assert client.get("/report").status_code == 200
    yield client, client.get("/_dash-dependencies").get_json(), state_dir
    state._store, auth._CONFIG, state.config = held


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def _editor(client, dependencies, force, trigger, text="", author="", base=0) -> dict:
    dependency = next(d for d in dependencies if "commentary-text.value" in d["output"])
    values = {"report-month.value": MONTH, "commentary-area.value": "Force Area", "commentary-about.value": "__activity__",
              "commentary-kind.value": COMMENTARY, "commentary-text.value": text, "commentary-author.value": author,
              "commentary-version.data": base, "report-force.data": force}

    def items(kind):
        return [{**i, "value": values.get(f"{i['id']}.{i['property']}")} for i in dependency[kind]]

    outputs = [{"id": p.rsplit(".", 1)[0], "property": p.rsplit(".", 1)[1]} for p in dependency["output"][2:-2].split("...")]
    payload = {"output": dependency["output"], "outputs": outputs, "inputs": items("inputs"), "state": items("state"),
               "changedPropIds": [trigger]}
    response = client.post("/_dash-update-component", data=json.dumps(payload), content_type="application/json")
    assert response.status_code == 200, response.data[:300]
    return response.get_json()["response"]


def test_the_report_pages_editor_keeps_each_forces_text_under_that_force(report_page):
    client, dependencies, state_dir = report_page
    saved = _editor(client, dependencies, LEICS, "commentary-save.n_clicks", "Leicestershire's Force Area note.", "A")
    assert "Saved as version 1" in json.dumps(saved)
    notes = Commentary(state_dir, DERBYS)
    assert notes.get(Key("Force Area", "", MONTH, ACTIVITY, LEICS)).text == "Leicestershire's Force Area note."
    assert notes.get(Key("Force Area", "", MONTH, ACTIVITY, DERBYS)) is None
    # The first force's editor (no force chosen: the store's first) shows nothing of Leicestershire's.
    loaded = _editor(client, dependencies, None, "commentary-area.value")
    assert loaded["commentary-text"]["value"] == "" and loaded["commentary-version"]["data"] == 0
    loaded = _editor(client, dependencies, LEICS, "commentary-area.value")
    assert loaded["commentary-text"]["value"] == "Leicestershire's Force Area note."
