"""A store is for a force: another force's rows are refused or kept apart, and never change this force's figures.

Fixtures: the real Derbyshire months of test_import_police_uk, and a cut of police.uk's
national March 2021 (`england-wales-street-2021-03-sample.zip`: every 8th to 20th row,
unchanged, of Derbyshire, Leicestershire, Nottinghamshire, City of London, British
Transport Police and the Police Service of Northern Ireland; 5,359 rows). A
"Leicestershire March 2025" is the Leicestershire rows with their month moved, the case
where a neighbour's file once replaced Derbyshire's whole month.
"""
from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from conftest import REPO, copy_store, run_police_uk_import as run_import
from queries import cli, series
from queries.export import grouped_counts
from queries.importers import police_uk
from queries.store import Store, parquet_source, read_manifest
from queries.store_writer import month_partitions

FIXTURES = Path(__file__).parent / "fixtures" / "police-uk"
MARCH = FIXTURES / "derbyshire-street-2025-03.zip"
MAY = FIXTURES / "derbyshire-street-2025-05.zip"
NATIONAL_SAMPLE = FIXTURES / "england-wales-street-2021-03-sample.zip"
LEICESTERSHIRE_MEMBER = "2021-03/2021-03-leicestershire-street.csv"
LEICESTERSHIRE_ROWS = 1015
SAMPLE_ROWS = 5359
UNKNOWN_LSOA = b"E01999999"

_spec = importlib.util.spec_from_file_location("verify_national_import", REPO / "scripts" / "verify_national_import.py")
verify = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(verify)


def leicestershire_file(tmp_path: Path, month: str) -> Path:
    """Leicestershire Police's real rows (from the national sample), published as `month`."""
    with zipfile.ZipFile(NATIONAL_SAMPLE) as archive:
        text = archive.read(LEICESTERSHIRE_MEMBER)
    path = tmp_path / f"leicestershire-{month}.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{month}/{month}-leicestershire-street.csv", text.replace(b",2021-03,", f",{month},".encode()))
    return path


def force_monthly(data_dir: Path, force: str) -> pd.DataFrame:
    """Every monthly row of one force in the current crime version, read from its partitions directly."""
    folder = data_dir / read_manifest(data_dir)["datasets"]["crime"]
    con = duckdb.connect()
    try:
        frame = con.execute(f"SELECT * FROM {parquet_source(folder / 'monthly.parquet')} WHERE force = ?", [force]).df()
    finally:
        con.close()
    return frame.sort_values(list(frame.columns), ignore_index=True)


def figures(data_dir: Path) -> dict:
    """What the dashboard and exports show for the store's own force: every count, and the months held."""
    store = Store(data_dir)
    return {
        "counts": grouped_counts(store, "crime", ["month", "area", "measure"]),
        "wards": grouped_counts(store, "crime", ["month", "ward", "measure"]),
        "coverage": list(series.coverage(store, "crime").strftime("%Y-%m")),
    }


@pytest.fixture()
def store_a(march_copy) -> Path:
    """Derbyshire's store with its real March, for one test to write into."""
    return march_copy


# --------------------------------------------------------------------------- another force's file


def test_another_forces_file_is_refused_naming_both_forces_and_the_store_is_untouched(store_a, tmp_path):
    manifest = (store_a / "manifest.json").read_text()
    before = figures(store_a)
    code, out, err = run_import(store_a, leicestershire_file(tmp_path, "2025-03"))
    assert code == 2
    assert "Leicestershire Police" in err and "Derbyshire Constabulary" in err and "--allow-other-forces" in err
    assert f"{LEICESTERSHIRE_ROWS:,} of {LEICESTERSHIRE_ROWS:,} rows" in err
    assert (store_a / "manifest.json").read_text() == manifest
    after = figures(store_a)
    for key in before:
        pd.testing.assert_frame_equal(pd.DataFrame(after[key]), pd.DataFrame(before[key]))


