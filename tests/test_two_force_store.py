"""A store of two forces: coverage is per force (a month one force holds is a gap for another, never
a zero), and the monthly report is one force's, named from that force's geography.

A two-force store (Derbyshire and Leicestershire, made by `init`) holding Leicestershire's real
March 2021 and Derbyshire's real March 2025: each force holds only its own month.
"""
from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import REPO
from queries import cli, geography, limits, limits_table, params, report, series, settings
from queries.init_store import init_store
from queries.store import Store, read_manifest

FIXTURES = Path(__file__).parent / "fixtures" / "police-uk"
LEICS_MONTH, DERBYS_MONTH = pd.Timestamp("2021-03-01"), pd.Timestamp("2025-03-01")


def run_import(data_dir: Path, *paths) -> tuple[int, str]:
    """The real CLI in-process: (exit code, stderr)."""
    err = io.StringIO()
    old = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = io.StringIO(), err
    try:
        code = cli.main(["import", "police-uk", *map(str, paths), "--data-dir", str(data_dir), "--no-progress"])
    finally:
        sys.stdout, sys.stderr = old
    return code, err.getvalue()


@pytest.fixture(scope="module")
def two_forces(tmp_path_factory) -> Store:
    data_dir = tmp_path_factory.mktemp("two") / "store"
    init_store(data_dir, ["derbyshire", "leicestershire"])
    code, err = run_import(data_dir, FIXTURES / "leicestershire-street-2021-03.zip",
                           FIXTURES / "derbyshire-street-2025-03.zip")
    assert code == 0, err
    return Store(data_dir)


def test_each_force_holds_only_its_own_months(two_forces):
    assert list(series.coverage(two_forces, "crime", "leicestershire")) == [LEICS_MONTH]
    assert list(series.coverage(two_forces, "crime", "derbyshire")) == [DERBYS_MONTH]
    assert list(series.coverage(two_forces, "crime")) == [DERBYS_MONTH]  # no force: the store's first, as for areas
    assert series.latest_month(two_forces, "crime", "leicestershire") == LEICS_MONTH
    assert series.financial_years(two_forces, "crime", "leicestershire") == [2020]


def test_another_forces_month_is_a_gap_not_a_zero_in_a_forces_series(two_forces):
    derbys = series.monthly_counts(two_forces, "crime", geography.FORCE, "All crimes", force="derbyshire")
    assert LEICS_MONTH not in derbys.index or pd.isna(derbys.get(LEICS_MONTH))
    assert derbys[DERBYS_MONTH] > 0
    leics = series.monthly_counts(two_forces, "crime", "Charnwood", "All crimes", force="leicestershire")
    assert leics.index.tolist() == [LEICS_MONTH] and leics[LEICS_MONTH] > 0


def test_a_forces_limits_and_rolling_table_count_only_the_months_it_holds(two_forces):
    chart = series.series_table(two_forces, "crime", "Charnwood", "All crimes", 2020, next(iter(limits.METHODS)), 2.0, 10,
                                force="leicestershire")
    held = chart.dropna(subset=["count"])
    assert len(held) == 1  # March 2021 alone: the other 11 months of 2020/21 are gaps, not zeros
    rolling = series.rolling_12(two_forces, "crime", "All crimes", DERBYS_MONTH, force="derbyshire")
    assert "(1 of 12 months held)" in " ".join(rolling.columns)


def test_a_full_limits_build_counts_one_force_at_a_time_and_each_force_equals_its_engine_on_demand(two_forces):
    """The stored table is built force by force (one force's monthly rows and series in memory at a
    time, so a national build is bounded by its largest force, not the store), and every force's
    stored figures are still exactly the engine's on demand."""
    version = two_forces.data_dir / read_manifest(two_forces.data_dir)["datasets"]["crime"]
    plan = limits_table._Plan(version, two_forces.data_dir, "crime")
    assert [sorted({force for force, _fy in batch}) for batch in plan.batches()] == [["derbyshire"], ["leicestershire"]]
    store = two_forces.snapshot()
    for force, month in (("derbyshire", DERBYS_MONTH), ("leicestershire", LEICS_MONTH)):
        for method, spec in limits.METHODS.items():
            stored = report.all_series_limits(store, month, method, spec.default_k, 10, "crime", force=force)
            with limits_table.computing_on_demand():
                computed = report.all_series_limits(store, month, method, spec.default_k, 10, "crime", force=force)
            pd.testing.assert_frame_equal(stored.keys, computed.keys)
            assert set(stored.keys["area"]) > {geography.FORCE}
            for name in limits.LimitResult.__dataclass_fields__:
                a, b = getattr(stored.result, name), getattr(computed.result, name)
                assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), (force, method, name)


