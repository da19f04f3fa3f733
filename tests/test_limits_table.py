"""Every series' limits materialised with the store version: the stored figures are exactly the
engine's on demand (every series x month of the demo store, both methods), a hand-worked case
reads back from the table, older stores get the table on first read, and a non-default k is
still computed on demand."""
from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import DERBYSHIRE_MARCH, POLICE_UK_FIXTURES, copy_store, run_police_uk_import
from queries import geography, limits, limits_table, report, series, store_writer
from queries.store import Store, read_manifest

RESULT_FIELDS = list(limits.LimitResult.__dataclass_fields__)


def _assert_same_all_limits(stored: report.AllLimits, computed: report.AllLimits) -> None:
    pd.testing.assert_frame_equal(stored.keys, computed.keys)
    assert np.array_equal(stored.window, computed.window, equal_nan=True)
    for name in RESULT_FIELDS:
        a, b = getattr(stored.result, name), getattr(computed.result, name)
        assert a.dtype.kind == b.dtype.kind, name
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), name


def _year_ends(store: Store, dataset: str) -> list[pd.Timestamp]:
    """Each held financial year's last held month: together they cover every stored month."""
    held = series.coverage(store, dataset)
    by_year = pd.Series(held, index=[limits.fy_of(m) for m in held]).groupby(level=0).max()
    return list(by_year)


@pytest.mark.parametrize("dataset", ["crime", "fire", "hate"])
def test_stored_limits_equal_the_engine_on_demand_for_every_series_and_month_of_the_demo_store(demo_store, dataset):
    store = demo_store.snapshot()
    for method in limits.METHODS:
        k = limits.METHODS[method].default_k
        for month in _year_ends(store, dataset):
            stored = report.all_series_limits(store, month, method, k, 10, dataset)
            with limits_table.computing_on_demand():
                computed = report.all_series_limits(store, month, method, k, 10, dataset)
            _assert_same_all_limits(stored, computed)


def test_summary_drilldown_and_chart_read_the_stored_limits_and_match_the_engine(demo_store):
    store = demo_store.snapshot()
    held = series.coverage(store, "crime")
    own = series.force_areas(store)
    for method in limits.METHODS:
        k = limits.METHODS[method].default_k
        for month in (held[-1], held[-8], held[30]):
            with limits_table.computing_on_demand():
                expected = series.summary_table(store, "crime", month, method, k, 10)
            pd.testing.assert_frame_equal(series.summary_table(store, "crime", month, method, k, 10), expected)
            for csp in own.csps:
                with limits_table.computing_on_demand():
                    expected = series.drilldown(store, "crime", csp, "All crimes", month, method, k, 10)
                pd.testing.assert_frame_equal(series.drilldown(store, "crime", csp, "All crimes", month, method, k, 10),
                                              expected)
            csp = own.csps[0]
            for area, hood in ((csp, None), (geography.FORCE, None), (csp, series.neighbourhoods(store, csp)[0])):
                for report_month in (month, None):
                    args = (store, "crime", area, "Shoplifting", limits.fy_of(month), method, k, 10, report_month, hood)
                    with limits_table.computing_on_demand():
                        expected = series.series_table(*args)
                    pd.testing.assert_frame_equal(series.series_table(*args), expected)


def test_the_stored_table_reads_the_hand_worked_erewash_september():
    # Erewash, violence without injury, September 2015 (tests/test_limits.py): same-month values
    # 34, 38, 42 -> mean 38, sample SD 4, classic upper line 38 + 2 x 4 = 46; 53 is above it.
    # Every other month is 40 in every year: the pooled spread is sqrt(32 / 24) = 1.15 from the
    # deviations, less than the Poisson floor sqrt(38) = 6.16, widened by sqrt(4/3) -> 7.12,
    # so the pooled upper line is 38 + 2 x 7.12 = 52.2 and 53 is above that too.
    months = pd.date_range("2012-04-01", "2016-03-01", freq="MS")
    counts = np.full((1, len(months)), 40.0)
    for year, value in enumerate((34, 38, 42)):
        counts[0, year * 12 + 5] = value
    counts[0, 36 + 5] = 53
    keys = pd.DataFrame({"force": ["derbyshire"], "measure": ["Violence without injury"], "area": ["Erewash"],
                         "neighbourhood": [""]})
    table = limits_table.limits_frame("crime", keys, months, counts, [2015]).to_pandas(date_as_object=False)
    september = table[table["month"] == pd.Timestamp("2015-09-01")].iloc[0]
    assert september["count"] == 53
    assert september["monthly_average_prev3"] == 38
    assert september["upper_classic"] == pytest.approx(46.0)
    assert september["lower_classic"] == pytest.approx(30.0)
    assert september["status_classic"] == limits.ABOVE
    assert september["upper_pooled"] == pytest.approx(38 + 2 * np.sqrt(38) * np.sqrt(4 / 3))
    assert september["status_pooled"] == limits.ABOVE
    assert september["baseline_years"] == 3
    assert len(table) == 12  # one row per month of the year, both methods side by side