@pytest.mark.parametrize("flags", [("--allow-other-forces",), ("--allow-other-forces", "--replace-smaller")])
def test_a_neighbours_month_never_changes_this_forces_figures(store_a, tmp_path, flags):
    """The Leicestershire-January-2023 case: a neighbour's file for a month Derbyshire holds."""
    derbyshire_before = force_monthly(store_a, "derbyshire")
    before = figures(store_a)
    chesterfield = before["counts"].query("month == '2025-03' and area == 'Chesterfield' and measure == 'All crimes'")
    assert int(chesterfield["count"].iat[0]) > 0

    code, out, err = run_import(store_a, leicestershire_file(tmp_path, "2025-03"), extra=flags)
    assert code == 0, err

    pd.testing.assert_frame_equal(force_monthly(store_a, "derbyshire"), derbyshire_before)
    after = figures(store_a)
    for key in before:
        pd.testing.assert_frame_equal(pd.DataFrame(after[key]), pd.DataFrame(before[key]))
    # ... and the neighbour's rows are held, under their own key, with their own reconciliation.
    assert force_monthly(store_a, "leicestershire")["count"].sum() > LEICESTERSHIRE_ROWS  # each row also in "All crimes"
    folder = store_a / read_manifest(store_a)["datasets"]["crime"]
    assert {"derbyshire/2025-03", "leicestershire/2025-03"} <= set(month_partitions(folder / "records.parquet"))
    recon = Store(store_a).query("SELECT * FROM crime_reconciliation WHERE force = 'leicestershire'")
    assert recon[["rows_read", "another_owner"]].sum().tolist() == [LEICESTERSHIRE_ROWS, LEICESTERSHIRE_ROWS]
    assert "other force" in out and "kept as another force's, never in this store's figures: Leicestershire Police 2025-03" in out
    assert "months replaced" not in out  # Derbyshire's March was not replaced


def test_a_neighbours_month_the_store_does_not_hold_stays_a_gap_not_a_zero(store_a, tmp_path):
    before = figures(store_a)
    code, _, err = run_import(store_a, leicestershire_file(tmp_path, "2025-04"), extra=("--allow-other-forces",))
    assert code == 0, err
    assert figures(store_a)["coverage"] == before["coverage"]
    assert "2025-04" not in set(figures(store_a)["counts"]["month"])


def test_reimporting_this_forces_month_keeps_the_neighbours_partition_and_vice_versa(store_a, tmp_path):
    assert run_import(store_a, leicestershire_file(tmp_path, "2025-03"), extra=("--allow-other-forces",))[0] == 0
    leicestershire = force_monthly(store_a, "leicestershire")
    derbyshire = force_monthly(store_a, "derbyshire")
    assert run_import(store_a, MARCH, MAY)[0] == 0  # Derbyshire's March again, and May
    pd.testing.assert_frame_equal(force_monthly(store_a, "leicestershire"), leicestershire)
    march_again = force_monthly(store_a, "derbyshire")
    pd.testing.assert_frame_equal(
        march_again[march_again["month"] == pd.Timestamp("2025-03-01")].reset_index(drop=True),
        derbyshire[derbyshire["month"] == pd.Timestamp("2025-03-01")].reset_index(drop=True))


# --------------------------------------------------------------------------- unknown LSOA codes


def test_an_lsoa_code_no_lookup_knows_is_its_own_reconciliation_column_not_outside_the_area(store_a, tmp_path):
    with zipfile.ZipFile(MARCH) as archive:
        name = archive.namelist()[-1]
        lines = archive.read(name).split(b"\n")
    changed = 0
    for i, line in enumerate(lines[1:], start=1):
        fields = line.split(b",")
        if len(fields) > 7 and fields[7].startswith(b"E01") and changed < 25:
            fields[7] = UNKNOWN_LSOA
            lines[i] = b",".join(fields)
            changed += 1
    path = tmp_path / "unknown.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(name, b"\n".join(lines))
    before = pd.read_csv(store_a / "crime" / police_uk.LAST_RECONCILIATION)
    code, out, err = run_import(store_a, path)
    assert code == 0, err
    after = pd.read_csv(store_a / "crime" / police_uk.LAST_RECONCILIATION)
    assert after["unknown_area"].sum() == changed
    assert after["loaded"].sum() + after["outside_area"].sum() == before["loaded"].sum() + before["outside_area"].sum() - changed
    assert (after[verify.PARTS].sum(axis=1) == after["rows_read"]).all()
    assert "unknown LSOA" in out


# --------------------------------------------------------------------------- a national store


@pytest.fixture(scope="module")
def national_store(tmp_path_factory) -> Path:
    data_dir = verify.make_national_store(tmp_path_factory.mktemp("national") / "store")
    code, _, err = run_import(data_dir, NATIONAL_SAMPLE, extra=("--allow-other-forces",))
    assert code == 0, err
    return data_dir


