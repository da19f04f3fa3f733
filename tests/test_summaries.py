"""Charts in words (queries/summaries.py), on hand-made series tables."""
from __future__ import annotations

import numpy as np
import pandas as pd

from queries import limits
from queries.summaries import chart_summary, month_sentence


def _table(counts, status, upper=60.0, lower=20.0, low_volume=None) -> pd.DataFrame:
    months = pd.date_range("2026-04-01", periods=len(counts), freq="MS")
    return pd.DataFrame({
        "month": months, "count": counts, "monthly_average_prev3": 40.0, "average": 41.0,
        "upper": upper, "lower": lower, "status": status,
        "low_volume": low_volume or [False] * len(counts),
    })


def test_report_month_above_names_the_count_and_the_margin():
    table = _table([40.0, 64.0, 53.0, np.nan], ["", limits.ABOVE, "", limits.NO_DATA], upper=[50, 60.1, 46, 50])
    text = chart_summary(table, "Chesterfield - Shoplifting", pd.Timestamp("2026-05-01"))
    assert text == ("Chesterfield - Shoplifting, May 2026: 64, 3.9 above the upper line (60.1). "
                    "This year so far: 1 month above the upper line (May 2026), none below the lower line.")


def test_latest_held_month_is_the_default_and_within_gives_the_band():
    table = _table([40.0, 12.0, 41.0, np.nan], ["", limits.BELOW, "", limits.NO_DATA])
    text = chart_summary(table, "Erewash - Burglary")
    assert text.startswith("Erewash - Burglary, June 2026: 41, within the lines (20 to 60); expected 40.")
    assert "1 month below the lower line (May 2026)" in text and "none above the upper line" in text


def test_missing_month_no_limits_and_low_volume_are_said_plainly():
    row = _table([np.nan], [limits.NO_DATA]).iloc[0]
    assert month_sentence(row) == "April 2026: no data held"
    row = _table([7.0], [limits.NO_LIMITS], upper=np.nan).iloc[0]
    assert month_sentence(row) == "April 2026: 7 (no earlier years to set limits)"
    row = _table([9.0], [limits.ABOVE], upper=5.0, low_volume=[True]).iloc[0]
    assert month_sentence(row).endswith("4 above the upper line (5) (under the significance threshold: low volume)")


def test_a_month_outside_the_chart_is_said_not_guessed():
    assert chart_summary(_table([1.0], [""]), "X", pd.Timestamp("2030-01-01")) == "X: January 2030 is not in this chart."
    assert chart_summary(_table([], []), "X") == "X: no months to show."


def test_the_words_agree_with_the_engine_on_the_demo_store(demo_store):
    from queries.series import series_table

    table = series_table(demo_store, "crime", "Chesterfield", "Shoplifting", 2026, "pooled", 2, 10,
                         report_month=pd.Timestamp("2026-10-01"))
    text = chart_summary(table, "Chesterfield - Shoplifting", pd.Timestamp("2026-10-01"))
    above = table[table["status"] == limits.ABOVE]
    assert f"{len(above)} months above the upper line" in text
    october = table.set_index("month").loc["2026-10-01"]
    assert f"October 2026: {october['count']:.0f}, " in text
