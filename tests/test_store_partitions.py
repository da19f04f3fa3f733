"""Issue 9, scale: a new month writes only its own partitions; every other month is the previous
version's file, hard-linked, so adding a month costs the same whatever the store holds.
"""
from __future__ import annotations

import io
import shutil
import sys
from pathlib import Path

import duckdb
import pandas as pd

from conftest import copy_store
from queries import cli
from queries.export import grouped_counts
from queries.store import Store, parquet_source, read_manifest
from queries.store_writer import month_partitions

FIXTURES = Path(__file__).parent / "fixtures" / "police-uk"
MARCH = FIXTURES / "derbyshire-street-2025-03.zip"
MAY = FIXTURES / "derbyshire-street-2025-05.zip"
JAN_2014 = FIXTURES / "derbyshire-street-2014-01.zip"


def import_(data_dir: Path, *paths) -> None:
    out, err = io.StringIO(), io.StringIO()
    old = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        code = cli.main(["import", "police-uk", *map(str, paths), "--data-dir", str(data_dir), "--no-progress"])
    finally:
        sys.stdout, sys.stderr = old
    assert code == 0, err.getvalue()


def version(data_dir: Path) -> Path:
    return data_dir / read_manifest(data_dir)["datasets"]["crime"]


def inodes(table: Path, force: str = "derbyshire") -> dict[str, set[int]]:
    """YYYY-MM -> the inodes of one force's month partition (partitions are keyed `<force>/<YYYY-MM>`)."""
    return {key.split("/", 1)[1]: {p.stat().st_ino for p in folder.glob("*.parquet")}
            for key, folder in month_partitions(table).items() if key.split("/", 1)[0] == force}


def test_a_new_month_writes_only_its_partitions_and_links_the_rest(tmp_data_dir):
    import_(tmp_data_dir, JAN_2014, MARCH)
    first = version(tmp_data_dir)
    records_before, monthly_before = inodes(first / "records.parquet"), inodes(first / "monthly.parquet")
    assert set(records_before) == set(monthly_before) == {"2014-01", "2025-03"}

    import_(tmp_data_dir, MAY)
    second = version(tmp_data_dir)
    records_after, monthly_after = inodes(second / "records.parquet"), inodes(second / "monthly.parquet")
    assert set(records_after) == {"2014-01", "2025-03", "2025-05"}
    for month in ("2014-01", "2025-03"):  # the very same files: nothing rewritten
        assert records_after[month] == records_before[month]
        assert monthly_after[month] == monthly_before[month]


def test_months_added_one_by_one_give_the_figures_of_one_import(tmp_data_dir, tmp_path):
    import_(tmp_data_dir, JAN_2014)
    import_(tmp_data_dir, MARCH)
    import_(tmp_data_dir, MAY)
    together = copy_store(tmp_path / "together")
    import_(together, JAN_2014, MARCH, MAY)
    for by in (["month", "area", "measure"], ["month", "neighbourhood", "measure"]):
        one_by_one = grouped_counts(Store(tmp_data_dir), "crime", by)
        at_once = grouped_counts(Store(together), "crime", by)
        pd.testing.assert_frame_equal(one_by_one, at_once)
    count = "SELECT count(*) AS n FROM crime_records"
    assert Store(tmp_data_dir).query(count)["n"].iloc[0] == Store(together).query(count)["n"].iloc[0]


def test_a_changed_neighbourhood_lookup_rebuilds_every_months_aggregates(tmp_data_dir):
    import_(tmp_data_dir, MARCH)
    first = version(tmp_data_dir)
    march_monthly = inodes(first / "monthly.parquet")["2025-03"]
    grouping = tmp_data_dir / "geography" / "areas.csv"
    lines = grouping.read_text().splitlines()
    # The first ward listed leaves its named neighbourhood (it becomes a neighbourhood of its own).
    row = next(i for i, line in enumerate(lines) if line.startswith("ward_code,"))
    grouping.write_text("\n".join(lines[:row] + lines[row + 1:]) + "\n")
    ward = lines[row].split(",")[3]  # ons_name: the ward's own name
    import_(tmp_data_dir, MAY)
    second = version(tmp_data_dir)
    assert inodes(second / "monthly.parquet")["2025-03"] != march_monthly  # rebuilt under the new lookup
    assert inodes(second / "records.parquet")["2025-03"] == inodes(first / "records.parquet")["2025-03"]
    held = Store(tmp_data_dir).query(
        "SELECT DISTINCT neighbourhood FROM crime_monthly WHERE month = DATE '2025-03-01' AND neighbourhood = ?", [ward])
    assert held["neighbourhood"].tolist() == [ward]  # March's aggregates use the new lookup too


def test_a_store_too_big_to_hold_is_read_from_parquet_with_the_same_answers(demo_dir, monkeypatch):
    from queries import store as store_module
    from queries.series import series_table

    held = Store(demo_dir).snapshot()
    monkeypatch.setattr(store_module, "MONTHLY_IN_MEMORY_ROWS", 0)
    scanned = Store(demo_dir).snapshot()
    assert held.monthly_in_memory and not scanned.monthly_in_memory
    for by in (["month", "area", "measure"], ["month", "neighbourhood"]):
        pd.testing.assert_frame_equal(grouped_counts(held, "crime", by), grouped_counts(scanned, "crime", by))
    args = ("crime", "Erewash", "Violence without Injury", 2025, "pooled", 2.0, 10)
    pd.testing.assert_frame_equal(series_table(held, *args), series_table(scanned, *args))