def test_a_national_store_counts_every_force_and_district_as_a_plain_count_of_the_raw_files(national_store):
    forces = set(pd.read_csv(national_store / "geography" / "forces.csv")["force"])
    assert len(forces) == 43
    plain = verify.plain_counts(NATIONAL_SAMPLE, forces)
    assert plain["rows"] == SAMPLE_ROWS
    assert verify.compare(plain, verify.store_counts(national_store)) == []
    assert len(plain["by_district"]) > 20  # every district of the four territorial forces in the sample


def test_transport_police_and_northern_ireland_are_kept_apart_and_in_no_district(national_store):
    folder = national_store / read_manifest(national_store)["datasets"]["crime"]
    assert {"btp/2021-03", "northern-ireland/2021-03"} <= set(month_partitions(folder / "records.parquet"))
    store = Store(national_store)
    assert set(store.query("SELECT DISTINCT force FROM monthly")["force"]) == {
        "derbyshire", "leicestershire", "nottinghamshire", "city-of-london"}
    recon = store.query("SELECT force, sum(rows_read) AS r, sum(another_owner) AS o FROM crime_reconciliation GROUP BY force")
    recon = recon.set_index("force")
    assert recon.loc["btp", "r"] == recon.loc["btp", "o"] > 0
    assert recon.loc["northern-ireland", "r"] == recon.loc["northern-ireland", "o"] > 0


def test_a_national_store_refuses_the_non_territorial_forces_without_the_flag_naming_both(tmp_path):
    data_dir = verify.make_national_store(tmp_path / "store")
    code, _, err = run_import(data_dir, NATIONAL_SAMPLE)
    assert code == 2
    assert "British Transport Police" in err and "Police Service of Northern Ireland" in err
    assert not (data_dir / "manifest.json").exists() or "crime" not in read_manifest(data_dir).get("datasets", {})


# --------------------------------------------------------------------------- zero is a count


def test_export_counts_writes_every_held_month_area_and_measure_with_zero_where_nothing_was_recorded(store_a):
    assert run_import(store_a, MAY)[0] == 0  # March and May held, April not
    out = store_a.parent / "counts.csv"
    assert cli.main(["export", "counts", "--data-dir", str(store_a), "--out", str(out)]) == 0
    exported = pd.read_csv(out, dtype={"month": str}, comment="#")
    sparse = grouped_counts(Store(store_a), "crime", ["month", "area", "measure"])
    assert set(exported["month"]) == {"2025-03", "2025-05"}  # a month not held stays absent
    months, areas, measures = (exported[c].nunique() for c in ("month", "area", "measure"))
    assert len(exported) == months * areas * measures  # every combination, once
    assert len(exported) > len(sparse) and (exported["count"] == 0).any()
    merged = exported.merge(sparse, on=["month", "area", "measure"], how="left", suffixes=("", "_sparse"))
    assert (merged["count_sparse"].fillna(0) == merged["count"]).all()
    assert {"Chesterfield", "Derby City", "Outside force area"} <= set(exported["area"])


def test_an_empty_falls_within_is_the_files_force_and_an_unknown_one_is_a_rejected_row(store_a, tmp_path):
    with zipfile.ZipFile(MAY) as archive:
        name = [n for n in archive.namelist() if n.endswith(".csv")][0]
        lines = archive.read(name).split(b"\n")
    lines[1] = lines[1].replace(b"Derbyshire Constabulary", b"", 2)  # Reported by and Falls within both empty
    lines[2] = lines[2].replace(b",Derbyshire Constabulary,Derbyshire Constabulary,", b",Derbyshire Constabulary,Atlantis Police,")
    path = tmp_path / "may.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(name, b"\n".join(lines))
    code, out, err = run_import(store_a, path)
    assert code == 0, err
    saved = pd.read_csv(store_a / "crime" / police_uk.LAST_RECONCILIATION)
    assert saved["rejected"].sum() == 1 and saved["another_owner"].sum() == 0
    assert "line 3: Falls within 'Atlantis Police' is not a police force" in out
    folder = store_a / read_manifest(store_a)["datasets"]["crime"]
    con = duckdb.connect()
    forces = con.execute(f"SELECT DISTINCT force FROM {parquet_source(folder / 'records.parquet')}").df()["force"]
    con.close()
    assert set(forces) == {"derbyshire"}
