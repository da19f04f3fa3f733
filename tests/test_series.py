"""Series and board tables on the demo store, checked against independent counts of the records."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import COUNTY_CSPS, COUNTY, CITY
from queries import geography, limits, series, store as store_module
from queries.export import grouped_counts
from queries.geography import UnknownArea
from queries.measures import ALL_CRIME, ASB, MEASURE_SQL
from queries.store import Store

REPORT = pd.Timestamp("2026-10-01")


def _records(demo_store: Store) -> pd.DataFrame:
    records = demo_store.query("SELECT r.*, a.csp, a.neighbourhood, a.parent FROM crime_records r LEFT JOIN areas a USING (ward_code)")
    records["month"] = pd.to_datetime(records["month"])
    return records


def test_monthly_counts_equal_a_plain_count_of_records(demo_store):
    records = _records(demo_store)
    expected = records[(records["csp"] == "Erewash") & (records["measure"] == "Shoplifting")].groupby("month").size()
    counts = series.monthly_counts(demo_store, "crime", "Erewash", "Shoplifting")
    assert counts.reindex(expected.index).astype(int).equals(expected.astype(int))


def test_all_crimes_excludes_anti_social_behaviour(demo_store):
    records = _records(demo_store)
    crimes = records[records["measure"] != ASB].groupby("month").size()
    counts = series.monthly_counts(demo_store, "crime", geography.FORCE, ALL_CRIME)
    assert counts.astype(int).equals(crimes.reindex(counts.index).astype(int))


def test_force_area_counts_records_outside_the_area_and_with_no_place(demo_store):
    records = _records(demo_store)
    month = REPORT
    in_month = records[(records["month"] == month) & (records["measure"] != ASB)]
    assert (in_month["location"] == geography.OUTSIDE_AREA).any()
    force = series.monthly_counts(demo_store, "crime", geography.FORCE, ALL_CRIME)[month]
    county = series.monthly_counts(demo_store, "crime", COUNTY, ALL_CRIME)[month]
    city = series.monthly_counts(demo_store, "crime", CITY, ALL_CRIME)[month]
    assert force == len(in_month)
    assert force > county + city


def test_rolling_12_csp_rows_add_up_to_county_and_parts_to_force(demo_store):
    table = series.rolling_12(demo_store, "crime", ALL_CRIME, REPORT).set_index("Area")
    for column in table.columns[:2]:
        csps = table.loc[COUNTY_CSPS, column].sum()
        assert csps == table.loc[COUNTY, column]
        parts = table.loc[[COUNTY, CITY, geography.OUTSIDE, geography.UNALLOCATED], column].sum()
        assert parts == table.loc[geography.FORCE, column]
    change = table.loc["Erewash"]
    assert change["Numerical Change"] == change.iloc[1] - change.iloc[0]
    assert change["% Change"] == pytest.approx(round(100 * change["Numerical Change"] / change.iloc[0], 1))
    assert list(table.columns) == ["12 Months to Oct 2025", "12 Months to Oct 2026", "Numerical Change", "% Change"]


def test_rolling_12_window_reaching_before_the_data_says_incomplete(demo_store):
    table = series.rolling_12(demo_store, "crime", ALL_CRIME, pd.Timestamp("2021-01-01"))
    assert table["Numerical Change"].isna().all()
    assert table["% Change"].isna().all()
    assert "Incomplete" in table.attrs["note"]


def test_summary_table_agrees_with_each_single_series(demo_store):
    table = series.summary_table(demo_store, "crime", REPORT, "pooled", 2, 10)
    assert len(table) == len(series.measures(demo_store, "crime")) * 9
    assert set(table["area"]) == set(COUNTY_CSPS + [COUNTY])
    flagged = table[table["status"].isin([limits.ABOVE, limits.BELOW])]
    assert len(flagged) >= 3, "the demo data carries injected exceptions"
    sample = pd.concat([flagged.head(4), table[table["status"] == limits.WITHIN].head(2)])
    for row in sample.itertuples():
        single = series.series_table(demo_store, "crime", row.area, row.measure, 2026, "pooled", 2, 10, REPORT)
        month = single[single["month"] == REPORT].iloc[0]
        assert month["status"] == row.status
        assert month["upper"] == pytest.approx(row.upper)
        assert month["count"] == row.count


def test_injected_chesterfield_shoplifting_spike_is_flagged_and_led_by_the_town_centre(demo_store):
    table = series.summary_table(demo_store, "crime", REPORT, "pooled", 2, 10)
    cell = table[(table["measure"] == "Shoplifting") & (table["area"] == "Chesterfield")].iloc[0]
    assert cell["status"] == limits.ABOVE and not cell["low_volume"]
    drill = series.drilldown(demo_store, "crime", "Chesterfield", "Shoplifting", REPORT, "pooled", 2, 10)
    assert drill.iloc[0]["neighbourhood"] == "Chesterfield Town Centre"
    assert drill["count"].sum() == cell["count"]


def test_drilldown_lists_every_neighbourhood_of_the_csp_once(demo_store):
    drill = series.drilldown(demo_store, "crime", "Erewash", ALL_CRIME, REPORT, "classic", 1, 10)
    assert sorted(drill["neighbourhood"]) == sorted(series.neighbourhoods(demo_store, "Erewash"))
    assert "Long Eaton Town" in set(drill["neighbourhood"])
    assert (drill["above_expected"].diff().dropna() <= 0).all()


def test_drilldown_needs_a_csp(demo_store):
    with pytest.raises(UnknownArea, match="choose one of"):
        series.drilldown(demo_store, "crime", geography.FORCE, ALL_CRIME, REPORT, "pooled", 2, 10)


def test_unknown_area_and_measure_list_the_valid_choices(demo_store):
    with pytest.raises(UnknownArea, match="Amber Valley, Bolsover"):
        series.series_table(demo_store, "crime", "Derbyshire Dates", ALL_CRIME, 2025, "pooled", 2, 10)
    with pytest.raises(series.NoData, match="Shoplifting"):
        series.series_table(demo_store, "crime", "Erewash", "Vehicle interfernce", 2025, "pooled", 2, 10)
    with pytest.raises(UnknownArea, match="Sandiacre"):
        series.series_table(demo_store, "crime", "Erewash", ALL_CRIME, 2025, "pooled", 2, 10, neighbourhood="Nowhere")


def test_grouped_counts_match_records_and_do_not_double_count_rollups(demo_store):
    records = _records(demo_store)
    by_measure = grouped_counts(demo_store, "crime", ["measure"]).set_index("measure")["count"]
    raw = records.groupby("measure").size()
    for measure, count in raw.items():
        assert by_measure[measure] == count
    assert by_measure[ALL_CRIME] == (records["measure"] != ASB).sum()
    headline = grouped_counts(demo_store, "crime", ["area"])
    assert headline["count"].sum() == (records["measure"] != ASB).sum()
    assert geography.OUTSIDE in set(headline["area"])


def test_grouped_counts_refuse_unknown_fields(demo_store):
    with pytest.raises(ValueError, match="choose from: month, area"):
        grouped_counts(demo_store, "crime", ["colour"])


# --------------------------------------------------------------------------- gaps


def _publish_crime(data_dir, records: pd.DataFrame, months: list[str]) -> None:
    with store_module.write_lock(data_dir):
        folder = store_module.new_version_dir(data_dir, "crime")
        store_module.write_parquet(records, folder / "records.parquet")
        store_module.write_parquet(pd.DataFrame({"month": pd.to_datetime(months).date, "source": "test"}), folder / "coverage.parquet")
        store_module.build_monthly(folder, data_dir, MEASURE_SQL["crime"])
        store_module.publish(data_dir, "crime", folder, source="test", synthetic=False)


def test_a_month_not_held_is_a_gap_and_a_held_month_with_no_crimes_is_zero(tmp_data_dir):
    ward = "E05015507"  # Abbey, Derby
    held = ["2025-01-01", "2025-02-01", "2025-04-01"]  # March 2025 missing
    records = pd.DataFrame({
        "record_id": ["a", "b", "c"],
        "month": pd.to_datetime(["2025-01-01", "2025-01-01", "2025-04-01"]).date,
        "measure": ["Shoplifting"] * 3,
        "ward_code": [ward] * 3,
        "location": [geography.IN_AREA] * 3,
    })
    _publish_crime(tmp_data_dir, records, held)
    counts = series.monthly_counts(Store(tmp_data_dir), "crime", CITY, "Shoplifting")
    assert counts[pd.Timestamp("2025-01-01")] == 2
    assert counts[pd.Timestamp("2025-02-01")] == 0
    assert np.isnan(counts[pd.Timestamp("2025-03-01")])
    assert counts[pd.Timestamp("2025-04-01")] == 1


def test_store_reloads_after_a_new_version_is_published(tmp_data_dir):
    reader = Store(tmp_data_dir)
    assert reader.is_synthetic("crime")
    records = pd.DataFrame({
        "record_id": ["a"], "month": pd.to_datetime(["2025-01-01"]).date, "measure": ["Shoplifting"],
        "ward_code": ["E05015507"], "location": [geography.IN_AREA],
    })
    _publish_crime(tmp_data_dir, records, ["2025-01-01"])
    assert not reader.is_synthetic("crime")
    assert series.monthly_counts(reader, "crime", geography.FORCE, "Shoplifting").sum() == 1


def test_a_month_whose_every_row_was_rejected_is_not_held_but_an_empty_file_month_is():
    from queries.importers.common import held_months

    reconciliation = pd.DataFrame({
        "file": ["a.csv", "b.csv", "c.csv"], "month": ["2025-01-01", "2025-02-01", "2025-03-01"],
        "rows_read": [5, 0, 3], "loaded": [0, 0, 3], "outside_area": [0, 0, 0], "unallocated": [0, 0, 0],
        "rejected": [5, 0, 0],
    })
    assert held_months(reconciliation) == set(pd.to_datetime(["2025-02-01", "2025-03-01"]).date)


def test_every_generic_count_path_refuses_raw_marac_counts(demo_store):
    from queries.store import SensitiveData

    calls = [
        lambda: series.monthly_counts(demo_store, "marac", geography.FORCE, "Cases discussed"),
        lambda: series.series_table(demo_store, "marac", geography.FORCE, "Cases discussed", 2025, "pooled", 2, 10),
        lambda: series.summary_table(demo_store, "marac", REPORT, "pooled", 2, 10),
        lambda: series.drilldown(demo_store, "marac", "Erewash", "Cases discussed", REPORT, "pooled", 2, 10),
        lambda: series.rolling_12(demo_store, "marac", "Cases discussed", REPORT),
        lambda: grouped_counts(demo_store, "marac", ["month"]),
    ]
    for call in calls:
        with pytest.raises(SensitiveData, match="export marac"):
            call()
