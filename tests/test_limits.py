"""The exception engine against hand-worked examples and seeded simulations."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from queries import limits
from queries.limits import ABOVE, BELOW, NO_DATA, NO_LIMITS, compute_limits, series_limits

FY = 2015  # April 2015 - March 2016, the year of the Erewash reading


def _series(baseline_by_year: list[list[float]], current: list[float]) -> pd.Series:
    """Counts for FY-3, FY-2, FY-1 (12 months each) and FY itself, as a month-indexed series."""
    values = [v for year in baseline_by_year for v in year] + list(current) + [np.nan] * (12 - len(current))
    return pd.Series(values, index=limits.window_months(FY), dtype=float)


def _flat_years(september: tuple[float, float, float], other: float = 40.0) -> list[list[float]]:
    """Three baseline years, all months `other` except September (position 5 of April-March)."""
    years = []
    for value in september:
        year = [other] * 12
        year[5] = value
        years.append(year)
    return years


def test_classic_upper_line_is_46_and_53_is_seven_above():
    # Erewash, violence without injury, September 2015: "53 crimes just seven above the
    # reporting threshold" (upper line 46). Same-month values 34, 38, 42: mean 38, sample
    # SD 4 (deviations -4, 0, 4; squares 32 / 2 = 16), so 38 + 2 x 4 = 46.
    counts = _series(_flat_years((34, 38, 42)), [40, 40, 40, 40, 40, 53])
    table = series_limits(counts, FY, method="classic", k=2)
    september = table.iloc[5]
    assert september["month"] == pd.Timestamp("2015-09-01")
    assert september["monthly_average_prev3"] == pytest.approx(38.0)
    assert september["upper"] == pytest.approx(46.0)
    assert september["lower"] == pytest.approx(30.0)
    assert september["count"] - september["upper"] == pytest.approx(7.0)
    assert september["status"] == ABOVE
    assert not september["low_volume"]


def test_average_is_flat_mean_of_36_baseline_months():
    counts = _series(_flat_years((34, 38, 42)), [40])
    table = series_limits(counts, FY, method="classic", k=2)
    # 33 months of 40 plus 34 + 38 + 42 = 1320 + 114 = 1434 over 36 months.
    assert table["average"].nunique() == 1
    assert table["average"].iloc[0] == pytest.approx(1434 / 36)


def test_pooled_hand_worked_spread():
    # Only September varies (34, 38, 42): squares sum 32 over 12 x (3 - 1) = 24 degrees of
    # freedom, pooled SD = sqrt(32 / 24) = 1.1547. The Poisson floor sqrt(38) = 6.164 is larger,
    # so September's spread is 6.164 x sqrt(1 + 1/3) = 7.118 and upper = 38 + 2 x 7.118.
    counts = _series(_flat_years((34, 38, 42)), [40, 40, 40, 40, 40, 53])
    september = series_limits(counts, FY, method="pooled", k=2).iloc[5]
    spread = math.sqrt(38) * math.sqrt(4 / 3)
    assert september["upper"] == pytest.approx(38 + 2 * spread)
    assert september["lower"] == pytest.approx(38 - 2 * spread)
    assert september["upper"] == pytest.approx(52.236, abs=1e-3)
    assert september["status"] == ABOVE  # 53 is still above the wider pooled line

def test_pooled_uses_pooled_sd_when_it_exceeds_poisson():
    # Every month alternates 10, 40, 70 across the three years: each month's SD is 30,
    # pooled SD 30 > sqrt(40) = 6.3, so spread = 30 x sqrt(4/3).
    years = [[10.0] * 12, [40.0] * 12, [70.0] * 12]
    counts = _series(years, [40])
    april = series_limits(counts, FY, method="pooled", k=1).iloc[0]
    assert april["upper"] == pytest.approx(40 + 30 * math.sqrt(4 / 3))


def test_lower_line_never_below_zero():
    counts = _series([[1.0] * 12, [5.0] * 12, [0.0] * 12], [0])
    for method in ("classic", "pooled"):
        table = series_limits(counts, FY, method=method, k=3)
        assert (table["lower"] >= 0).all()


def test_flagged_month_under_ten_is_low_volume_not_significant():
    counts = _series([[2.0] * 12, [2.0] * 12, [3.0] * 12], [9])
    april = series_limits(counts, FY, method="classic", k=2, min_significant=10).iloc[0]
    assert april["status"] == ABOVE
    assert april["low_volume"]
    april_10 = series_limits(_series([[2.0] * 12, [2.0] * 12, [3.0] * 12], [10]), FY, "classic", 2, 10).iloc[0]
    assert april_10["status"] == ABOVE and not april_10["low_volume"]


def test_below_is_flagged_when_count_under_lower_line():
    counts = _series(_flat_years((34, 38, 42)), [40, 40, 40, 40, 40, 29])
    assert series_limits(counts, FY, method="classic", k=2).iloc[5]["status"] == BELOW


def test_months_after_report_month_have_limits_but_no_count():
    counts = _series(_flat_years((34, 38, 42)), [40] * 12)
    table = series_limits(counts, FY, "classic", 2, report_month=pd.Timestamp("2015-06-01"))
    assert table["count"].iloc[:3].notna().all()
    assert table["count"].iloc[3:].isna().all()
    assert table["upper"].notna().all()
    assert (table["status"].iloc[3:] == NO_DATA).all()


def test_two_baseline_years_are_used_and_counted():
    years = [[np.nan] * 12, [30.0] * 12, [50.0] * 12]
    table = series_limits(_series(years, [40]), FY, "classic", 1)
    april = table.iloc[0]
    assert april["baseline_years"] == 2
    assert april["monthly_average_prev3"] == pytest.approx(40)
    assert april["upper"] == pytest.approx(40 + math.sqrt(200))  # SD of (30, 50) = 14.14
    assert "2 earlier years" in limits.baseline_note(table["baseline_years"], "classic")


def test_no_baseline_means_no_limits_and_says_why():
    table = series_limits(_series([[np.nan] * 12] * 3, [40]), FY, "pooled", 2)
    assert table["upper"].isna().all()
    assert table.iloc[0]["status"] == NO_LIMITS
    assert limits.baseline_note(table["baseline_years"], "pooled").startswith("No limits")


def test_classic_with_one_baseline_year_has_no_limits_but_pooled_uses_poisson():
    years = [[np.nan] * 12, [np.nan] * 12, [36.0] * 12]
    counts = _series(years, [40])
    assert series_limits(counts, FY, "classic", 2)["upper"].isna().all()
    pooled = series_limits(counts, FY, "pooled", 2).iloc[0]
    assert pooled["upper"] == pytest.approx(36 + 2 * 6 * math.sqrt(2))
    assert "Try the pooled method" in limits.baseline_note(np.array([1] * 12), "classic")


def test_missing_baseline_month_is_not_treated_as_zero():
    years = _flat_years((34, 38, 42))
    years[0][5] = np.nan  # September of FY-3 missing
    september = series_limits(_series(years, [40]), FY, "classic", 2).iloc[5]
    assert september["monthly_average_prev3"] == pytest.approx(40)  # mean of 38 and 42
    assert september["baseline_years"] == 2


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="unknown limit method"):
        compute_limits(np.zeros((1, 48)), method="xmr")


def test_window_must_be_48_months():
    with pytest.raises(ValueError, match="48 months"):
        compute_limits(np.zeros((1, 36)))


def test_fy_helpers_follow_april_to_march():
    assert limits.fy_of(pd.Timestamp("2016-03-01")) == 2015
    assert limits.fy_of(pd.Timestamp("2016-04-01")) == 2016
    assert list(limits.fy_months(2015)[[0, -1]]) == [pd.Timestamp("2015-04-01"), pd.Timestamp("2016-03-01")]


# --------------------------------------------------------------------------- simulation

SIM_SERIES = 4000
SIM_SEED = 7


def _false_alarm_rate(method: str, k: float, mean: float) -> float:
    """Share of months flagged on stable Poisson series (every flag is a false alarm)."""
    rng = np.random.default_rng(SIM_SEED)
    window = rng.poisson(mean, size=(SIM_SERIES, 48)).astype(float)
    status = compute_limits(window, method=method, k=k).status
    return float(np.isin(status, [ABOVE, BELOW]).mean())


@pytest.mark.parametrize("mean", [10, 40, 200])
def test_pooled_false_alarm_rate_at_k2_is_between_3_and_7_percent(mean):
    rate = _false_alarm_rate("pooled", 2, mean)
    assert 0.03 <= rate <= 0.07, f"pooled k=2 flagged {rate:.1%} of stable months at mean {mean}"


@pytest.mark.parametrize(
    ("k", "expected"),
    [(1, 0.48), (2, 0.22), (3, 0.12)],  # the domain brief's Student-t (2 d.f.) figures
)
def test_classic_false_alarm_rate_matches_t_with_two_degrees_of_freedom(k, expected):
    rate = _false_alarm_rate("classic", k, 40)
    assert rate == pytest.approx(expected, abs=0.02), f"classic k={k} flagged {rate:.1%}"


def test_pooled_flags_a_real_shift_far_more_often_than_noise():
    rng = np.random.default_rng(SIM_SEED)
    window = rng.poisson(40, size=(SIM_SERIES, 48)).astype(float)
    window[:, 36:] = rng.poisson(60, size=(SIM_SERIES, 12))  # a 50% rise in the current year
    status = compute_limits(window, method="pooled", k=2).status
    assert (status == ABOVE).mean() > 0.6  # measured 69% (vs under 7% on stable series)


def test_baseline_notes_name_the_months_with_short_or_no_baseline():
    months = limits.fy_months(FY)
    years = np.array([1, 0, 0, 3, 3, 3, 3, 3, 3, 2, 2, 2])
    notes = limits.baseline_notes(months, years, "pooled")
    assert notes[0] == "No limits for May 2015, Jun 2015: the store holds none of those months in the three years before."
    assert notes[1].startswith("Limits for Apr 2015 use only 1 earlier year,")
    assert notes[2].startswith("Limits for Jan 2016, Feb 2016, Mar 2016 use only 2 earlier years")
    classic = limits.baseline_notes(months, years, "classic")
    assert classic[0].startswith("No limits for Apr 2015, May 2015, Jun 2015: the classic method needs")


# --------------------------------------------------------------------------- every registered method


@pytest.mark.parametrize("name", list(limits.METHODS))
def test_every_method_keeps_the_contract(name):
    """Shapes, gaps as NaN, a lower line never under zero, words for the panel, few false alarms."""
    method = limits.METHODS[name]
    rng = np.random.default_rng(7)
    window = rng.poisson(40, size=(500, 48)).astype(float)
    window[0, :36] = np.nan  # a series with no baseline at all
    result = limits.compute_limits(window, name, k=2)
    assert result.upper.shape == result.lower.shape == (500, 12)
    assert np.isnan(result.upper[0]).all() and (result.status[0] == limits.NO_LIMITS).all()
    assert (np.nan_to_num(result.lower, nan=0) >= 0).all()
    flagged = np.isin(result.status[1:], [limits.ABOVE, limits.BELOW]).mean()
    assert 0.01 < flagged < 0.30, flagged
    assert "{k}" in method.explanation and method.false_alarms and method.min_years >= 1
    centre, spread = method.centre_and_spread(window[1:, :36].reshape(499, 3, 12))
    assert centre.shape == spread.shape == (499, 12)


def test_a_method_registered_twice_is_refused():
    with pytest.raises(ValueError, match="registered twice"):
        limits.limit_method("pooled", "Pooled", 1, "{k}", "x")(lambda baseline: (baseline, baseline))


def test_docs_method_table_lists_every_registered_method():
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "docs" / "method.md").read_text()
    rows = re.findall(r"^\| `(\w+)` \| (\w+) \| (\d+) \| ([\d.]+) \|$", text, flags=re.M)
    assert [(n, label, int(y), float(k)) for n, label, y, k in rows] == [
        (m.name, m.label, m.min_years, m.default_k) for m in limits.METHODS.values()]
