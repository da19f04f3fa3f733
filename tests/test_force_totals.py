"""Totals across the forces of a store of several: each force, each region held whole, all forces.

Checked against a plain count of the raw police.uk files (csv + the national table), and the
rule that a month one force does not hold leaves every total it is part of empty, not short.
"""
from __future__ import annotations

import csv
import io
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from queries import cli, init_store, national, series
from queries.store import Store

SAMPLE = Path(__file__).parent / "fixtures" / "police-uk" / "england-wales-street-2021-03-sample.zip"
HEADER = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,"
          "Last outcome category,Context")
EAST_MIDLANDS = ["derbyshire", "leicestershire", "lincolnshire", "northamptonshire", "nottinghamshire"]
ASB = "Anti-social behaviour"


def _run(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    old = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        code = cli.main(list(argv))
    finally:
        sys.stdout, sys.stderr = old
    return code, out.getvalue() + err.getvalue()


def _plain_all_crimes(paths: list[Path]) -> dict[str, int]:
    """Rows per "Falls within" that are crimes (not ASB), counted straight from the files."""
    counts: dict[str, int] = {}
    for path in paths:
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                if name.endswith(".csv"):
                    for row in csv.DictReader(io.TextIOWrapper(archive.open(name), encoding="utf-8")):
                        if row["Crime type"] != ASB:
                            counts[row["Falls within"]] = counts.get(row["Falls within"], 0) + 1
    return counts


def _small_file(tmp_path: Path, slug: str, rows: int) -> Path:
    """A few rows of a force not in the sample, in police.uk's format, in LSOAs of its own districts."""
    force = national.find_force(slug)
    lads = set(national.districts_of([slug])["lad_code"])
    lsoas = national.lsoas()
    lsoa = lsoas[lsoas["lad_code"].isin(lads) & (lsoas["lsoa_vintage"] == "2021")].iloc[0]
    lines = [HEADER] + [f"id-{slug}-{i},2021-03,{force.name},{force.name},-1.0,52.0,On or near Somewhere,"
                        f"{lsoa['lsoa_code']},{lsoa['lsoa_name']},Burglary,,"
                        for i in range(rows)]
    path = tmp_path / f"{slug}-2021-03.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"2021-03/2021-03-{slug}-street.csv", "\n".join(lines) + "\n")
    return path


def test_a_force_that_does_not_hold_the_month_leaves_its_region_and_the_total_empty(tmp_path):
    data_dir = tmp_path / "store"
    init_store.init_store(data_dir, EAST_MIDLANDS)
    code, out = _run("import", "police-uk", str(SAMPLE), "--data-dir", str(data_dir), "--no-progress",
                     "--allow-other-forces")
    assert code == 0, out
    table = series.force_totals(Store(data_dir), "crime", "All crimes").set_index("month")
    march = table.loc[pd.Timestamp("2021-03-01")]
    plain = _plain_all_crimes([SAMPLE])
    assert march["Derbyshire Constabulary"] == plain["Derbyshire Constabulary"]
    assert march["Leicestershire Police"] == plain["Leicestershire Police"]
    assert pd.isna(march["Lincolnshire Police"])  # not held: a gap, not a zero
    assert pd.isna(march["East Midlands (region)"]) and pd.isna(march[series.ALL_FORCES])


def test_a_region_held_whole_totals_its_forces_as_a_plain_count_of_the_files(tmp_path):
    data_dir = tmp_path / "store"
    init_store.init_store(data_dir, EAST_MIDLANDS)
    files = [SAMPLE, _small_file(tmp_path, "lincolnshire", 7), _small_file(tmp_path, "northamptonshire", 3)]
    for path in files:
        code, out = _run("import", "police-uk", str(path), "--data-dir", str(data_dir), "--no-progress",
                         "--allow-other-forces")
        assert code == 0, out
    out_file = tmp_path / "totals.csv"
    code, out = _run("export", "totals", "--data-dir", str(data_dir), "--out", str(out_file))
    assert code == 0, out
    table = pd.read_csv(out_file).set_index("month")
    plain = _plain_all_crimes(files)
    names = [national.find_force(s).name for s in EAST_MIDLANDS]
    for name in names:
        assert table.loc["2021-03", name] == plain[name]
    expected = sum(plain[name] for name in names)  # BTP, PSNI and the City of London are other forces' rows
    assert table.loc["2021-03", "East Midlands (region)"] == expected
    assert table.loc["2021-03", series.ALL_FORCES] == expected
    assert list(table.columns) == names + ["East Midlands (region)", series.ALL_FORCES]
