"""The Data tab's accounting: every record is somewhere, and gaps are named."""
from __future__ import annotations

import pandas as pd

from queries import quality
from queries.store import Store
from test_series import _publish_crime


def test_overview_counts_every_record_of_every_dataset(demo_store):
    overview = quality.overview(demo_store).set_index("dataset")
    for dataset in ("crime", "fire", "marac", "hate"):
        raw = len(pd.read_parquet(demo_store.datasets[dataset] / "records.parquet"))
        assert overview.loc[dataset, "records"] == raw
        assert overview.loc[dataset, "synthetic"]


def test_demo_reconciliation_adds_up(demo_store):
    table = quality.reconciliation(demo_store, "crime")
    assert table["adds up"].all()
    assert table["rows_read"].sum() == quality.overview(demo_store).set_index("dataset").loc["crime", "records"]
    assert table["outside_area"].sum() > 0 and table["unallocated"].sum() > 0


def test_missing_months_are_listed_by_name(tmp_data_dir):
    records = pd.DataFrame({"record_id": ["a"], "month": pd.to_datetime(["2025-01-01"]).date, "measure": ["Shoplifting"],
                            "ward_code": ["E05015507"], "location": ["in_area"]})
    _publish_crime(tmp_data_dir, records, ["2025-01-01", "2025-04-01"])
    store = Store(tmp_data_dir)
    assert quality.missing_months(store, "crime") == ["Feb 2025", "Mar 2025"]
    assert quality.overview(store).set_index("dataset").loc["crime", "missing months"] == 2