def test_a_partitioned_store_too_big_to_hold_reads_the_sorted_month_files_written_at_publish_with_the_partitions_figures(
        tmp_data_dir, monkeypatch):
    """A national store is read from one sorted file per month (no glob of thousands of force-month
    partitions per query, nothing held in the worker), and it answers exactly as the partitions do."""
    from queries import monthly_file
    from queries import store as store_module
    from queries.series import monthly_counts, rolling_12

    import_(tmp_data_dir, JAN_2014, MARCH, MAY)
    folder = version(tmp_data_dir)
    copy = monthly_file.path_for(folder)
    assert copy.exists()  # written with the version, before the manifest named it
    monkeypatch.setattr(store_module, "MONTHLY_IN_MEMORY_ROWS", 0)
    from_copy = Store(tmp_data_dir).snapshot()
    assert not from_copy.monthly_in_memory
    month = pd.Timestamp("2025-05-01")

    def figures(store) -> list:
        return [grouped_counts(store, "crime", ["month", "area", "measure"]),
                grouped_counts(store, "crime", ["month", "neighbourhood", "measure"]),
                monthly_counts(store, "crime", "Erewash", "Shoplifting"),
                rolling_12(store, "crime", "Shoplifting", month)]

    read_from_copy = figures(from_copy)
    shutil.rmtree(copy)
    monkeypatch.setattr(monthly_file, "ensure", lambda _folder: None)  # as when the copy cannot be written
    read_from_partitions = figures(Store(tmp_data_dir).snapshot())
    for mine, theirs in zip(read_from_copy, read_from_partitions):
        if isinstance(mine, pd.Series):
            pd.testing.assert_series_equal(mine, theirs)
        else:
            pd.testing.assert_frame_equal(mine, theirs)


def test_a_version_published_before_the_sorted_copy_existed_gets_it_on_first_read(tmp_data_dir):
    from queries import monthly_file

    import_(tmp_data_dir, MARCH)
    folder = version(tmp_data_dir)
    shutil.rmtree(monthly_file.path_for(folder))
    before = grouped_counts(Store(tmp_data_dir), "crime", ["month", "measure"])
    assert monthly_file.path_for(folder).exists()
    assert sorted(p.name for p in monthly_file.path_for(folder).iterdir()) == ["2025-03.parquet"]
    assert not [p for p in folder.glob(".monthly-sorted.*") if p.name != monthly_file.LOCK_NAME]  # no temporary or spill file
    assert before["count"].sum() > 0


def test_a_new_month_writes_only_its_sorted_month_file_and_links_the_others(tmp_data_dir):
    """The readers' sorted copy grows as the partitions do: importing May writes May's file; January
    and March are the previous version's very files (hard links), so a month costs the same whatever
    the store holds, and the new version's files answer exactly as its partitions."""
    from queries import monthly_file

    import_(tmp_data_dir, JAN_2014, MARCH)
    before = {p.name: p.stat().st_ino for p in monthly_file.path_for(version(tmp_data_dir)).iterdir()}
    import_(tmp_data_dir, MAY)
    folder = version(tmp_data_dir)
    after = {p.name: p.stat().st_ino for p in monthly_file.path_for(folder).iterdir()}
    assert sorted(after) == ["2014-01.parquet", "2025-03.parquet", "2025-05.parquet"]
    assert after["2014-01.parquet"] == before["2014-01.parquet"]
    assert after["2025-03.parquet"] == before["2025-03.parquet"]
    con = duckdb.connect()
    sorted_rows = con.execute(f"SELECT * FROM {parquet_source(monthly_file.path_for(folder))} "
                              "ORDER BY ALL").df()
    partition_rows = con.execute(f"SELECT * FROM {parquet_source(folder / 'monthly.parquet')} ORDER BY ALL").df()
    pd.testing.assert_frame_equal(sorted_rows[sorted(sorted_rows.columns)], partition_rows[sorted(partition_rows.columns)])


def _footers_held(version) -> int:
    """Bytes of Parquet footers DuckDB keeps for this version (its object cache)."""
    return version.con.execute(
        "SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory() WHERE tag = 'OBJECT_CACHE'").fetchone()[0]


def test_the_record_partitions_footers_are_read_and_dropped_while_a_pages_footers_are_kept(tmp_data_dir):
    """A national store's records are thousands of partitions (38 MiB of footers a worker) that only
    the Data tab's record count reads, once per version: opening the store and that count keep none
    of their footers, while the queries pages make still keep theirs (read once per version)."""
    from queries import quality

    import_(tmp_data_dir, JAN_2014, MARCH)
    store = Store(tmp_data_dir)
    version = store.snapshot()
    at_open = _footers_held(version)
    records = quality.overview(store).set_index("dataset").loc["crime", "records"]
    assert _footers_held(version) == at_open
    assert records == store.query("SELECT count(*) AS n FROM crime_records")["n"].iloc[0] > 0
    assert _footers_held(version) > at_open  # the same read as a page's query: its footers kept
