"""`python app.py import police-uk`: real police.uk months in, every row accounted for.

The fixtures are three real months cut unchanged from police.uk downloads (Derbyshire
Constabulary, Open Government Licence): 2025-03 and 2025-05 (2021 LSOA codes, LF line
ends) and 2014-01 (2011 LSOA codes, CRLF line ends); each holds anti-social behaviour rows
(no Crime ID) and rows in LSOAs outside the force area. Bad input is made by breaking
those files the way real files break. The plain pandas count the store is compared with
is scripts/verify_police_uk.py's, which shares no code with the importer.
"""
from __future__ import annotations

import importlib.util
import io
import os
import signal
import subprocess
import sys
import threading
import time
import zipfile
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from conftest import REPO, copy_store, run_police_uk_import as run_import
from conftest import COUNTY, CITY
from queries import cli, geography, series, store_writer
from queries.export import grouped_counts
from queries.importers import common, police_uk
from queries.measures import ALL_CRIME, ASB, POLICE_UK_TYPES
from queries.store import Store

FIXTURES = Path(__file__).parent / "fixtures" / "police-uk"
MARCH = FIXTURES / "derbyshire-street-2025-03.zip"
MAY = FIXTURES / "derbyshire-street-2025-05.zip"
JAN_2014 = FIXTURES / "derbyshire-street-2014-01.zip"
MARCH_MEMBER = "2025-03/2025-03-derbyshire-street.csv"
MARCH_ROWS = 9162
MIN_WARD_SHARE = 0.99
CRASH_COPIES = 40  # the March rows repeated: an import long enough to be killed mid-write

_spec = importlib.util.spec_from_file_location("verify_police_uk", REPO / "scripts" / "verify_police_uk.py")
verify = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(verify)


# --------------------------------------------------------------------------- helpers


def store_counts(data_dir: Path) -> pd.DataFrame:
    return grouped_counts(Store(data_dir), "crime", ["month", "area", "measure"])


def snapshot(data_dir: Path) -> tuple[str, pd.DataFrame]:
    """The manifest text and every count the store gives: equal snapshots mean an untouched store."""
    return (data_dir / "manifest.json").read_text(), store_counts(data_dir)


def assert_unchanged(data_dir: Path, before: tuple[str, pd.DataFrame]) -> None:
    manifest, counts = snapshot(data_dir)
    assert manifest == before[0]
    pd.testing.assert_frame_equal(counts, before[1])
    assert not list((data_dir / "crime").glob(".staging-*")), "a staging folder was left behind"


def march_lines() -> list[bytes]:
    with zipfile.ZipFile(MARCH) as archive:
        return archive.read(MARCH_MEMBER).split(b"\n")


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def broken_march(tmp_path: Path, lines: list[bytes], member: str = MARCH_MEMBER) -> Path:
    return write_zip(tmp_path / "broken-2025-03.zip", {member: b"\n".join(lines)})


@pytest.fixture()
def previous(march_copy) -> Path:
    """A private copy of the March store for one test to write into."""
    return march_copy


# --------------------------------------------------------------------------- what goes in


def test_reconciliation_adds_up_for_every_file_and_month(tmp_data_dir):
    code, out, err = run_import(tmp_data_dir, MARCH, MAY, JAN_2014)
    assert code == 0, err
    saved = pd.read_csv(tmp_data_dir / "crime" / police_uk.LAST_RECONCILIATION)
    parts = saved[["loaded", "outside_area", "unallocated", "rejected"]].sum(axis=1)
    assert (parts == saved["rows_read"]).all()
    raw = verify.read_raw([MARCH, MAY, JAN_2014])
    assert saved.groupby("file")["rows_read"].sum().to_dict() == raw.groupby("file").size().to_dict()
    assert sorted(saved["month"]) == ["2014-01", "2025-03", "2025-05"]
    assert saved["outside_area"].gt(0).all(), "each fixture month has rows outside the force area"
    stored = Store(tmp_data_dir).query("SELECT sum(rows_read) AS r, sum(loaded + outside_area + unallocated + rejected) AS p "
                                       "FROM crime_reconciliation")
    assert stored["r"].iat[0] == stored["p"].iat[0] == len(raw)
    assert f"{len(raw):,}" in out and "TOTAL" in out


