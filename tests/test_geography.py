"""The area hierarchy comes from data: the national tables, the store's forces and its grouping file."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

from conftest import COUNTY_CSPS, CSPS, RECONCILING_AREAS, REPO, TOP_AREAS
from queries import geography, national
from queries.init_store import InitError, init_store

LEICS_COUNTY = ["Blaby", "Charnwood", "Harborough", "Hinckley and Bosworth", "Melton", "North West Leicestershire",
                "Oadby and Wigston"]


def app(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "app.py", *args], cwd=REPO, capture_output=True, text=True, timeout=120)


@pytest.fixture()
def leics(tmp_path):
    init_store(tmp_path / "leics", ["leicestershire"])
    return tmp_path / "leics"


def test_the_demo_store_reproduces_derbyshires_names_and_report_order():
    own = geography.areas(REPO / "data")
    assert own.force == national.find_force("derbyshire")
    assert own.top_areas == TOP_AREAS
    assert own.reconciling_areas == RECONCILING_AREAS
    assert own.csps == CSPS and own.county_csps == COUNTY_CSPS
    assert own.parent_of("Erewash") == "County Council Area" and own.parent_of("Derby City") == "Derby City"


def test_the_demo_neighbourhoods_come_from_ward_codes_not_names():
    wards = geography.ward_areas(REPO / "data").set_index("ward_code")
    assert len(wards) == 176
    assert wards.loc["E05014690", "neighbourhood"] == "Alfreton Town Centre"  # ward Alfreton, grouped by its code
    assert (wards["force"] == "derbyshire").all()
    ungrouped = wards[wards["neighbourhood"] == wards["ward_name"]]
    assert len(ungrouped) and len(ungrouped) < len(wards)  # a ward in no named group is its own neighbourhood


def test_a_force_with_a_county_and_two_unitaries_lists_the_county_then_the_unitaries(leics):
    own = geography.areas(leics)
    assert own.top_areas == LEICS_COUNTY + ["Leicestershire", "Leicester", "Rutland", geography.FORCE]
    assert own.members("Leicestershire") == LEICS_COUNTY
    assert own.parent_of("Leicester") == "Leicester"  # a unitary is its own total, never in the county's
    assert geography.area_condition("Leicestershire", data_dir=leics) == (
        "force = ? AND parent = ?", ["leicestershire", "Leicestershire"])


def test_the_grouping_file_merges_districts_names_rows_and_takes_effect_without_a_restart(leics):
    before = geography.areas(leics)
    grouping = leics / geography.AREAS_FILE
    time.sleep(0.01)  # a new modification time
    grouping.write_text(
        "key,code,name,ons_name\n"
        "lad_code,E07000131,Harborough and Melton,Harborough\n"
        "lad_code,E07000133,Harborough and Melton,Melton\n"
        "utla_code,E10000018,County Council Area,Leicestershire\n"
        "lad_code,E06000016,Leicester City,Leicester\n"
        "ward_code,E05014676,Loughborough Town,Loughborough Southfields\n"
    )
    after = geography.areas(leics)
    assert after is not before
    assert "Harborough and Melton" in after.csps and "Melton" not in after.csps
    assert after.members("County Council Area") == sorted(
        ["Blaby", "Charnwood", "Harborough and Melton", "Hinckley and Bosworth", "North West Leicestershire",
         "Oadby and Wigston"])
    assert after.unitaries == ["Leicester City", "Rutland"]
    wards = after.wards.set_index("ward_code")
    assert wards.loc["E05014676", ["neighbourhood", "csp"]].tolist() == ["Loughborough Town", "Charnwood"]


@pytest.mark.parametrize("rows, message", [
    ("lad_name,Blaby,Blaby Town\n", "key 'lad_name' is not one of lad_code, utla_code, ward_code"),
    ("lad_code,E07000032,Amber Valley\n", "lad_code E07000032 is not in the area of Leicestershire Police"),
    ("ward_code,E05014676,\n", "ward_code E05014676 has no name"),
    ("utla_code,E10000018,Blaby\n", "'Blaby' names both a county and a CSP"),
])
def test_a_bad_grouping_file_is_refused_naming_the_file_and_the_row(leics, rows, message):
    (leics / geography.AREAS_FILE).write_text("key,code,name\n" + rows)
    with pytest.raises(geography.GroupingError, match=message) as info:
        geography.areas(leics)
    assert geography.AREAS_FILE in str(info.value)


def test_init_keeps_a_stores_forces_and_refuses_a_non_territorial_one(leics, tmp_path):
    assert init_store(leics, ["Leicestershire Police"]) == []  # the same force again: nothing changes
    with pytest.raises(InitError, match="already names leicestershire"):
        init_store(leics, ["derbyshire"])
    with pytest.raises(InitError, match="not a territorial police force"):
        init_store(tmp_path / "btp", ["btp"])
    with pytest.raises(national.UnknownForce, match="leicestershire"):
        init_store(tmp_path / "x", ["Leicestershire Constabulary"])


def test_importing_into_a_directory_that_is_not_a_store_says_what_to_run(tmp_path):
    fixture = REPO / "tests" / "fixtures" / "police-uk" / "leicestershire-street-2021-03.zip"
    missing = app("import", "police-uk", str(fixture), "--data-dir", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    assert "python app.py init --force SLUG" in missing.stderr and "Traceback" not in missing.stderr
    (tmp_path / "bare").mkdir()
    bare = app("import", "police-uk", str(fixture), "--data-dir", str(tmp_path / "bare"))
    assert bare.returncode == 2 and "names no police force" in bare.stderr and "Traceback" not in bare.stderr
    made = app("init", "--force", "leicestershire", "--data-dir", str(tmp_path / "bare"))
    assert made.returncode == 0 and "next: python app.py import police-uk" in made.stdout