def test_a_store_published_before_the_table_existed_gets_it_on_first_read_with_the_same_figures(demo_dir, tmp_path):
    data_dir = copy_store(tmp_path / "old")
    version = Store(data_dir).snapshot()
    folder = version.datasets["crime"]
    for path in folder.glob(f"{limits_table.PREFIX}*.parquet"):
        shutil.rmtree(path)
    month = series.coverage(version, "crime")[-1]
    with limits_table.computing_on_demand():
        expected = series.summary_table(version, "crime", month, "pooled", 2.0, 10)
    assert not list(folder.glob(f"{limits_table.PREFIX}*.parquet"))
    pd.testing.assert_frame_equal(series.summary_table(version, "crime", month, "pooled", 2.0, 10), expected)
    assert limits_table.path_for(folder, data_dir).exists()  # built once; every later reader reads it


def test_a_non_default_k_is_computed_on_demand_and_differs_from_the_stored_default(demo_store):
    store = demo_store.snapshot()
    month = series.coverage(store, "crime")[-1]
    assert not limits_table.usable("pooled", 3.0)
    wide = series.summary_table(store, "crime", month, "pooled", 3.0, 10)
    with limits_table.computing_on_demand():
        assert wide.equals(series.summary_table(store, "crime", month, "pooled", 3.0, 10))
    default = series.summary_table(store, "crime", month, "pooled", 2.0, 10)
    assert (wide["upper"] > default["upper"]).any()


def test_marac_has_no_stored_limits_its_counts_never_leave_the_protected_release(demo_store):
    store = demo_store.snapshot()
    assert not limits_table.materialised("marac")
    assert not list(store.datasets["marac"].glob(f"{limits_table.PREFIX}*"))


def test_publishing_a_version_writes_its_limits_beside_the_monthly_table(tmp_path):
    data_dir = copy_store(tmp_path / "store")
    current = Store(data_dir).snapshot().datasets["crime"]
    with store_writer.write_lock(data_dir):
        staging = store_writer.new_version_dir(data_dir, "crime")
        for name in ("records.parquet", "monthly.parquet", "coverage.parquet", "reconciliation.parquet"):
            shutil.copy(current / name, staging / name)
        published = store_writer.publish(data_dir, "crime", staging, source="test", synthetic=True)
    assert limits_table.path_for(published, data_dir).exists()
    assert not list(published.glob(".*.tmp"))


def test_a_changed_geography_is_not_read_from_a_table_built_under_the_old_one(tmp_path):
    data_dir = copy_store(tmp_path / "store")
    version = Store(data_dir).snapshot()
    folder = version.datasets["crime"]
    old = limits_table.ensure(folder, data_dir, "crime")
    areas = data_dir / "geography" / "areas.csv"
    areas.write_text(areas.read_text().replace("County Council Area", "Derbyshire County"))
    assert limits_table.path_for(folder, data_dir) != old
    fresh = Store(data_dir).snapshot()
    month = series.coverage(fresh, "crime")[-1]
    with limits_table.computing_on_demand():
        expected = series.summary_table(fresh, "crime", month, "pooled", 2.0, 10)
    assert "Derbyshire County" in set(expected["area"])
    pd.testing.assert_frame_equal(series.summary_table(fresh, "crime", month, "pooled", 2.0, 10), expected)
    assert limits_table.path_for(folder, data_dir).exists() and not old.exists()


def _table_content(path) -> pa.Table:
    """A limits table's rows, every value as written, sorted by series and month."""
    con = duckdb.connect()
    try:
        return con.sql(f"SELECT * EXCLUDE (force), force FROM {limits_table.source_sql(path)} "
                       "ORDER BY force, measure, area, neighbourhood, month").to_arrow_table()
    finally:
        con.close()


def _block_inodes(path) -> dict[str, int]:
    return {f"{p.parent.name}/{p.name}": p.stat().st_ino for p in path.glob("*/*.parquet")}