def test_store_counts_equal_a_plain_pandas_count_of_the_raw_csv(tmp_data_dir):
    code, _, err = run_import(tmp_data_dir, MARCH, MAY, JAN_2014)
    assert code == 0, err
    raw = verify.read_raw([MARCH, MAY, JAN_2014])
    expected = verify.pandas_counts(raw, tmp_data_dir)
    assert len(verify.compare(store_counts(tmp_data_dir), expected)) == 0
    # and through the command line's export, as an officer would get it
    out_csv = tmp_data_dir.parent / "counts.csv"
    assert cli.main(["export", "counts", "--by", "month,area,measure", "--data-dir", str(tmp_data_dir),
                     "--out", str(out_csv)]) == 0
    exported = pd.read_csv(out_csv, dtype={"month": str})
    assert len(verify.compare(exported, expected)) == 0
    assert set(exported["measure"]) == set(POLICE_UK_TYPES) | {ALL_CRIME}


def test_at_least_99_percent_of_in_force_rows_get_a_ward_in_both_lsoa_vintages(tmp_data_dir):
    code, _, err = run_import(tmp_data_dir, MARCH, JAN_2014)  # 2021 and 2011 LSOA codes
    assert code == 0, err
    shares = Store(tmp_data_dir).query(
        """SELECT strftime(month, '%Y-%m') AS month,
                  count(*) FILTER (WHERE ward_code IS NOT NULL) / count(*) FILTER (WHERE location <> ?) AS share,
                  count(*) FILTER (WHERE location = ?) AS outside
           FROM crime_records GROUP BY ALL""",
        [geography.OUTSIDE_AREA, geography.OUTSIDE_AREA],
    ).set_index("month")
    assert (shares["share"] >= MIN_WARD_SHARE).all(), shares
    assert shares.loc["2014-01", "outside"] == 22 and shares.loc["2025-03", "outside"] == 121


def test_anti_social_behaviour_rows_get_a_stable_id_from_file_and_line(tmp_data_dir):
    code, _, err = run_import(tmp_data_dir, MARCH)
    assert code == 0, err
    records = pd.read_parquet(Store(tmp_data_dir).datasets["crime"] / "records.parquet")
    asb = records[records["measure"] == ASB]
    assert len(asb) == sum(b",Anti-social behaviour," in line for line in march_lines())
    assert asb["record_id"].is_unique
    assert asb["record_id"].str.fullmatch(r"2025-03-derbyshire-street\.csv:\d+").all()
    # the id's line is the physical line: it points at that very row
    line = int(asb["record_id"].iat[0].rsplit(":", 1)[1])
    assert b"Anti-social behaviour" in march_lines()[line - 1]
    assert (records.loc[records["measure"] != ASB, "record_id"].str.len() == 64).all()  # police.uk's Crime IDs kept
    assert set(records["source_category"]) == set(POLICE_UK_TYPES)
    assert {"lsoa_code", "outcome", "street", "longitude", "latitude"} <= set(records.columns)


def test_reimporting_a_month_replaces_it_without_duplicates(previous):
    before = store_counts(previous)
    code, out, err = run_import(previous, MARCH)
    assert code == 0, err
    assert "months replaced" in out and "2025-03" in out
    pd.testing.assert_frame_equal(store_counts(previous), before)
    records = pd.read_parquet(Store(previous).datasets["crime"] / "records.parquet")
    assert len(records) == MARCH_ROWS


def test_the_same_month_given_twice_in_one_import_is_read_once(tmp_data_dir, tmp_path):
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(MARCH) as archive:
        archive.extractall(unpacked)
    code, out, err = run_import(tmp_data_dir, MARCH, unpacked)
    assert code == 0, err
    assert "skipped, the same month is in" in out
    assert len(pd.read_parquet(Store(tmp_data_dir).datasets["crime"] / "records.parquet")) == MARCH_ROWS


def test_an_unpacked_folder_and_a_single_csv_import_like_the_zip(previous, tmp_path):
    before = store_counts(previous)
    with zipfile.ZipFile(MARCH) as archive:
        archive.extractall(tmp_path / "unpacked")
    for path in (tmp_path / "unpacked", tmp_path / "unpacked" / MARCH_MEMBER):
        code, _, err = run_import(previous, path)
        assert code == 0, err
        pd.testing.assert_frame_equal(store_counts(previous), before)


def test_a_later_archive_adds_months_and_keeps_the_earlier_ones(previous):
    march = store_counts(previous)
    code, out, err = run_import(previous, MAY)
    assert code == 0, err
    assert "months added: 2025-05" in out
    counts = store_counts(previous)
    pd.testing.assert_frame_equal(counts[counts["month"] == "2025-03"].reset_index(drop=True), march)
    assert set(counts["month"]) == {"2025-03", "2025-05"}


