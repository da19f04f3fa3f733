"""What the neighbourhood map shows: each ward of a CSP with its neighbourhood's status from the
limit engine and how far the neighbourhood is from expected.

Status and counts come from `series.drilldown` (the same numbers as the drill-down table), so
the map, the table and the chart never disagree. Distance from expected is

    z = (count - monthly average of the previous three years) / spread

where spread is the engine's spread for that month: the upper line is expected + k x spread,
so spread = (upper - expected) / k whatever the method. z is blank where there is no spread
(no baseline, or a baseline of zeros) rather than infinite.
"""
from __future__ import annotations

import copy

import numpy as np
import pandas as pd

from queries import series
from queries.boundaries import load_boundaries
from queries.store import Store

# Wards are drawn by neighbourhood: every ward of a neighbourhood takes its neighbourhood's figures.
COLUMNS = ["ward_code", "ward_name", "neighbourhood", "count", "expected", "upper", "lower", "spread", "z",
           "status", "low_volume"]


def distance_from_expected(count, expected, upper, k: float) -> tuple[np.ndarray, np.ndarray]:
    """(spread, z) from the engine's columns: spread = (upper - expected) / k, z = (count - expected) / spread,
    NaN where there is no spread or no count."""
    if not k > 0:
        raise ValueError(f"k must be above 0 to work out the spread, got {k!r}")
    count, expected, upper = (np.asarray(v, dtype=float) for v in (count, expected, upper))
    spread = (upper - expected) / k
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(spread > 0, (count - expected) / spread, np.nan)
    return spread, z


def neighbourhood_status(
    store: Store, dataset: str, csp: str, measure: str, report_month: pd.Timestamp, method: str, k: float,
    min_significant: int,
) -> pd.DataFrame:
    """One row per neighbourhood of `csp` for the report month: drill-down figures plus spread and z."""
    if not k > 0:  # checked before the query, so a bad k costs nothing
        raise ValueError(f"k must be above 0 to work out the spread, got {k!r}")
    table = series.drilldown(store, dataset, csp, measure, report_month, method, k, min_significant)
    spread, z = distance_from_expected(table["count"], table["expected"], table["upper"], k)
    return table.assign(spread=spread, z=z)


def ward_status(
    store: Store, dataset: str, csp: str, measure: str, report_month: pd.Timestamp, method: str, k: float,
    min_significant: int,
) -> pd.DataFrame:
    """One row per ward of `csp` (COLUMNS), carrying its neighbourhood's figures."""
    hoods = neighbourhood_status(store, dataset, csp, measure, report_month, method, k, min_significant)
    wards = store.query(
        "SELECT ward_code, ward_name, neighbourhood FROM areas WHERE csp = ? ORDER BY neighbourhood, ward_name", [csp]
    )
    return wards.merge(hoods, on="neighbourhood", how="left")[COLUMNS]


def csp_boundaries(store: Store, ward_codes: list[str]) -> tuple[dict, list[str]]:
    """The GeoJSON features for these wards, and the codes that have no boundary in the store."""
    collection = load_boundaries.shared(store.data_dir)  # read only: the wanted features are copied below
    wanted = set(ward_codes)
    features = [copy.deepcopy(f) for f in collection["features"] if f.get("id") in wanted]
    missing = sorted(wanted - {f["id"] for f in features})
    return {"type": "FeatureCollection", "features": features}, missing