@pytest.mark.parametrize("month", ["2025-05", "2014-01"])
def test_a_monthly_import_recomputes_only_the_years_it_touches_and_equals_a_full_compute(march_copy, tmp_path, month):
    # March 2025 is held (financial year 2024). May 2025 touches 2025 (a new year); January 2014
    # touches 2013-2016 and brings 2017-2023 into the range: 2024 is the previous version's file.
    before = march_copy / read_manifest(march_copy)["datasets"]["crime"]
    old = limits_table.path_for(before, march_copy)
    old_blocks = _block_inodes(old)
    assert list(old_blocks) == ["force=derbyshire/2024.parquet"]
    code, _, err = run_police_uk_import(march_copy, POLICE_UK_FIXTURES / f"derbyshire-street-{month}.zip")
    assert code == 0, err
    after = march_copy / read_manifest(march_copy)["datasets"]["crime"]
    new = limits_table.path_for(after, march_copy)
    new_blocks = _block_inodes(new)
    assert new_blocks["force=derbyshire/2024.parquet"] == old_blocks["force=derbyshire/2024.parquet"]  # linked
    assert len(new_blocks) > 1

    full = tmp_path / "full"
    shutil.copytree(after, full, ignore=shutil.ignore_patterns(f"{limits_table.PREFIX}*"))
    rebuilt = limits_table.write(full, march_copy, "crime")
    assert sorted(_block_inodes(rebuilt)) == sorted(new_blocks)
    for name in new_blocks:  # every file byte for byte what a full build writes
        assert (new / name).read_bytes() == (rebuilt / name).read_bytes(), name
    assert _table_content(new).equals(_table_content(rebuilt))
    assert limits_table.meta(new) == limits_table.meta(rebuilt)
    computed = limits_table.compute(after, march_copy, "crime")
    assert _table_content(new).num_rows == computed.num_rows == limits_table.row_count(new)


def test_changed_pairs_are_the_partitions_that_are_not_the_same_files(march_copy):
    before = march_copy / read_manifest(march_copy)["datasets"]["crime"]
    code, _, err = run_police_uk_import(march_copy, POLICE_UK_FIXTURES / "derbyshire-street-2025-05.zip")
    assert code == 0, err
    after = march_copy / read_manifest(march_copy)["datasets"]["crime"]
    assert store_writer.changed_pairs(before, after) == {("derbyshire", pd.Timestamp("2025-05-01"))}
    assert store_writer.changed_pairs(after, after) == set()
    assert store_writer.changed_pairs(Store(copy_store(march_copy.parent / "demo")).snapshot().datasets["crime"],
                                      after) is None  # the demo's single files: cannot tell, so all is computed


def _altered_month(folder, change: dict[str, str], limit: int | None = None, source: Path = DERBYSHIRE_MARCH):
    """A police.uk month (Derbyshire's March 2025 unless `source` says) with `limit` rows (all when
    None) of each crime type in `change` given another type: the same month with other counts."""
    import csv
    import io
    import zipfile

    with zipfile.ZipFile(source) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".csv"))
        rows = list(csv.reader(io.TextIOWrapper(archive.open(name), encoding="utf-8")))
    header, body = rows[0], rows[1:]
    kind = header.index("Crime type")
    done: dict[str, int] = {}
    for row in body:
        if row[kind] in change and (limit is None or done.get(row[kind], 0) < limit):
            done[row[kind]] = done.get(row[kind], 0) + 1
            row[kind] = change[row[kind]]
    path = folder / Path(name).name
    folder.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as out:
        csv.writer(out).writerows([header, *body])
    return path


def _assert_incremental_equals_full(data_dir, scratch) -> Path:
    """The current crime version's table (written incrementally by its import) is, file for file and
    byte for byte, the table a full build of that version writes; returns the table."""
    version = data_dir / read_manifest(data_dir)["datasets"]["crime"]
    table = limits_table.path_for(version, data_dir)
    full = scratch / "full"
    shutil.copytree(version, full, ignore=shutil.ignore_patterns(f"{limits_table.PREFIX}*"))
    rebuilt = limits_table.write(full, data_dir, "crime")
    assert sorted(_block_inodes(table)) == sorted(_block_inodes(rebuilt))
    for name in _block_inodes(table):
        assert (table / name).read_bytes() == (rebuilt / name).read_bytes(), name
    assert limits_table.meta(table) == limits_table.meta(rebuilt)
    return table


def _force_counts(table, month: str) -> dict[str, float]:
    """Force-area count of each measure in one month of a limits table."""
    con = duckdb.connect()
    try:
        rows = con.execute(f"SELECT measure, count FROM {limits_table.source_sql(table)} "
                           "WHERE area = ? AND neighbourhood = '' AND month = ?::DATE",
                           [geography.FORCE, month]).fetchall()
    finally:
        con.close()
    return dict(rows)


