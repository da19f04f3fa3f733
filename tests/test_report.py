"""The monthly report's Current Issues and Context sentences, on a store built for the purpose.

The store holds crime for September 2022 - September 2025 with every figure chosen so the
classic method (k = 2) can be worked by hand: three baseline years of 20, 22 and 24 a month
give a same-month mean of 22, a standard deviation of 2, so an upper line of 26 and a lower
line of 18.

* Erewash, Violence without Injury: 30 in September 2025 (14 Long Eaton Town, 9 Ilkeston
  Town, 7 Sandiacre) -> a Current Issue, with a year-to-date *decrease*.
* Chesterfield, Theft from Vehicle: baseline 10/12/14 (upper 16), 20 in September -> an issue
  with a year-to-date increase.
* Derbyshire Dales, Violence with injury: baseline 2/3/4 (upper 5), 8 in September -> above
  the line but under 10: flagged, not an issue.
* Bolsover, Shoplifting: 10 in September, under the lower line of 18 -> listed below, not an issue.
* High Peak: no crime at all -> "None".
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import copy_store
from conftest import COUNTY_CSPS, COUNTY, CITY
from queries import geography, limits, report, series
from queries.measures import ALL_CRIME
from queries.store import Store
from test_series import _publish_crime

MONTH = pd.Timestamp("2025-09-01")
FIRST = pd.Timestamp("2022-04-01")
METHOD, K, MIN_SIGNIFICANT = "classic", 2.0, 10
VWOI, TFV, VWI, SHOP = "Violence without Injury", "Theft from Vehicle", "Violence with injury", "Shoplifting"


def _ward(wards: pd.DataFrame, csp: str, neighbourhood: str) -> str:
    return wards[(wards["csp"] == csp) & (wards["neighbourhood"] == neighbourhood)]["ward_code"].iloc[0]


def _baseline_then_current(per_year: tuple[int, int, int], current: int, report: dict[str, int], ward: str,
                           report_wards: dict[str, str]) -> list[tuple[str, pd.Timestamp, int]]:
    """(ward, month, count) rows: each baseline FY at its level, Apr-Aug 2025 at `current`, September as `report`."""
    rows = []
    for fy, level in zip((2022, 2023, 2024), per_year):
        rows += [(ward, m, level) for m in limits.fy_months(fy)]
    rows += [(ward, m, current) for m in pd.date_range("2025-04-01", "2025-08-01", freq="MS")]
    rows += [(report_wards[name], MONTH, n) for name, n in report.items()]
    return rows


def _records(data_dir) -> pd.DataFrame:
    wards = geography.ward_areas(data_dir)
    lett, ilk, sand = (_ward(wards, "Erewash", n) for n in ("Long Eaton Town", "Ilkeston Town", "Sandiacre"))
    chest = _ward(wards, "Chesterfield", "Chesterfield Town Centre")
    matlock = _ward(wards, "Derbyshire Dales", "Matlock")
    bols = wards[wards["csp"] == "Bolsover"]["ward_code"].iloc[0]
    plan = {
        VWOI: _baseline_then_current((20, 22, 24), 22, {"let": 14, "ilk": 9, "sand": 7}, lett,
                                     {"let": lett, "ilk": ilk, "sand": sand}),
        TFV: _baseline_then_current((10, 12, 14), 15, {"c": 20}, chest, {"c": chest}),
        VWI: _baseline_then_current((2, 3, 4), 3, {"m": 8}, matlock, {"m": matlock}),
        SHOP: _baseline_then_current((20, 22, 24), 22, {"b": 10}, bols, {"b": bols}),
    }
    rows = []
    for measure, cells in plan.items():
        for ward, month, n in cells:
            rows += [{"month": month.date(), "measure": measure, "ward_code": ward, "location": geography.IN_AREA}] * n
    frame = pd.DataFrame(rows)
    frame.insert(0, "record_id", [f"r{i}" for i in range(len(frame))])
    return frame


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Store:
    data_dir = copy_store(tmp_path_factory.mktemp("report") / "data")
    _publish_crime(data_dir, _records(data_dir), [m.strftime("%Y-%m-%d") for m in pd.date_range(FIRST, MONTH, freq="MS")])
    return Store(data_dir)


@pytest.fixture(scope="module")
def built_report(built) -> report.Report:
    return report.build_report(built, "2025-09", METHOD, K, MIN_SIGNIFICANT)


def _section(rep: report.Report, area: str) -> report.Section:
    return next(s for s in rep.sections if s.area == area)


def test_sections_run_county_first_then_each_csp_in_report_order(built_report):
    assert [s.title for s in built_report.sections] == [
        "County (excluding Derby City) - Summary of issues",
        *[f"{csp} - Summary of issues" for csp in COUNTY_CSPS],
    ]


def test_current_issues_are_counts_above_the_upper_line_of_ten_or_more(built_report):
    issues = {s.area: [f.measure for f in s.issues] for s in built_report.sections}
    assert issues == {
        COUNTY: [TFV, VWOI],  # County All crimes: 68 against an upper line of 59 + 2 x 7 = 73: within
        "Amber Valley": [], "Bolsover": [], "Chesterfield": [TFV, ALL_CRIME], "Derbyshire Dales": [],
        "Erewash": [VWOI, ALL_CRIME], "High Peak": [], "North East Derbyshire": [], "South Derbyshire": [],
    }


def test_an_area_with_no_crime_has_no_issues(built_report):
    high_peak = _section(built_report, "High Peak")
    assert (high_peak.issues, high_peak.below, high_peak.not_significant) == ([], [], [])


def test_a_flagged_group_under_ten_is_listed_apart_not_as_an_issue(built_report):
    dales = _section(built_report, "Derbyshire Dales")
    assert dales.issues == []
    assert [(f.measure, f.count, f.upper) for f in dales.not_significant] == [(VWI, 8, 5), (ALL_CRIME, 8, 5)]
    county = _section(built_report, COUNTY)
    assert [f.measure for f in county.not_significant] == [VWI]


def test_falls_below_the_lower_line_are_listed_separately(built_report):
    bolsover = _section(built_report, "Bolsover")
    assert bolsover.issues == []
    assert [(f.measure, f.count, f.lower) for f in bolsover.below] == [(SHOP, 10, 18), (ALL_CRIME, 10, 18)]
    assert [f.measure for f in _section(built_report, COUNTY).below] == [SHOP]


def test_context_for_a_year_to_date_decrease(built_report):
    erewash = _section(built_report, "Erewash")
    assert erewash.contexts[0] == (
        # YTD: 5 x 22 + 30 = 140 against 6 x 24 = 144. 12 months: 6 x 24 + 140 = 284 against 6 x 22 + 144 = 276.
        "Violence without Injury is currently showing a decrease of 3% (4 fewer offences) year to date "
        "(April to September 2025, 140 against 144 in the same period last year). "
        "Over the 12 months to September 2025 there has been an increase of 3% (8 additional offences) "
        "compared with the previous 12 months. "
        "In September 2025 there were 30 offences, 4 above the upper line of 26 and 8 more than the 22 normally "
        "seen in September (the average for the month over the previous three years). "
        # 14 of 30 is not yet a majority; 14 + 9 = 23 is.
        "The majority of the offences were recorded in Long Eaton Town (14) and Ilkeston Town (9)."
    )


def test_context_for_a_year_to_date_increase(built_report):
    chesterfield = _section(built_report, "Chesterfield")
    assert chesterfield.contexts[0] == (
        # YTD: 5 x 15 + 20 = 95 against 6 x 14 = 84 (+13.1%). 12 months: 84 + 95 = 179 against 72 + 84 = 156 (+14.7%).
        "Theft from Vehicle is currently showing an increase of 13% (11 additional offences) year to date "
        "(April to September 2025, 95 against 84 in the same period last year). "
        "Over the 12 months to September 2025 there has been an increase of 15% (23 additional offences) "
        "compared with the previous 12 months. "
        "In September 2025 there were 20 offences, 4 above the upper line of 16 and 8 more than the 12 normally "
        "seen in September (the average for the month over the previous three years). "
        "The majority of the offences were recorded in Chesterfield Town Centre (20)."
    )


def test_county_context_names_the_partnerships_contributing_most(built_report):
    county = _section(built_report, COUNTY)
    assert county.contexts[1].endswith("The majority of the offences were recorded in Erewash (30).")


def test_summary_grid_marks_above_and_below_per_csp_and_county(built_report):
    grid = built_report.summary.set_index("Crime group")
    assert list(grid.columns) == COUNTY_CSPS + [COUNTY]
    assert grid.loc[VWOI, "Erewash"] == limits.ABOVE
    assert grid.loc[VWI, "Derbyshire Dales"] == limits.ABOVE  # the table shows the flag; the issues list does not
    assert grid.loc[SHOP, "Bolsover"] == limits.BELOW
    assert (grid.loc[:, "High Peak"] == "").all()


def test_one_area_alone_gives_only_its_section(built):
    rep = report.build_report(built, "2025-09", METHOD, K, MIN_SIGNIFICANT, areas=["High Peak"], with_other_datasets=False)
    assert [s.title for s in rep.sections] == ["High Peak - Summary of issues"]


def test_cover_names_the_month_method_and_store_version(built_report, built):
    assert built_report.title == "Community Safety Partnership Performance Report up to and including September 2025"
    version = report.store_version(built)
    assert version.key in built_report.data_as_at and "latest month held September 2025" in built_report.data_as_at
    assert "plus or minus 2 standard deviations" in built_report.method_words


def test_a_month_the_store_does_not_hold_is_refused_with_the_months_held(built):
    with pytest.raises(series.NoData, match="2022-04 to 2025-09"):
        report.build_report(built, "2025-10", METHOD, K, MIN_SIGNIFICANT)
    with pytest.raises(ValueError, match="YYYY-MM"):
        report.check_month(built, "Sept")
    with pytest.raises(ValueError, match="YYYY-MM"):
        report.check_month(built, "2025-13")


def test_an_unknown_report_area_lists_the_choices(built):
    with pytest.raises(geography.UnknownArea, match="Amber Valley, Bolsover"):
        report.build_report(built, "2025-09", METHOD, K, MIN_SIGNIFICANT, areas=["Atlantis"])


# --------------------------------------------------------------------------- one engine, every series


def test_every_series_at_once_agrees_with_each_single_series(demo_store):
    month = pd.Timestamp("2026-10-01")
    everything = report.all_series_limits(demo_store, month, "pooled", 2, 10)
    for area, measure in [("Erewash", "Shoplifting"), (COUNTY, ALL_CRIME), (geography.FORCE, "Domestic burglary"),
                          (CITY, "Anti-social behaviour")]:
        single = series.series_table(demo_store, "crime", area, measure, 2026, "pooled", 2, 10, month)
        mine = everything.series_frame(area, measure)
        for column in ("count", "upper", "lower", "monthly_average_prev3"):
            np.testing.assert_allclose(mine[column].to_numpy(float), single[column].to_numpy(float), equal_nan=True)
        assert mine["status"].tolist() == single["status"].tolist()


def test_neighbourhood_series_agree_with_the_drilldown(demo_store):
    month = pd.Timestamp("2026-10-01")
    table = report.all_series_limits(demo_store, month, "pooled", 2, 10).month_table()
    drill = series.drilldown(demo_store, "crime", "Chesterfield", "Shoplifting", month, "pooled", 2, 10)
    mine = table[(table["area"] == "Chesterfield") & (table["measure"] == "Shoplifting") & table["neighbourhood"].notna()]
    mine = mine.set_index("neighbourhood").loc[drill["neighbourhood"]]
    np.testing.assert_allclose(mine["upper"].to_numpy(float), drill["upper"].to_numpy(float))
    assert mine["status"].tolist() == drill["status"].tolist()


def test_summary_grid_agrees_with_the_summary_table(demo_store):
    month = pd.Timestamp("2026-10-01")
    everything = report.all_series_limits(demo_store, month, "pooled", 2, 10)
    grid = report.summary_grid(everything.month_table(), everything.areas)
    table = series.summary_table(demo_store, "crime", month, "pooled", 2, 10)
    expected = table.assign(status=table["status"].where(table["status"].isin([limits.ABOVE, limits.BELOW]), ""))
    melted = grid.melt(id_vars="Crime group", var_name="area", value_name="status")
    merged = expected.merge(melted, left_on=["measure", "area"], right_on=["Crime group", "area"])
    assert len(merged) == len(expected)
    assert (merged["status_x"] == merged["status_y"]).all()


# --------------------------------------------------------------------------- analysts' hand-picking


def test_approved_drop_and_add_notes_hand_pick_the_issues_shown_as_the_analysts(built):
    notes = {
        ("Erewash", ALL_CRIME, "drop"): ("the same offences as Violence without Injury", "Lead Analyst"),
        ("Derbyshire Dales", VWI, "add"): ("two serious assaults in Matlock", "Lead Analyst"),
        ("Erewash", "No such crime", "add"): ("typo", "Lead Analyst"),
    }
    rep = report.build_report(built, "2025-09", METHOD, K, MIN_SIGNIFICANT, notes=notes, with_other_datasets=False)
    erewash = _section(rep, "Erewash")
    assert [f.measure for f in erewash.issues] == [VWOI]
    assert [(f.measure, reason, by) for f, reason, by in erewash.dropped] == [
        (ALL_CRIME, "the same offences as Violence without Injury", "Lead Analyst")]
    dales = _section(rep, "Derbyshire Dales")
    assert [f.measure for f in dales.issues] == [VWI]
    assert dales.added_by == [("two serious assaults in Matlock", "Lead Analyst")]
    assert "In September 2025 there were 8 offences, 3 above the upper line of 5 and 5 more than the 3" in dales.contexts[0]
    assert rep.notes_key != report.build_report(built, "2025-09", METHOD, K, MIN_SIGNIFICANT, with_other_datasets=False).notes_key


def test_an_added_issue_within_the_lines_says_it_is_below_the_upper_line(built):
    notes = {("Bolsover", SHOP, "add"): ("shop theft reports held back", "A")}
    bolsover = _section(report.build_report(built, "2025-09", METHOD, K, MIN_SIGNIFICANT, notes=notes,
                                            with_other_datasets=False), "Bolsover")
    assert "In September 2025 there were 10 offences, 16 below the upper line of 26 and 12 fewer than the 22" in bolsover.contexts[0]