def test_a_real_import_replaces_the_synthetic_demo_entirely(tmp_data_dir):
    demo = Store(tmp_data_dir)
    assert demo.is_synthetic("crime")
    fire_before = grouped_counts(demo, "fire", ["month", "area"])
    code, out, err = run_import(tmp_data_dir, MARCH)
    assert code == 0, err
    assert "SYNTHETIC demo crime data: this import replaced it entirely" in out
    store = Store(tmp_data_dir)
    assert not store.is_synthetic("crime")
    assert list(series.coverage(store, "crime").strftime("%Y-%m")) == ["2025-03"]
    assert store.query("SELECT count(*) AS n FROM crime_records WHERE record_id LIKE 'DEMO-%'")["n"].iat[0] == 0
    assert store.query("SELECT count(*) AS n FROM crime_reconciliation")["n"].iat[0] == 1  # demo's row is gone too
    assert store.is_synthetic("fire")
    pd.testing.assert_frame_equal(grouped_counts(store, "fire", ["month", "area"]), fire_before)


# --------------------------------------------------------------------------- gaps


def test_a_missing_month_is_a_gap_not_a_zero_and_rolling_12_says_it_is_incomplete(tmp_data_dir):
    code, _, err = run_import(tmp_data_dir, MARCH, MAY)  # April missing, as in real downloads
    assert code == 0, err
    store = Store(tmp_data_dir)
    counts = series.monthly_counts(store, "crime", geography.FORCE, ALL_CRIME)
    assert counts.index.strftime("%Y-%m").tolist() == ["2025-03", "2025-04", "2025-05"]
    assert counts.iloc[0] > 0 and pd.isna(counts.iloc[1]) and counts.iloc[2] > 0
    table = series.rolling_12(store, "crime", ALL_CRIME, pd.Timestamp("2025-05-01"))
    assert table["Numerical Change"].isna().all() and table["% Change"].isna().all()
    assert table.attrs["note"].startswith("Incomplete")
    # the force total still reconciles with the raw rows: County + City + outside + unallocated
    force = table.set_index("Area").iloc[:, 1]
    parts = force[[COUNTY, CITY, geography.OUTSIDE, geography.UNALLOCATED]].sum()
    assert force[geography.FORCE] == parts == counts.iloc[0] + counts.iloc[2]


def test_a_month_published_with_no_rows_counts_as_held_with_zero(tmp_data_dir, tmp_path):
    header = march_lines()[0]
    empty_april = write_zip(tmp_path / "april.zip", {"2025-04/2025-04-derbyshire-street.csv": header + b"\n"})
    code, out, err = run_import(tmp_data_dir, MARCH, empty_april, MAY)
    assert code == 0, err
    counts = series.monthly_counts(Store(tmp_data_dir), "crime", geography.FORCE, ALL_CRIME)
    assert counts.loc["2025-04-01"] == 0


# --------------------------------------------------------------------------- groups


GROUPS = {
    "Violence and sexual offences": "Violence",
    "Robbery": "Violence",
    "Possession of weapons": "Violence",
    "Burglary": "Acquisitive",
    "Bicycle theft": "Acquisitive",
    "Other theft": "Acquisitive",
    "Shoplifting": "Acquisitive",
    "Theft from the person": "Acquisitive",
    "Vehicle crime": "Acquisitive",
    "Criminal damage and arson": "Criminal damage and arson",
    "Drugs": "Other",
    "Other crime": "Other",
    "Public order": "Other",
}


def write_groups(path: Path, mapping: dict[str, str]) -> Path:
    pd.DataFrame({"police_uk_type": list(mapping), "group": list(mapping.values())}).to_csv(path, index=False)
    return path


def test_a_groups_file_counts_categories_under_reporting_groups_and_keeps_the_original(tmp_data_dir, tmp_path):
    groups = write_groups(tmp_path / "groups.csv", GROUPS)
    code, _, err = run_import(tmp_data_dir, MARCH, extra=("--groups", str(groups)))
    assert code == 0, err
    counts = store_counts(tmp_data_dir)
    assert set(counts["measure"]) == {"Violence", "Acquisitive", "Criminal damage and arson", "Other", ASB, ALL_CRIME}
    raw = verify.read_raw([MARCH])
    grouped = raw["Crime type"].map(GROUPS).value_counts()
    totals = counts.groupby("measure")["count"].sum()
    for group, n in grouped.items():
        assert totals[group] == n
    assert totals[ALL_CRIME] == (raw["Crime type"] != ASB).sum()
    records = pd.read_parquet(Store(tmp_data_dir).datasets["crime"] / "records.parquet")
    assert set(records["source_category"]) == set(POLICE_UK_TYPES)


def test_the_shipped_example_groups_file_covers_every_police_uk_type():
    mapping = police_uk.read_groups(FIXTURES / "groups-example.csv")
    assert set(mapping) >= {t.lower() for t in POLICE_UK_TYPES if t != ASB}


