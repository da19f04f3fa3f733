"""Issue 9, safety: a month is never silently replaced by much less, hostile files give one clear
line, a full or read-only disk leaves the old store live and nothing half-written, imports
can be undone, and the reconciliation describes the data held, not the history of imports.

Every case runs the real CLI on real fixture files (or copies broken the way real files
break) and checks the store's figures before and after.
"""
from __future__ import annotations

import io
import json
import os
import resource
import shutil
import subprocess
import sys
import zipfile
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from conftest import REPO
from queries import cli, quality, store_writer
from queries.importers import common
from queries.importers import marac as marac_importer
from queries.store import Store

FIXTURES = Path(__file__).parent / "fixtures"
MARCH = FIXTURES / "police-uk" / "derbyshire-street-2025-03.zip"
MARCH_MEMBER = "2025-03/2025-03-derbyshire-street.csv"
MARCH_ROWS = 9162
AVON = FIXTURES / "fire" / "avon-fire-irs-incidents-2014-07.csv"
AVON_AREAS = FIXTURES / "fire" / "avon-areas.csv"

# (CLI importer, dataset, fixture, extra arguments, month of the fixture's first data row)
IMPORTERS = {
    "police-uk": ("crime", MARCH, ["--no-progress"], "2025-03"),
    "marac": ("marac", FIXTURES / "marac" / "referrals.csv", [], "2024-03"),
    "hate": ("hate", FIXTURES / "hate" / "records.csv", [], "2025-04"),
    "fire": ("fire", AVON, ["--areas", str(AVON_AREAS)], "2014-07"),
}