@pytest.mark.parametrize("change, limit", [
    ({"Anti-social behaviour": "Shoplifting"}, 200),  # the same measures, other counts
    ({"Bicycle theft": "Other theft"}, None),  # a measure March no longer holds and May still does
])
def test_a_month_reimported_with_other_counts_changes_the_figures_and_equals_a_full_compute(
        march_copy, tmp_path, change, limit):
    # January 2014, March 2025 and May 2025 held; March imported again with other counts. Its
    # years are recomputed (2024: March's own; 2025: March 2025 is in its baseline) with May's
    # counts from the previous table and March's from its new partition; 2013-2023 are linked.
    code, _, err = run_police_uk_import(march_copy, *(POLICE_UK_FIXTURES / f"derbyshire-street-{month}.zip"
                                                      for month in ("2014-01", "2025-05")))
    assert code == 0, err
    before = _assert_incremental_equals_full(march_copy, tmp_path / "one")
    march_before = _force_counts(before, "2025-03-01")
    code, _, err = run_police_uk_import(march_copy, _altered_month(tmp_path / "files", change, limit))
    assert code == 0, err
    after = _assert_incremental_equals_full(march_copy, tmp_path / "two")
    linked = {name for name, inode in _block_inodes(after).items() if _block_inodes(before).get(name) == inode}
    assert linked == {f"force=derbyshire/{fy}.parquet" for fy in range(2013, 2024)}
    march_after = _force_counts(after, "2025-03-01")
    (old_type, new_type), = change.items()
    moved = limit or march_before[old_type]
    assert march_after[old_type] == march_before[old_type] - moved
    assert march_after[new_type] == march_before[new_type] + moved
    assert _force_counts(after, "2025-05-01") == _force_counts(before, "2025-05-01")
    # March 2026's baseline is March 2025: the 2025 block was recomputed from the new counts.
    baseline = _march_2026_force_baselines(after)
    assert baseline[new_type] == march_after[new_type]
    assert limits_table.meta(after)["measures"] == limits_table.meta(before)["measures"]


def test_a_reimport_that_drops_a_measure_from_the_store_rebuilds_every_block(march_copy, tmp_path):
    # January 2014 (with no bicycle theft) and March 2025 held; March imported again with none
    # either: the store's measures change, so every series list does and no block can be reused.
    no_bicycles = {"Bicycle theft": "Other theft"}
    january = _altered_month(tmp_path / "january", no_bicycles, source=POLICE_UK_FIXTURES / "derbyshire-street-2014-01.zip")
    code, _, err = run_police_uk_import(march_copy, january)
    assert code == 0, err
    before = _assert_incremental_equals_full(march_copy, tmp_path / "one")
    assert "Bicycle theft" in limits_table.meta(before)["measures"]
    code, _, err = run_police_uk_import(march_copy, _altered_month(tmp_path / "march", no_bicycles))
    assert code == 0, err
    after = _assert_incremental_equals_full(march_copy, tmp_path / "two")
    assert "Bicycle theft" not in limits_table.meta(after)["measures"]
    assert not set(_block_inodes(after).values()) & set(_block_inodes(before).values())


def test_an_unchanged_months_counts_are_read_from_the_previous_table_not_its_partitions(march_copy, tmp_path):
    # The previous table is the version's own record of every series x month: a monthly import
    # reads the months it did not change from there (one month of partitions is all it reads).
    # Shown by a doctored previous table: March 2025's force-area counts doubled there show up as
    # March 2026's baseline in the year May 2025 recomputes, while a full build counts the partitions.
    version = march_copy / read_manifest(march_copy)["datasets"]["crime"]
    block = limits_table.path_for(version, march_copy) / "force=derbyshire" / "2024.parquet"
    original = pq.read_table(block)
    counts = original.column("count").to_numpy(zero_copy_only=False)
    doubled = original.set_column(original.schema.get_field_index("count"), "count", pa.array(counts * 2))
    block.unlink()  # a hard link shared with nothing else, but write a new file rather than into it
    pq.write_table(doubled, block, **limits_table.WRITE_OPTIONS)
    march = _force_counts(limits_table.path_for(version, march_copy), "2025-03-01")
    code, _, err = run_police_uk_import(march_copy, POLICE_UK_FIXTURES / "derbyshire-street-2025-05.zip")
    assert code == 0, err
    after = limits_table.path_for(march_copy / read_manifest(march_copy)["datasets"]["crime"], march_copy)
    baseline = _march_2026_force_baselines(after)
    assert baseline["Shoplifting"] == march["Shoplifting"] and march["Shoplifting"] % 2 == 0
    full = limits_table.compute(after.parent, march_copy, "crime").to_pandas()
    in_full = full[(full["area"] == geography.FORCE) & (full["neighbourhood"] == "")
                   & (full["month"] == pd.Timestamp("2026-03-01").date()) & (full["measure"] == "Shoplifting")]
    assert in_full["monthly_average_prev3"].item() == march["Shoplifting"] / 2


def _march_2026_force_baselines(table) -> dict:
    """measure -> March 2026's monthly average of the previous three years, force area, from a stored table."""
    con = duckdb.connect()
    try:
        return dict(con.execute(f"SELECT measure, monthly_average_prev3 FROM {limits_table.source_sql(table)} "
                                "WHERE area = ? AND neighbourhood = '' AND month = DATE '2026-03-01'",
                                [geography.FORCE]).fetchall())
    finally:
        con.close()
