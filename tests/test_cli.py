"""The command line as a user runs it: real subprocesses on a copy of the demo store."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from conftest import copy_geography
from queries import limits

REPO = Path(__file__).resolve().parent.parent


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "app.py", *args], cwd=REPO, capture_output=True, text=True,
                          env=dict(os.environ, **(env or {})), stdin=subprocess.DEVNULL, timeout=120)


def test_export_series_writes_the_documented_columns(demo_dir, tmp_path):
    out = tmp_path / "series.csv"
    result = run("export", "series", "--area", "Erewash", "--measure", "Violence without Injury", "--fy", "2025",
                 "--method", "classic", "--k", "1", "--data-dir", str(demo_dir), "--out", str(out))
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(out, keep_default_na=False)
    assert list(table.columns) == limits.COLUMNS
    assert list(table["month"]) == [f"{m:%Y-%m}" for m in limits.fy_months(2025)]
    assert set(table["status"]) <= {"", limits.ABOVE, limits.BELOW}
    assert (table["upper"].astype(float) >= table["lower"].astype(float)).all()


def test_export_series_accepts_a_measure_alias_free_neighbourhood(demo_dir, tmp_path):
    out = tmp_path / "hood.csv"
    result = run("export", "series", "--area", "Chesterfield", "--neighbourhood", "Chesterfield Town Centre",
                 "--measure", "Shoplifting", "--fy", "2026", "--data-dir", str(demo_dir), "--out", str(out))
    assert result.returncode == 0, result.stderr
    october = pd.read_csv(out, keep_default_na=False).set_index("month").loc["2026-10"]
    assert october["status"] == limits.ABOVE


def test_export_counts_columns_are_the_by_fields_plus_count(demo_dir, tmp_path):
    out = tmp_path / "counts.csv"
    result = run("export", "counts", "--dataset", "crime", "--by", "month,area,measure", "--data-dir", str(demo_dir), "--out", str(out))
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(out)
    assert list(table.columns) == ["month", "area", "measure", "count"]
    # Zero is a count: a held month x area x measure with nothing recorded is a row with 0 (issue 8).
    assert table["count"].min() == 0
    assert len(table) == table["month"].nunique() * table["area"].nunique() * table["measure"].nunique()


def test_unknown_area_exits_non_zero_listing_valid_areas(demo_dir, tmp_path):
    result = run("export", "series", "--area", "Derbyshire Dates", "--measure", "Shoplifting", "--fy", "2025",
                 "--data-dir", str(demo_dir), "--out", str(tmp_path / "x.csv"))
    assert result.returncode != 0
    assert "unknown area 'Derbyshire Dates'" in result.stderr
    assert "Derbyshire Dales" in result.stderr
    assert not (tmp_path / "x.csv").exists()


def test_unknown_measure_exits_non_zero_listing_valid_measures(demo_dir, tmp_path):
    result = run("export", "series", "--area", "Erewash", "--measure", "Bicycle theft", "--fy", "2025",
                 "--data-dir", str(demo_dir), "--out", str(tmp_path / "x.csv"))
    assert result.returncode != 0
    assert "unknown measure 'Bicycle theft'" in result.stderr and "Shoplifting" in result.stderr


def test_empty_store_says_there_is_no_data(tmp_path):
    empty = tmp_path / "empty"
    copy_geography(empty)
    result = run("export", "series", "--area", "Erewash", "--measure", "Shoplifting", "--fy", "2025",
                 "--data-dir", str(empty), "--out", str(tmp_path / "x.csv"))
    assert result.returncode != 0
    assert "holds no crime data" in result.stderr


def test_bad_financial_year_is_explained(demo_dir, tmp_path):
    result = run("export", "series", "--area", "Erewash", "--measure", "Shoplifting", "--fy", "twenty",
                 "--data-dir", str(demo_dir), "--out", str(tmp_path / "x.csv"))
    assert result.returncode != 0 and "2015 for April 2015" in result.stderr


def test_bad_setting_stops_with_the_variable_named(demo_dir, tmp_path):
    result = run("export", "counts", "--data-dir", str(demo_dir), "--out", str(tmp_path / "x.csv"),
                 env={"CSP_LIMIT_METHOD": "xmr"})
    assert result.returncode != 0 and "CSP_LIMIT_METHOD" in result.stderr


def test_demo_rebuild_is_deterministic(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    for target in (first, second):
        copy_geography(target)
    from queries.demo import crime
    import numpy as np

    a = crime.crime_records(first, np.random.default_rng(crime.SEED))
    b = crime.crime_records(second, np.random.default_rng(crime.SEED))
    pd.testing.assert_frame_equal(a, b)
    assert 45_000 < len(a[a["measure"] != "Anti-social behaviour"]) / 6.6 < 60_000  # ~52,000 crimes a year


def test_raw_marac_counts_cannot_be_exported(demo_dir, tmp_path):
    for args in (["export", "counts", "--dataset", "marac"],
                 ["export", "series", "--dataset", "marac", "--area", "Force Area", "--measure", "Cases discussed", "--fy", "2025"]):
        out = tmp_path / "m.csv"
        result = run(*args, "--data-dir", str(demo_dir), "--out", str(out))
        assert result.returncode != 0
        assert "sensitive" in result.stderr and "export marac" in result.stderr
        assert not out.exists()


def test_marac_export_refuses_periods_that_are_not_released(demo_dir, tmp_path):
    out = tmp_path / "marac.csv"
    result = run("export", "marac", "--period", "month", "--data-dir", str(demo_dir), "--out", str(out))
    assert result.returncode == 2 and "choose from: quarter, financial" in result.stderr
    assert not out.exists()


def test_marac_export_suppresses_every_count_under_five(demo_dir, tmp_path):
    out = tmp_path / "marac.csv"
    result = run("export", "marac", "--period", "quarter", "--data-dir", str(demo_dir), "--out", str(out))
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(out, dtype=str, keep_default_na=False)
    counts = table[["Cases discussed", "Repeat cases", "Police referrals", "Partner agency referrals"]]
    shown = [int(v) for v in counts.to_numpy().ravel() if v not in ("*", "")]
    assert shown and min(shown) >= 5
    assert (counts == "*").to_numpy().any()



def test_every_importers_help_prints():
    """`python app.py import <source> --help` answers (a bare % in a help text made argparse fail)."""
    from queries.cli import importers

    for name in importers():
        done = run("import", name, "--help")
        assert done.returncode == 0, done.stderr
        assert "more than 20% of its records" in " ".join(done.stdout.split())