def test_the_report_month_parameter_offers_the_chosen_forces_months(two_forces):
    config = settings.load_settings({"CSP_DATA_DIR": str(two_forces.data_dir)})
    view = params.resolve_view(two_forces, "crime", {"force": "leicestershire"}, config)
    assert view.month == LEICS_MONTH and not view.warnings
    view = params.resolve_view(two_forces, "crime", {"force": "derbyshire", "month": "2021-03"}, config)
    assert view.month == DERBYS_MONTH  # a month Derbyshire does not hold falls back to its latest


LEICS_SECTIONS = ["County (excluding Leicester and Rutland)", "Blaby", "Charnwood", "Harborough", "Hinckley and Bosworth",
                  "Melton", "North West Leicestershire", "Oadby and Wigston"]


def build(store: Store, month: str, force: str | None = None) -> report.Report:
    return report.build_report(store, month, next(iter(limits.METHODS)), 2.0, 10, force=force)


def test_the_report_for_the_second_force_is_named_from_its_geography_and_counts_only_its_rows(two_forces):
    built = build(two_forces, "2021-03", "leicestershire")
    assert [s.heading for s in built.sections] == LEICS_SECTIONS
    assert built.sections[0].title == "County (excluding Leicester and Rutland) - Summary of issues"
    assert built.title.endswith("up to and including March 2021: Leicestershire Police")
    rolling = built.rolling.set_index("Area")
    now = [c for c in rolling.columns if c.startswith("12 Months to Mar 2021")][0]
    charnwood = series.monthly_counts(two_forces, "crime", "Charnwood", "All crimes", force="leicestershire")
    assert rolling.loc["Charnwood", now] == charnwood[LEICS_MONTH] > 0
    assert "Leicester" in rolling.index and "Amber Valley" not in rolling.index
    # Fire, MARAC and hate crime are the first force's: another force's report says so, never shows them.
    assert built.fire_kpi is None and "none is held for Leicestershire Police" in built.fire_note


def test_the_report_defaults_to_the_first_force_and_refuses_a_month_it_does_not_hold_naming_it(two_forces):
    assert [s.heading for s in build(two_forces, "2025-03").sections][0] == "County (excluding Derby)"  # ONS names: `init` renames nothing
    with pytest.raises(series.NoData, match="March 2021 for Derbyshire Constabulary"):
        build(two_forces, "2021-03")
    with pytest.raises(geography.UnknownArea, match="no force 'rutland'"):
        build(two_forces, "2021-03", "rutland")


def test_report_cli_with_force_writes_that_forces_report(two_forces, tmp_path):
    out = tmp_path / "leics.html"
    done = subprocess.run([sys.executable, "app.py", "report", "--month", "2021-03", "--force", "leicestershire",
                           "--data-dir", str(two_forces.data_dir), "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**__import__("os").environ, "CSP_STATE_DIR": str(tmp_path / "state")})
    assert done.returncode == 0, done.stderr
    html = out.read_text()
    assert "County (excluding Leicester and Rutland) - Summary of issues" in html
    assert "Oadby and Wigston - Summary of issues" in html and "Derby City" not in html
    assert "--force leicestershire" in html  # the stamp says how to rebuild this force's report
    refused = subprocess.run([sys.executable, "app.py", "report", "--month", "2021-03", "--data-dir",
                              str(two_forces.data_dir), "--out", str(tmp_path / "d.html")],
                             cwd=REPO, capture_output=True, text=True, timeout=300,
                             env={**__import__("os").environ, "CSP_STATE_DIR": str(tmp_path / "state")})
    assert refused.returncode != 0 and "Derbyshire Constabulary" in refused.stderr