@pytest.mark.parametrize(
    "mapping, message",
    [
        ({k: v for k, v in GROUPS.items() if k != "Drugs"}, "no group for 'Drugs'"),
        ({**GROUPS, ASB: "Disorder"}, "Anti-social behaviour is a separate measure"),
        ({**GROUPS, "Drugs": ALL_CRIME}, "reserved"),
    ],
)
def test_a_groups_file_that_would_miscount_is_refused_and_the_store_kept(previous, tmp_path, mapping, message):
    before = snapshot(previous)
    groups = write_groups(tmp_path / "groups.csv", mapping)
    code, _, err = run_import(previous, MARCH, extra=("--groups", str(groups)))
    assert code == 2
    assert message in err and str(groups) in err
    assert_unchanged(previous, before)


# --------------------------------------------------------------------------- bad input


def _bad_header(lines):
    return [lines[0].replace(b"Crime type", b"Crime category")] + lines[1:]


def _no_header(lines):
    return lines[1:]


def _cp1252(lines):
    # A spreadsheet re-save in Windows-1252: an accented street name on line 58.
    lines = list(lines)
    lines[57] = lines[57].replace(b"On or near", "On or near Caf\u00e9".encode("cp1252"), 1)
    return lines


FILE_LEVEL = {
    "bad header": (lambda tmp: broken_march(tmp, _bad_header(march_lines())),
                   ["line 1", "missing 'Crime type'", "unexpected 'Crime category'"]),
    "missing header": (lambda tmp: broken_march(tmp, _no_header(march_lines())),
                       ["line 1", "not the police.uk street-level header"]),
    "not utf-8": (lambda tmp: broken_march(tmp, _cp1252(march_lines())),
                  ["line 58", "not UTF-8", "byte e9"]),
    "empty file": (lambda tmp: write_zip(tmp / "broken-2025-03.zip", {MARCH_MEMBER: b""}),
                   ["the file is empty"]),
    "zip without street files": (
        lambda tmp: write_zip(tmp / "broken-2025-03.zip",
                              {"2025-03/2025-03-derbyshire-outcomes.csv": b"Crime ID,Month\n"}),
        ["holds no police.uk street files", "2025-03-derbyshire-outcomes.csv"]),
    "renamed month": (lambda tmp: broken_march(tmp, march_lines(), member="2025-04/2025-04-derbyshire-street.csv"),
                      ["rows cannot be read", "does not match the file's month 2025-04"]),
    "unclosed quote": (lambda tmp: broken_march(tmp, [l.replace(b"On or near", b'"On or near') if i == 99 else l
                                                      for i, l in enumerate(march_lines())]),
                       ["line 100", "never closed"]),
}


@pytest.mark.parametrize("case", list(FILE_LEVEL))
def test_a_whole_file_problem_stops_the_import_names_the_file_and_keeps_the_store(previous, tmp_path, case):
    make, expected = FILE_LEVEL[case]
    before = snapshot(previous)
    path = make(tmp_path)
    code, out, err = run_import(previous, path)
    assert code == 2
    assert path.name in err, err
    for text in expected:
        assert text in err, err
    assert "The store was not changed" in err
    assert_unchanged(previous, before)


def test_one_bad_file_stops_the_whole_import_even_with_good_files(previous, tmp_path):
    before = snapshot(previous)
    code, _, err = run_import(previous, MAY, broken_march(tmp_path, _no_header(march_lines())))
    assert code == 2 and "broken-2025-03.zip" in err
    assert_unchanged(previous, before)