def run(*argv: str) -> tuple[int, str, str]:
    """The real CLI in-process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    old = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        code = cli.main(list(map(str, argv)))
    finally:
        sys.stdout, sys.stderr = old
    return code, out.getvalue(), err.getvalue()


def import_(data_dir: Path, importer: str, *paths, extra: tuple = ()) -> tuple[int, str, str]:
    """The real CLI. These tests are about storing: a MARAC import whose records were stored but whose
    release the disclosure audit withheld (exit 4: the fixture's counts are tiny) counts as stored;
    so does a hate import whose public release was withheld the same way."""
    dataset, _, args, _ = IMPORTERS[importer]
    code, out, err = run("import", importer, *paths, "--data-dir", data_dir, *args, *extra)
    if importer in ("marac", "hate") and code == marac_importer.EXIT_NOT_RELEASED and "the files are in the store" in err:
        code = 0
    return code, out, err


def per_month(data_dir: Path, dataset: str) -> dict[str, int]:
    """Records per month in the current version, read afresh."""
    table = Store(data_dir).query(f"SELECT strftime(month, '%Y-%m') AS m, count(*) AS n FROM {dataset}_records GROUP BY 1")
    return dict(zip(table["m"], table["n"]))


def first_row_only(source: Path, target_dir: Path) -> Path:
    """The file cut to its header and first data row, under the same name (a stray one-row file)."""
    target_dir.mkdir(parents=True, exist_ok=True)
    if source.suffix == ".zip":
        with zipfile.ZipFile(source) as archive:
            lines = archive.read(MARCH_MEMBER).split(b"\n")
        target = target_dir / source.name
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(MARCH_MEMBER, b"\n".join(lines[:2]) + b"\n")
        return target
    lines = source.read_bytes().splitlines(keepends=True)
    target = target_dir / source.name
    target.write_bytes(b"".join(lines[:2]))
    return target


def leftovers(data_dir: Path) -> list[Path]:
    return [p for p in data_dir.rglob("*") if p.name.startswith(".staging-") or p.name.endswith(".tmp")]


# --------------------------------------------------------------------------- the shrink guard


@pytest.mark.parametrize("importer", list(IMPORTERS))
def test_a_stray_one_row_file_cannot_replace_a_held_month_without_replace_smaller(importer, tmp_data_dir, tmp_path):
    dataset, fixture, _, month = IMPORTERS[importer]
    assert import_(tmp_data_dir, importer, fixture)[0] == 0
    before = per_month(tmp_data_dir, dataset)
    manifest = (tmp_data_dir / "manifest.json").read_text()
    assert before[month] > 1

    stray = first_row_only(fixture, tmp_path / "stray")
    code, _, err = import_(tmp_data_dir, importer, stray)
    assert code == 2
    assert f"{month}: the store holds {before[month]:,} records, this import has 1" in err
    assert "--replace-smaller" in err and "Traceback" not in err
    assert (tmp_data_dir / "manifest.json").read_text() == manifest
    assert per_month(tmp_data_dir, dataset) == before

    code, _, err = import_(tmp_data_dir, importer, stray, extra=("--replace-smaller",))
    assert code == 0, err
    after = per_month(tmp_data_dir, dataset)
    assert after[month] == 1
    assert {m: n for m, n in after.items() if m != month} == {m: n for m, n in before.items() if m != month}


def test_the_guard_names_every_shrinking_month_and_its_sizes():
    held = {date(2025, 3, 1): 9162, date(2025, 4, 1): 100, date(2025, 5, 1): 100}
    incoming = {date(2025, 3, 1): 1, date(2025, 4, 1): 80, date(2025, 5, 1): 79}
    recon = pd.DataFrame({"file": ["a.csv"] * 3, "month": list(incoming), "rows_read": [1, 80, 79], "rejected": [0, 0, 0]})
    problems = common.shrink_problems(held, incoming, recon)
    # 80 of 100 is exactly the 20% limit (allowed); 79 is past it.
    assert problems == [
        "2025-03: the store holds 9,162 records, this import has 1 (-100%, from a.csv)",
        "2025-05: the store holds 100 records, this import has 79 (-21%, from a.csv)",
    ]
    assert common.SHRINK_LIMIT == 0.20 and common.REJECTED_LIMIT == 0.50


def test_a_mostly_rejected_file_is_refused_and_the_store_is_unchanged(tmp_data_dir):
    before = per_month(tmp_data_dir, "marac")
    code, _, err = import_(tmp_data_dir, "marac", FIXTURES / "marac" / "referrals-bad-rows.csv")
    assert code == 2
    assert "referrals-bad-rows.csv: 10 of 14 rows rejected (more than 50%)" in err
    assert per_month(tmp_data_dir, "marac") == before


# --------------------------------------------------------------------------- warnings and named files


def test_months_in_the_future_or_far_from_the_store_warn_and_name_the_file(tmp_data_dir, tmp_path):
    assert import_(tmp_data_dir, "police-uk", MARCH)[0] == 0
    with zipfile.ZipFile(MARCH) as archive:
        text = archive.read(MARCH_MEMBER)
    future = tmp_path / "2031-07-derbyshire-street.csv"
    future.write_bytes(text.replace(b",2025-03,", b",2031-07,"))
    code, _, err = import_(tmp_data_dir, "police-uk", future)
    assert code == 0
    assert f"warning: {future.name}: 2031-07 is in the future" in err
    assert per_month(tmp_data_dir, "crime")["2031-07"] == MARCH_ROWS

    far = tmp_path / "2016-03-derbyshire-street.csv"
    far.write_bytes(text.replace(b",2025-03,", b",2016-03,"))
    code, _, err = import_(tmp_data_dir, "police-uk", far)
    assert code == 0
    assert f"warning: {far.name}: 2016-03 is more than 36 months outside the months held (2025-03 to 2031-07)" in err


@pytest.mark.parametrize("importer", ["police-uk", "marac", "hate", "fire"])
def test_a_header_only_file_is_named(importer, tmp_data_dir, tmp_path):
    dataset, fixture, _, _ = IMPORTERS[importer]
    if fixture.suffix == ".zip":
        with zipfile.ZipFile(fixture) as archive:
            header = archive.read(MARCH_MEMBER).split(b"\n")[0] + b"\n"
        path = tmp_path / "2025-03-derbyshire-street.csv"
    else:
        header = fixture.read_bytes().splitlines(keepends=True)[0]
        path = tmp_path / f"header-only-{fixture.name}"
    path.write_bytes(header)
    before = per_month(tmp_data_dir, dataset)
    code, _, err = import_(tmp_data_dir, importer, path)
    assert code == 2 and path.name in err and "Traceback" not in err
    assert per_month(tmp_data_dir, dataset) == before


# --------------------------------------------------------------------------- hostile files


def _march_lines() -> list[bytes]:
    with zipfile.ZipFile(MARCH) as archive:
        return archive.read(MARCH_MEMBER).split(b"\n")


def test_cr_only_line_ends_a_first_line_without_end_and_an_over_long_line_are_one_clear_line(tmp_data_dir, tmp_path):
    lines = _march_lines()
    cases = {
        "cr": (b"\r".join(lines), "its lines end in CR only"),
        "oneline": (b"Crime ID,Month," + b"y" * (2 << 20), "line 1: longer than 1 MiB with no line end"),
        "longer": (b"\n".join(lines[:20]) + b"\n" + b"z," * (20 << 20) + b"\n" + b"\n".join(lines[20:]),
                   "line 21: longer than 16 MiB"),
    }
    before = per_month(tmp_data_dir, "crime")
    for name, (data, message) in cases.items():
        folder = tmp_path / name / "2025-03"
        folder.mkdir(parents=True)
        (folder / "2025-03-derbyshire-street.csv").write_bytes(data)
        code, _, err = import_(tmp_data_dir, "police-uk", folder)
        assert code == 2, name
        assert message in err and "Traceback" not in err, err
    assert per_month(tmp_data_dir, "crime") == before


def test_a_long_line_the_reader_can_hold_is_a_rejected_row_with_an_excerpt(tmp_data_dir, tmp_path):
    lines = _march_lines()
    folder = tmp_path / "2025-03"
    folder.mkdir()
    (folder / "2025-03-derbyshire-street.csv").write_bytes(
        b"\n".join(lines[:20]) + b"\n" + b"z," * (4 << 20) + b"\n" + b"\n".join(lines[20:]))
    code, _, err = import_(tmp_data_dir, "police-uk", folder)
    assert code == 0, err
    rejected = Store(tmp_data_dir).query("SELECT line, reason, raw FROM crime_rejected")
    assert rejected["line"].tolist() == [21]
    assert rejected["raw"].iloc[0].endswith(f"... ({8 << 20:,} characters)")
    assert per_month(tmp_data_dir, "crime")["2025-03"] == MARCH_ROWS  # the line was added, every real row loads


def test_a_zip_bomb_is_refused_before_it_is_inflated(tmp_data_dir, tmp_path):
    lines = _march_lines()
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("2025-04/2025-04-derbyshire-street.csv", "w", force_zip64=True) as handle:
            handle.write(lines[0] + b"\n")
            for _ in range(40):
                handle.write((lines[1] + b"\n") * 10_000)  # one crime repeated: ~60 MB from ~0.2 MB
    before = per_month(tmp_data_dir, "crime")
    code, _, err = import_(tmp_data_dir, "police-uk", bomb)
    assert code == 2 and "zip bomb" in err
    assert per_month(tmp_data_dir, "crime") == before


@pytest.mark.parametrize("importer", ["marac", "hate", "fire"])
def test_an_over_long_line_is_a_rejected_row_and_every_row_is_accounted_for(importer, tmp_data_dir, tmp_path):
    dataset, fixture, _, _ = IMPORTERS[importer]
    lines = fixture.read_bytes().splitlines(keepends=True)
    path = tmp_path / fixture.name
    path.write_bytes(b"".join(lines[:3]) + b"x" * 200_000 + b"\n" + b"".join(lines[3:]))
    code, _, err = import_(tmp_data_dir, importer, path)
    assert code == 0, err
    recon = Store(tmp_data_dir).query(f"SELECT * FROM {dataset}_reconciliation")
    parts = recon[["loaded", "outside_area", "unallocated", "rejected"]].sum(axis=1)
    assert (parts == recon["rows_read"]).all()
    rejected = Store(tmp_data_dir).query(f"SELECT line, reason, raw FROM {dataset}_rejected WHERE line = 4")
    assert rejected["reason"].iloc[0].startswith("line longer than 65,536 characters")
    assert len(rejected["raw"].iloc[0]) < 300  # an excerpt, never the whole blob


# --------------------------------------------------------------------------- full and read-only disks


def _import_with_file_size_limit(data_dir: Path, limit: int) -> subprocess.CompletedProcess:
    """The real CLI in a child whose files may not grow past `limit` bytes: the kernel refuses the write (EFBIG)."""
    def limit_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run(
        [sys.executable, "app.py", "import", "police-uk", str(MARCH), "--data-dir", str(data_dir), "--no-progress"],
        cwd=REPO, capture_output=True, text=True, preexec_fn=limit_files, timeout=120,
    )


def test_a_write_refused_by_the_disk_is_one_line_exit_3_old_store_live_and_nothing_left(tmp_data_dir):
    before = per_month(tmp_data_dir, "crime")
    manifest = (tmp_data_dir / "manifest.json").read_text()
    done = _import_with_file_size_limit(tmp_data_dir, 60_000)  # March's records alone are ~270 kB
    assert done.returncode == common.EXIT_WRITE_FAILED, done.stderr
    first = done.stderr.strip().splitlines()[0]
    assert first.startswith("error: cannot write the store at") and "File too large" in first
    assert "the store is as it was" in first and "Traceback" not in done.stderr and '"errno"' not in first
    assert (tmp_data_dir / "manifest.json").read_text() == manifest
    assert per_month(tmp_data_dir, "crime") == before
    assert leftovers(tmp_data_dir) == []


def test_leftovers_of_a_killed_writer_are_removed_by_the_next_import(tmp_data_dir):
    stale = [tmp_data_dir / ".manifest.json.abc123.tmp", tmp_data_dir / "crime" / "quarantine.csv.tmp",
             tmp_data_dir / "crime" / ".staging-20250101T000000-abcdef"]
    stale[0].write_text("{")
    stale[1].write_text("half")
    stale[2].mkdir()
    assert import_(tmp_data_dir, "police-uk", MARCH)[0] == 0
    assert not any(p.exists() for p in stale)
    assert leftovers(tmp_data_dir) == []


def _can_mount() -> bool:
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    probe = Path("/tmp") / f"csp-mount-probe-{os.getpid()}"
    probe.mkdir(exist_ok=True)
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(probe)], capture_output=True).returncode == 0
    if ok:
        subprocess.run(["umount", str(probe)], capture_output=True)
    probe.rmdir()
    return ok


@pytest.fixture()
def small_disk(tmp_path):
    """A real 12 MB tmpfs holding a copy of the store (needs root and mount; skipped elsewhere)."""
    if not _can_mount():
        pytest.skip("needs permission to mount a tmpfs (root in a container with CAP_SYS_ADMIN)")
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", str(mount)], check=True)
    try:
        data = mount / "data"
        data.mkdir()
        for name in ("geography", "manifest.json"):
            source = REPO / "data" / name
            shutil.copytree(source, data / name) if source.is_dir() else shutil.copy(source, data / name)
        yield mount, data
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def fill_disk(mount: Path) -> Path:
    """Write zeros into a file on the small disk until it refuses: the next write anywhere on it fails."""
    filler = mount / "filler"
    with open(filler, "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * (1 << 16))
                handle.flush()
        except OSError:
            pass
    return filler


def test_a_full_disk_and_a_read_only_disk_leave_the_old_store_live(small_disk, tmp_path):
    mount, data = small_disk
    # An empty store of lookups first, then March (fits), then fill the disk and import again.
    (data / "manifest.json").write_text(json.dumps({"datasets": {}}))
    assert import_(data, "police-uk", MARCH)[0] == 0
    before = per_month(data, "crime")
    manifest = (data / "manifest.json").read_text()
    filler = fill_disk(mount)
    code, _, err = import_(data, "police-uk", MARCH, extra=("--replace-smaller",))
    assert code == common.EXIT_WRITE_FAILED and "No space left on device" in err and "Traceback" not in err
    assert (data / "manifest.json").read_text() == manifest and per_month(data, "crime") == before
    assert leftovers(data) == []

    filler.unlink()
    subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
    code, _, err = import_(data, "police-uk", MARCH)
    assert code == common.EXIT_WRITE_FAILED and "Read-only file system" in err and "Traceback" not in err
    assert per_month(data, "crime") == before


# --------------------------------------------------------------------------- quarantine, rollback, log


def test_the_quarantine_is_in_the_version_before_it_is_published(tmp_data_dir):
    code, _, _ = import_(tmp_data_dir, "marac", FIXTURES / "marac" / "referrals-bad-rows.csv", extra=("--replace-smaller",))
    assert code == 0
    version = tmp_data_dir / json.loads((tmp_data_dir / "manifest.json").read_text())["datasets"]["marac"]
    inside = pd.read_csv(version / "quarantine.csv")
    assert len(inside) == 10
    assert (tmp_data_dir / "marac" / "quarantine.csv").read_bytes() == (version / "quarantine.csv").read_bytes()


def test_rollback_restores_the_previous_version_says_what_and_logs_it(tmp_data_dir, tmp_path):
    assert import_(tmp_data_dir, "police-uk", MARCH)[0] == 0
    good = per_month(tmp_data_dir, "crime")
    stray = first_row_only(MARCH, tmp_path / "stray")
    assert import_(tmp_data_dir, "police-uk", stray, extra=("--replace-smaller",))[0] == 0
    assert per_month(tmp_data_dir, "crime")["2025-03"] == 1

    code, out, err = run("rollback", "crime", "--data-dir", tmp_data_dir)
    assert code == 0, err
    assert "rolled back crime: restored version" in out and f"{MARCH_ROWS:,} records" in out
    assert per_month(tmp_data_dir, "crime") == good
    code, out, _ = run("rollback", "crime", "--data-dir", tmp_data_dir)  # back to the synthetic demo
    assert code == 0 and Store(tmp_data_dir).is_synthetic("crime")
    code, _, err = run("rollback", "crime", "--data-dir", tmp_data_dir)
    assert code == 2 and "no earlier version of crime is kept" in err

    log = store_writer.read_log(tmp_data_dir)
    actions = [(e["action"], e["dataset"]) for e in log]
    assert actions == [("import", "crime"), ("import", "crime"), ("rollback", "crime"), ("rollback", "crime")]
    assert log[0]["rows_read"] == MARCH_ROWS and log[0]["files"] == [f"{MARCH.name}:{MARCH_MEMBER}"]
    assert log[1]["replaced_smaller"] is True and log[1]["records"] == 1
    assert all(e["time"] for e in log)


def test_reconciliation_describes_the_data_held_not_the_sum_of_reimports(tmp_data_dir):
    for _ in range(3):
        assert import_(tmp_data_dir, "police-uk", MARCH)[0] == 0
    store = Store(tmp_data_dir)
    by_month = quality.reconciliation_by_month(store, "crime")
    assert by_month["month"].tolist() == ["2025-03"]
    row = by_month.iloc[0]
    records = store.query("SELECT count(*) AS n FROM crime_records")["n"].iloc[0]
    assert row["rows_read"] == MARCH_ROWS == records + row["rejected"]
    assert bool(row["adds up"])
    assert quality.reconciliation(store, "crime")["rows_read"].sum() == MARCH_ROWS
    assert len(store_writer.read_log(tmp_data_dir)) == 3  # the history is the log's


def test_marac_reconciliation_by_month_shows_only_whether_it_adds_up(tmp_data_dir):
    assert import_(tmp_data_dir, "marac", FIXTURES / "marac" / "referrals.csv")[0] == 0
    table = quality.reconciliation_by_month(Store(tmp_data_dir), "marac")
    assert list(table.columns) == ["month", "adds up"] and table["adds up"].all() and len(table) >= 1


def test_the_stored_reconciliation_has_the_six_parts_and_the_check_counts_them_all(tmp_data_dir):
    assert import_(tmp_data_dir, "hate", FIXTURES / "hate" / "records.csv")[0] == 0
    stored = Store(tmp_data_dir).query("SELECT * FROM hate_reconciliation")
    assert list(stored.columns[:9]) == common.STORED_RECONCILIATION_COLUMNS
    assert (stored[common.OWNER_PARTS] == 0).all().all()
    row = {"file": "a.csv", "month": date(2025, 3, 1), "rows_read": 10, "loaded": 6, "outside_area": 1,
           "another_owner": 2, "unknown_area": 1, "unallocated": 0, "rejected": 0}
    common.check_reconciliation(pd.DataFrame([row]))  # 6 + 1 + 2 + 1 = 10: adds up
    with pytest.raises(common.ImportError_, match="rows read 11 != loaded"):
        common.check_reconciliation(pd.DataFrame([{**row, "rows_read": 11}]))


@pytest.mark.parametrize("importer", ["marac", "hate", "fire"])
def test_a_record_import_spooling_to_a_full_or_read_only_disk_exits_3_with_the_old_store_live(importer, small_disk):
    mount, data = small_disk
    dataset, fixture, _, month = IMPORTERS[importer]
    (data / "manifest.json").write_text(json.dumps({"datasets": {}}))
    assert import_(data, importer, fixture)[0] == 0
    before = per_month(data, dataset)
    manifest = (data / "manifest.json").read_text()
    filler = fill_disk(mount)
    code, _, err = import_(data, importer, fixture, extra=("--replace-smaller",))
    assert code == common.EXIT_WRITE_FAILED and "No space left on device" in err and "Traceback" not in err
    assert (data / "manifest.json").read_text() == manifest and per_month(data, dataset) == before
    assert leftovers(data) == [] and not list(data.glob(f"*/{store_writer.SPOOL_PREFIX}*"))

    filler.unlink()
    subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
    code, _, err = import_(data, importer, fixture)
    assert code == common.EXIT_WRITE_FAILED and "Read-only file system" in err and "Traceback" not in err
    assert per_month(data, dataset) == before and month in before


def test_rejected_rows_carry_to_the_next_version_in_batches_old_first_re_imported_files_replaced(tmp_path):
    """The rejected table and quarantine are streamed from the old version (files still held) then the new rows:
    a re-imported file's old rows go, columns the two sides do not share are kept, types promote as a concat's."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from queries.importers import common

    old_dir, new_dir = tmp_path / "old", tmp_path / "new"
    old_dir.mkdir(), new_dir.mkdir()
    rows = common.REJECTED_BATCH_ROWS + 5  # more than one batch from the old version
    pq.write_table(pa.table({"file": ["kept.csv"] * rows + ["again.csv"] * 3, "line": list(range(rows + 3)),
                             "reason": ["bad month"] * (rows + 3), "raw": ["a,\"b\"\nc"] * (rows + 3)}),
                   old_dir / "rejected.parquet")
    new = pd.DataFrame({"file": ["again.csv", "again.csv"], "line": [7.0, None], "reason": ["x", "y"],
                        "raw": ["r1", "r2"], "month": ["2025-03-01", None]})
    held = pd.DataFrame({"file": ["kept.csv", "again.csv"]})
    written = common._carry_rejected(old_dir, new_dir, new, pd.DataFrame({"file": ["again.csv"]}), held)

    table = pq.read_table(new_dir / "rejected.parquet")
    assert written == rows + 2 == table.num_rows
    assert table.column_names == ["file", "line", "reason", "raw", "month"]
    assert pa.types.is_floating(table.schema.field("line").type)  # int64 old + float new, as pandas.concat gives
    frame = table.to_pandas()
    assert (frame["file"].iloc[:rows] == "kept.csv").all() and list(frame["line"].iloc[:rows]) == list(range(rows))
    assert list(frame["reason"].iloc[rows:]) == ["x", "y"] and frame["month"].iloc[:rows].isna().all()
    quarantine = pd.read_csv(new_dir / "quarantine.csv", keep_default_na=False)
    assert len(quarantine) == rows + 2 and quarantine["raw"].iloc[0] == "a,\"b\"\nc"
    assert list(quarantine.columns) == ["file", "line", "reason", "raw", "month"]


def test_a_version_with_no_rejected_rows_has_an_empty_typed_table_and_no_quarantine(tmp_path):
    import pyarrow.parquet as pq

    from queries.importers import common

    empty = pd.DataFrame(columns=common.REJECTED_COLUMNS)
    assert common._carry_rejected(None, tmp_path, empty, pd.DataFrame({"file": []}), pd.DataFrame({"file": []})) == 0
    table = pq.read_table(tmp_path / "rejected.parquet")
    assert table.num_rows == 0 and str(table.schema.field("line").type) == "int64"
    assert not (tmp_path / "quarantine.csv").exists()
