"""Charts in words: one or two sentences a screen reader reads instead of a trend chart (and
that a printout keeps), e.g. "Chesterfield - Shoplifting, October 2026: 64, 4 above the upper
line (60.1). This year so far: 2 months above the upper line (Sep 2026, Oct 2026), none below."

Pure functions of the engine's series table (queries.limits.series_limits / series.series_table),
so the words always agree with the chart drawn from the same table.
"""
from __future__ import annotations

import math

import pandas as pd

from queries import limits


def _n(value: float, digits: int = 1) -> str:
    """53 for whole numbers, 60.1 otherwise; never "nan"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "not known"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.{digits}f}"


def month_sentence(row: pd.Series) -> str:
    """What one month of the chart says: its count and where it sits against the lines."""
    month = f"{pd.Timestamp(row['month']):%B %Y}"
    status = row["status"]
    if status == limits.NO_DATA:
        return f"{month}: no data held"
    count = row["count"]
    if status == limits.NO_LIMITS or pd.isna(row["upper"]):
        return f"{month}: {_n(count)} (no earlier years to set limits)"
    caveat = " (under the significance threshold: low volume)" if bool(row.get("low_volume", False)) else ""
    if status == limits.ABOVE:
        return f"{month}: {_n(count)}, {_n(count - row['upper'])} above the upper line ({_n(row['upper'])}){caveat}"
    if status == limits.BELOW:
        return f"{month}: {_n(count)}, {_n(row['lower'] - count)} below the lower line ({_n(row['lower'])}){caveat}"
    return (f"{month}: {_n(count)}, within the lines ({_n(row['lower'])} to {_n(row['upper'])}); "
            f"expected {_n(row['monthly_average_prev3'])}")


def chart_summary(table: pd.DataFrame, title: str, report_month: pd.Timestamp | None = None) -> str:
    """The report month's sentence, then how many months of the year so far were above or below."""
    if table.empty:
        return f"{title}: no months to show."
    months = pd.to_datetime(table["month"])
    held = table[table["status"] != limits.NO_DATA]
    if report_month is None:
        report_month = months[table["status"] != limits.NO_DATA].max() if len(held) else months.max()
    report_month = pd.Timestamp(report_month)
    current = table[months == report_month]
    if current.empty:
        return f"{title}: {report_month:%B %Y} is not in this chart."
    parts = [f"{title}, {month_sentence(current.iloc[0])}."]
    so_far = table[months <= report_month]
    counts = []
    for status, words in ((limits.ABOVE, "above the upper line"), (limits.BELOW, "below the lower line")):
        flagged = pd.to_datetime(so_far.loc[so_far["status"] == status, "month"])
        if len(flagged):
            listed = ", ".join(f"{m:%b %Y}" for m in flagged)
            counts.append(f"{len(flagged)} month{'s' if len(flagged) > 1 else ''} {words} ({listed})")
        else:
            counts.append(f"none {words}")
    parts.append("This year so far: " + ", ".join(counts) + ".")
    return " ".join(parts)