def test_bad_rows_are_quarantined_with_file_line_reason_and_raw_text_and_nothing_is_lost(previous, tmp_path):
    lines = march_lines()
    originals = {}
    for number, change in {
        101: lambda l: l[: len(l) // 2],  # truncated line: fewer fields
        201: lambda l: l.replace(b",2025-03,", b",March 2025,"),  # unparseable Month
        301: lambda l: l.replace(b",2025-03,", b",2025-04,"),  # Month not the file's month
        401: lambda l: l.replace(b",2025-03,", b",,"),  # no Month at all
    }.items():
        lines[number - 1] = change(lines[number - 1])
        originals[number] = lines[number - 1].decode()
    body = b"\n".join(lines).rstrip(b"\n")
    cut = body[: body.rfind(b",", 0, len(body) - 30)]  # the download stopped mid-way through the last line
    path = write_zip(tmp_path / "broken-2025-03.zip", {MARCH_MEMBER: cut})
    last_line = MARCH_ROWS + 1
    originals[last_line] = cut.rsplit(b"\n", 1)[1].decode()

    code, out, err = run_import(previous, path)
    assert code == 0, err
    quarantine = pd.read_csv(previous / "crime" / "quarantine.csv", dtype={"line": int}, keep_default_na=False)
    mine = quarantine[quarantine["file"].str.startswith("broken-2025-03.zip")].set_index("line")
    assert sorted(mine.index) == sorted(originals)
    for number, raw in originals.items():
        assert mine.loc[number, "raw"] == raw
    reasons = mine["reason"].to_dict()
    assert "fields, expected 12" in reasons[101] and "fields, expected 12" in reasons[last_line]
    assert "'March 2025' is not a month" in reasons[201]
    assert "2025-04 does not match the file's month 2025-03" in reasons[301]
    assert reasons[401] == "Month is empty"
    for number in originals:
        assert f"line {number}:" in out
    saved = pd.read_csv(previous / "crime" / police_uk.LAST_RECONCILIATION)
    assert saved["rows_read"].sum() == MARCH_ROWS
    assert saved["rejected"].sum() == len(originals)
    assert saved[["loaded", "outside_area", "unallocated", "rejected"]].sum(axis=1).eq(saved["rows_read"]).all()
    records = Store(previous).query("SELECT count(*) AS n FROM crime_records")["n"].iat[0]
    assert records == MARCH_ROWS - len(originals)
    assert Store(previous).query("SELECT count(*) AS n FROM crime_rejected")["n"].iat[0] == len(originals)


def test_blank_lines_are_not_rows_and_are_reported(previous, tmp_path):
    lines = march_lines()
    path = broken_march(tmp_path, lines[:500] + [b""] + lines[500:] + [b"", b""])
    code, out, err = run_import(previous, path)
    assert code == 0, err
    assert "blank line(s) ignored" in out
    assert pd.read_csv(previous / "crime" / police_uk.LAST_RECONCILIATION)["rows_read"].sum() == MARCH_ROWS
    # lines after the blank one keep their physical numbers
    records = pd.read_parquet(Store(previous).datasets["crime"] / "records.parquet")
    numbered = records[records["record_id"].str.contains(":")]
    line = int(numbered["record_id"].iat[-1].rsplit(":", 1)[1])
    assert b"Anti-social behaviour" in (lines[:500] + [b""] + lines[500:])[line - 1]


# --------------------------------------------------------------------------- failure mid-way


def test_figures_that_do_not_add_up_are_refused_before_anything_is_written(previous):
    before = snapshot(previous)
    files, _, _ = police_uk.discover([MAY])
    parsed = police_uk.read_street_file(files[0], police_uk.Progress(1, "", enabled=False))
    lookup = geography.lsoa_lookup(previous)
    result = police_uk.classify_file(parsed, dict(zip(lookup["lsoa_code"], lookup["ward_code"])), None)
    wrong = result.reconciliation.assign(rows_read=result.reconciliation["rows_read"] + 1)  # one row unaccounted for
    with pytest.raises(common.ImportError_, match="rows read"):
        common.publish_import(previous, "crime", result.records.to_pandas(), result.rejected[common.REJECTED_COLUMNS],
                              wrong, "test")
    assert_unchanged(previous, before)


def test_killing_the_import_mid_write_leaves_the_old_store_usable(previous, tmp_path):
    before = snapshot(previous)
    lines = march_lines()
    body = b"\n".join(lines[1:]).rstrip(b"\n") + b"\n"
    big = tmp_path / "2025-05-derbyshire-street.csv"
    big.write_bytes(lines[0] + b"\n" + body.replace(b",2025-03,", b",2025-05,") * CRASH_COPIES)
    proc = subprocess.Popen(
        [sys.executable, "app.py", "import", "police-uk", str(big), "--data-dir", str(previous), "--no-progress"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    deadline = time.time() + 60
    staged = []
    while time.time() < deadline and proc.poll() is None and not staged:
        staged = list((previous / "crime").glob(".staging-*"))
        time.sleep(0.005)
    assert staged, f"the import ended before it began writing: {proc.communicate()}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    manifest, counts = snapshot(previous)
    assert manifest == before[0]
    pd.testing.assert_frame_equal(counts, before[1])
    # the next import still works and clears the debris
    code, _, err = run_import(previous, MAY)
    assert code == 0, err
    assert not list((previous / "crime").glob(".staging-*"))
    assert set(store_counts(previous)["month"]) == {"2025-03", "2025-05"}


# --------------------------------------------------------------------------- command line and progress


def test_the_command_line_prints_the_table_and_one_progress_line_without_a_terminal(tmp_data_dir):
    done = subprocess.run(
        [sys.executable, "app.py", "import", "police-uk", str(MARCH), "--data-dir", str(tmp_data_dir)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "rows read" in done.stdout and "9,162" in done.stdout
    progress = [l for l in done.stderr.splitlines() if l.startswith("reading police.uk files")]
    assert len(progress) == 1 and "100%" in progress[0]
    assert "\r" not in done.stderr


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_redraws_in_place_on_a_terminal_and_prints_few_lines_in_a_log():
    log = io.StringIO()
    bar = police_uk.Progress(1000, "reading", stream=log, min_seconds=0)  # as if every update came late enough
    for _ in range(1000):
        bar.update(1)
    bar.close()
    lines = log.getvalue().splitlines()
    assert len(lines) <= 1 / police_uk.PROGRESS_STEP + 1 and "100%" in lines[-1]
    terminal = _Terminal()
    bar = police_uk.Progress(10, "reading", stream=terminal)
    bar.close()
    assert terminal.getvalue().startswith("\r") and terminal.getvalue().count("\n") == 1


def test_a_path_that_is_neither_zip_folder_nor_csv_is_named(previous, tmp_path):
    before = snapshot(previous)
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    code, _, err = run_import(previous, other, tmp_path / "missing.zip")
    assert code == 2
    assert "notes.txt: not a zip archive, a folder or a .csv file" in err
    assert "missing.zip: no such file or folder" in err
    assert_unchanged(previous, before)


# --------------------------------------------------------------------------- streaming


STREAM_BLOCK = 64 << 10  # March's 2 MB in about thirty blocks


def _march_with_bad_rows_throughout(tmp_path: Path) -> Path:
    """March with malformed, misdated and blank lines spread over the file, so they land in different blocks."""
    lines = march_lines()
    for number in (101, 4001, 9001):
        lines[number - 1] = lines[number - 1][: len(lines[number - 1]) // 2]
    for number in (2001, 7001):
        lines[number - 1] = lines[number - 1].replace(b",2025-03,", b",2025-04,")
    return broken_march(tmp_path, lines[:6000] + [b""] + lines[6000:])


def _version_tables(data_dir: Path) -> dict[str, pd.DataFrame]:
    """Every table of the crime version, in a fixed order (row order within a partition means nothing)."""
    folder = Store(data_dir).datasets["crime"]
    tables = {}
    for name, key in (("records", None), ("monthly", None), ("reconciliation", None), ("rejected", "line")):
        frame = pd.read_parquet(folder / f"{name}.parquet")
        frame = frame[sorted(frame.columns)].astype(str)
        tables[name] = frame.sort_values(key or list(frame.columns), ignore_index=True)
    if (folder / "quarantine.csv").exists():  # written only when some row was rejected
        tables["quarantine"] = pd.read_csv(folder / "quarantine.csv", dtype=str).sort_values("line", ignore_index=True)
    return tables


def test_files_read_two_at_a_time_give_the_store_of_files_read_one_at_a_time(tmp_path, monkeypatch):
    """STREAM_THREADS files are read and classified at once; what is stored is the same, row for row."""
    stores = {}
    for threads in (1, police_uk.STREAM_THREADS):
        monkeypatch.setattr(police_uk, "STREAM_THREADS", threads)
        stores[threads] = copy_store(tmp_path / f"threads-{threads}")
        assert police_uk.run_import([MARCH, MAY, JAN_2014], stores[threads], progress=False, out=io.StringIO(),
                                    block_size=STREAM_BLOCK) == 0
    one, many = (_version_tables(stores[t]) for t in stores)
    assert len(one["records"]) > 2 * MARCH_ROWS
    for name in one:
        pd.testing.assert_frame_equal(one[name], many[name], obj=name)


def test_a_file_in_flight_stops_at_its_next_block_once_the_import_unwinds(tmp_path):
    """Another file's failure or Ctrl-C sets the import's stop: a file being read on another thread
    stops at its next block (writing nothing more) instead of reading on to its end."""
    files, _, _ = police_uk.discover([MARCH])
    stop = threading.Event()
    stop.set()
    spool = tmp_path / "spool"
    with pytest.raises(police_uk.StreamStopped, match="2025-03-derbyshire-street.csv"):
        police_uk.stream_file(files[0], police_uk.Placement.for_store(REPO / "data"), None,
                              police_uk.Progress(1, "", enabled=False), spool, STREAM_BLOCK, stop=stop)
    assert not list(spool.rglob("*.parquet"))


def test_a_file_is_spooled_block_by_block_and_gives_the_store_of_the_file_read_whole(tmp_path):
    path = _march_with_bad_rows_throughout(tmp_path)
    files, _, _ = police_uk.discover([path])
    placement = police_uk.Placement.for_store(REPO / "data")
    spool = tmp_path / "spool"
    result = police_uk.stream_file(files[0], placement, None, police_uk.Progress(1, "", enabled=False), spool,
                                   STREAM_BLOCK)
    parts = sorted(spool.glob("force=derbyshire/ym=2025-03/*.parquet"))
    assert len(parts) > common.SPOOL_PARTS_KEPT, "the file was not spooled block by block"
    assert sum(pd.read_parquet(p).shape[0] for p in parts) == result.reconciliation["loaded"].sum() + \
        result.reconciliation[["outside_area", "another_owner", "unknown_area", "unallocated"]].sum().sum()
    assert result.reconciliation["rows_read"].sum() == MARCH_ROWS  # the blank line is not a row
    assert result.blank_lines == 1
    physical = [101, 2001, 4001, 7001 + 1, 9001 + 1]  # lines after the blank one are one further down
    assert sorted(result.rejected["line"]) == physical
    with zipfile.ZipFile(path) as archive:
        text = archive.read(MARCH_MEMBER).decode().split("\n")
    assert result.rejected.set_index("line")["raw"].to_dict() == {n: text[n - 1] for n in physical}

    whole, streamed = copy_store(tmp_path / "whole"), copy_store(tmp_path / "streamed")
    killed = streamed / "crime" / ".spool-0123456789ab" / "00000"  # what an import killed mid-read leaves
    killed.mkdir(parents=True)
    (killed / "part-000000.parquet").write_bytes(b"half")
    assert police_uk.run_import([path], whole, progress=False, out=io.StringIO()) == 0
    assert police_uk.run_import([path], streamed, progress=False, out=io.StringIO(), block_size=STREAM_BLOCK) == 0
    one, many = _version_tables(whole), _version_tables(streamed)
    for name in one:
        pd.testing.assert_frame_equal(one[name], many[name], obj=name)
    assert not list((streamed / "crime").glob(".spool-*")), "a spool was left behind"


def test_a_whole_stores_monthly_table_built_a_slice_at_a_time_equals_one_built_at_once(tmp_path, monkeypatch):
    at_once, sliced = copy_store(tmp_path / "at-once"), copy_store(tmp_path / "sliced")
    assert police_uk.run_import([MARCH, MAY], at_once, progress=False, out=io.StringIO()) == 0
    monkeypatch.setattr(store_writer, "MONTHLY_PAIRS_AT_ONCE", 1)  # two force-months: two slices
    assert police_uk.run_import([MARCH, MAY], sliced, progress=False, out=io.StringIO()) == 0
    one, many = _version_tables(at_once), _version_tables(sliced)
    for name in one:
        pd.testing.assert_frame_equal(one[name], many[name], obj=name)


def _streamed(path: Path, exact: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A file's classified records and rejected rows, read in small blocks by the fast or the exact path."""
    files, _, _ = police_uk.discover([path])
    placement = police_uk.Placement.for_store(REPO / "data")
    pieces = [police_uk.classify_file(part, placement, None)
              for part in police_uk.read_street_batches(files[0], police_uk.Progress(1, "", enabled=False),
                                                        STREAM_BLOCK, exact=exact)]
    records = pd.concat([p.records.to_pandas() for p in pieces], ignore_index=True)
    rejected = pd.concat([p.rejected for p in pieces], ignore_index=True).sort_values("line", ignore_index=True)
    return records, rejected


def test_the_fast_path_and_the_exact_path_read_a_plain_file_alike(tmp_path):
    path = _march_with_bad_rows_throughout(tmp_path)
    assert police_uk.plain_file(police_uk.discover([path])[0][0]), "the March file has no quote character"
    fast_records, fast_rejected = _streamed(path, exact=False)
    exact_records, exact_rejected = _streamed(path, exact=True)
    assert len(fast_records) + len(fast_rejected) == MARCH_ROWS
    pd.testing.assert_frame_equal(fast_records, exact_records)
    pd.testing.assert_frame_equal(fast_rejected, exact_rejected)


def test_a_quoted_line_break_takes_the_exact_path_and_every_later_row_keeps_its_physical_line(tmp_path):
    lines = march_lines()
    lines[50] = lines[50].replace(b"On or near ", b'"On or near\nthe corner of ', 1).replace(b",E01", b'",E01', 1)
    lines[1000] = lines[1000].replace(b"On or near ", b'"On or near\r\n\nthe ', 1).replace(b",E01", b'",E01', 1)
    for number in (3001, 8001):  # malformed (pyarrow reports it) and misdated (the importer judges it)
        lines[number - 1] = lines[number - 1][: len(lines[number - 1]) // 2]
    lines[5000] = lines[5000].replace(b",2025-03,", b",2025-04,")
    path = broken_march(tmp_path, lines)
    text = b"\n".join(lines).decode().split("\n")  # the file's physical lines
    source = police_uk.discover([path])[0][0]
    assert not police_uk.plain_file(source)

    records, rejected = _streamed(path, exact=True)
    shift = 1 + 2  # line breaks inside the two quoted values, all before the rejected rows
    physical = [3001 + shift, 5001 + shift, 8001 + shift]
    assert rejected["line"].tolist() == physical
    assert rejected["raw"].tolist() == [text[n - 1] for n in physical]
    assert len(records) + len(rejected) == MARCH_ROWS
    asb = records.loc[records["record_id"].str.contains(":"), "record_id"]
    asb_lines = asb.str.rsplit(":", n=1).str[1].astype(int)
    starts, line = {}, 2  # each row's first physical line, counted independently of the importer
    for row in lines[1:]:
        starts[line] = row
        line += 1 + row.count(b"\n")
    assert (asb_lines > 1001 + shift).any() and 51 in set(asb_lines)  # the multi-line row itself is ASB
    assert all(b"Anti-social behaviour" in starts.get(n, b"") for n in asb_lines), "an id names another row's line"
    assert records["street"].str.contains("\n").sum() == 2

    data_dir = copy_store(tmp_path / "store")
    assert police_uk.run_import([path], data_dir, progress=False, out=io.StringIO()) == 0
    quarantine = pd.read_csv(data_dir / "crime" / "quarantine.csv", keep_default_na=False)
    assert quarantine["line"].tolist() == physical
    assert quarantine["raw"].tolist() == [text[n - 1] for n in physical]


def test_every_row_is_placed_as_the_rules_read_row_by_row_would_place_it():
    """The classification decides once per (distinct LSOA code, distinct force) pair and hands each row its
    pair's outcome; here every kind of pair is checked against the rules applied to one row at a time:
    the store's own force or another's, an LSOA in the store's lookup, in another force's area, unknown,
    padded with spaces or missing, and a code the store maps that national geography gives another force."""
    import pyarrow as pa
    from queries import national

    nat_force, nat_ward = police_uk._national_lsoas()
    own_code = next(c for c, f in nat_force.items() if f == "derbyshire")
    other_code = next(c for c, f in nat_force.items() if f == "leicestershire")
    claimed_code = next(c for c, f in nat_force.items() if f == "nottinghamshire")
    store_wards = {own_code: "E05000001", claimed_code: "E05000002"}
    placement = police_uk.Placement(store_wards, {"derbyshire"}, "derbyshire")
    names = [national.forces()["derbyshire"].name, national.forces()["leicestershire"].name, None]
    codes = [own_code, f"  {own_code} ", other_code, claimed_code, "E01999999", "", None]
    rows = [(code, name) for code in codes for name in names]
    table = pa.table({
        "crime_id": [f"id{i}" for i in range(len(rows))], "month_text": ["2025-03"] * len(rows),
        "reported_by": [None] * len(rows), "falls_within": [name for _, name in rows],
        "longitude": [None] * len(rows), "latitude": [None] * len(rows), "street": [None] * len(rows),
        "lsoa_code": [code for code, _ in rows], "crime_type": ["Burglary"] * len(rows), "outcome": [None] * len(rows),
        "line": pa.array(range(2, len(rows) + 2), pa.int32()),
    })
    source = police_uk.StreetFile("2025-03-derbyshire-street.csv", "2025-03-derbyshire-street.csv", 0,
                                  date(2025, 3, 1), "derbyshire", Path("2025-03-derbyshire-street.csv"))
    result = police_uk.classify_file(police_uk.ParsedFile(source, table), placement, None)

    expected_counts = dict.fromkeys(police_uk.PLACED_PARTS, 0)
    for index, (raw, name) in enumerate(rows):
        code = (raw or "").strip()
        force = police_uk._force_slug(name) or "derbyshire"
        own = force in placement.owners
        known = code in store_wards or code in nat_force
        same = nat_force.get(code) == force
        inside = known and ((code in store_wards and (nat_force.get(code) is None or same)) if own else same)
        placed = ("another_owner" if not own else "unallocated" if not code else "unknown_area" if not known
                  else "loaded" if inside else "outside_area")
        expected_counts[placed] += 1
        ward = (store_wards.get(code) if own else nat_ward.get(code)) if inside else None
        location = (geography.NO_LOCATION if not known else geography.IN_AREA if inside else geography.OUTSIDE_AREA)
        got = {c: result.records[c][index].as_py() for c in ("ward_code", "location", "force")}
        assert got == {"ward_code": ward, "location": location, "force": force}, (raw, name)
    recon = result.reconciliation.iloc[0]
    assert {part: int(recon[part]) for part in police_uk.PLACED_PARTS} == expected_counts
    assert recon["rows_read"] == len(rows) and recon["rejected"] == 0
    assert result.other_forces == {"leicestershire": len(codes)}
