"""Deterministic synthetic demo store, so the dashboard works offline on a fresh clone.

Rebuild with `python app.py demo [--data-dir DIR]` (fixed seed: the same files every time).
Every figure it writes is SYNTHETIC: shaped like Derbyshire's (volumes calibrated to the
board's Table 1, real 2025 wards, summer peaks in violence and ASB, a 2020 lockdown dip,
rising shoplifting) but not real. The app marks it as such wherever it is shown.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from queries import geography
from queries.measures import ASB

SEED = 20141
FIRST_MONTH = "2020-04-01"
LAST_MONTH = "2026-10-01"
SOURCE = "Synthetic demo data (queries/demo/, seed 20141)"

# All crime a year by CSP: the board's Table 1, 12 months to Sept 2015.
CRIME_PER_YEAR = {
    "Amber Valley": 5427,
    "Bolsover": 3610,
    "Chesterfield": 5820,
    "Derbyshire Dales": 2017,
    "Erewash": 5641,
    "High Peak": 3404,
    "North East Derbyshire": 2598,
    "South Derbyshire": 3291,
    "Derby City": 20584,
}
# Share of all crime by group, and its seasonal swing (+ peaks in July, - peaks in January).
CRIME_MIX = {
    "Violence with injury": (0.12, 0.12),
    "Violence without Injury": (0.13, 0.10),
    "Criminal damage and arson": (0.14, 0.08),
    "Shoplifting": (0.10, 0.0),
    "Other stealing": (0.12, 0.05),
    "Domestic burglary": (0.06, -0.12),
    "Non domestic burglary": (0.06, -0.05),
    "Theft from Vehicle": (0.06, -0.08),
    "Theft of Vehicle": (0.02, -0.08),
    "Interfere with Vehicle": (0.01, 0.0),
    "Personal robbery": (0.01, -0.05),
    "Business Robbery": (0.002, 0.0),
    "Public disorder": (0.05, 0.10),
    "Sexual Offences": (0.025, 0.04),
    "Drug Offences": (0.04, 0.05),
    "Fraud and forgery": (0.015, 0.0),
    "Other non-victim based": (0.03, 0.0),
    "Disrupted crimes": (0.005, 0.0),
}
ASB_PER_CRIME = 0.6
ASB_SEASONAL = 0.25
OUTSIDE_SHARE = 0.01  # police.uk: 0.3-1.8% of a force's records lie outside its area
UNALLOCATED_SHARE = 0.0005

# Injected exceptions (CSP, neighbourhood, measure, month, extra rate multiplier): real-looking
# spikes in the last months, so the exception table has something to explain.
EXCEPTIONS = [
    ("Chesterfield", "Chesterfield Town Centre", "Shoplifting", "2026-10-01", 2.2),
    ("Chesterfield", "Chesterfield Town Centre", "Shoplifting", "2026-09-01", 1.6),
    ("Amber Valley", "Ripley Town Centre", "Theft from Vehicle", "2026-10-01", 3.5),
    ("Erewash", "Long Eaton Town", "Violence without Injury", "2026-09-01", 2.0),
    ("Derbyshire Dales", "Matlock", "Violence with injury", "2026-05-01", 2.5),
    ("Bolsover", "Shirebrook", ASB, "2026-08-01", 2.5),
    ("High Peak", "Buxton Town Centre", "Criminal damage and arson", "2026-10-01", 2.6),
    ("Derby City", "Arboretum", "Personal robbery", "2026-10-01", 3.0),
]
# Amber Valley other stealing falls away in the current year (a "Below" to explain).
BELOW = ("Amber Valley", "Other stealing", "2026-06-01", 0.6)


def months() -> pd.DatetimeIndex:
    return pd.date_range(FIRST_MONTH, LAST_MONTH, freq="MS")


def _seasonal(month_numbers: np.ndarray, swing: float) -> np.ndarray:
    return 1 + swing * np.cos(2 * np.pi * (month_numbers - 7) / 12)


def _lockdown(month_index: pd.DatetimeIndex, measure: str) -> np.ndarray:
    """Spring 2020 and winter 2020-21 lockdowns: fewer thefts, more ASB reports."""
    factor = np.ones(len(month_index))
    locked = month_index.isin(pd.to_datetime(["2020-04-01", "2020-05-01", "2020-11-01", "2021-01-01", "2021-02-01"]))
    if measure == ASB:
        factor[locked] = 1.6
    elif measure in ("Shoplifting", "Other stealing", "Personal robbery", "Theft from Vehicle", "Domestic burglary"):
        factor[locked] = 0.6
    else:
        factor[locked] = 0.85
    return factor


def _ward_weights(rng: np.random.Generator, wards: pd.DataFrame) -> np.ndarray:
    """Small-area variation: lognormal ward weights, town centres busier."""
    weights = rng.lognormal(0, 0.45, len(wards))
    central = wards["neighbourhood"].str.contains("Town Centre|Centre|Arboretum|Spire|Central", regex=True)
    weights[central.to_numpy()] *= 2.2
    shares = np.zeros(len(wards))
    for csp, idx in wards.groupby("csp").indices.items():
        shares[idx] = weights[idx] / weights[idx].sum()
    return shares


def crime_counts(data_dir: Path, rng: np.random.Generator) -> pd.DataFrame:
    """Expected-then-Poisson counts per ward x measure x month."""
    wards = geography.ward_areas(data_dir)
    csps = geography.areas(data_dir).csps  # Derbyshire's nine (CRIME_PER_YEAR names them)
    shares = _ward_weights(rng, wards)
    idx = months()
    t_years = (np.arange(len(idx)) - len(idx) + 1) / 12.0  # years before the last month
    frames = []
    mix = dict(CRIME_MIX)
    total_share = sum(s for s, _ in mix.values())
    mix[ASB] = (ASB_PER_CRIME * total_share, ASB_SEASONAL)
    for measure, (share, swing) in mix.items():
        trend = rng.normal(0.0, 0.03, len(csps))
        if measure == "Shoplifting":
            trend += 0.08  # shoplifting rose sharply from 2022
        season = _seasonal(idx.month.to_numpy(), swing) * _lockdown(idx, measure)
        for c, csp in enumerate(csps):
            monthly_base = CRIME_PER_YEAR[csp] * share / total_share / 12
            level = monthly_base * season * np.exp(trend[c] * t_years)
            ward_idx = np.flatnonzero(wards["csp"].to_numpy() == csp)
            expected = np.outer(shares[ward_idx], level)  # wards x months
            frames.append((measure, csp, ward_idx, expected))
    return wards, idx, frames


def _apply_exceptions(wards, idx, frames):
    lookup = {(m, csp): (w, e) for m, csp, w, e in frames}
    for csp, hood, measure, month, factor in EXCEPTIONS:
        ward_idx, expected = lookup[(measure, csp)]
        col = idx.get_loc(pd.Timestamp(month))
        rows = wards.iloc[ward_idx]["neighbourhood"].to_numpy() == hood
        if not rows.any():
            raise ValueError(f"demo exception names unknown neighbourhood {hood!r} in {csp}")
        expected[rows, col] *= factor
        if factor > 1.5:  # a spike of this size is 10+ extra crimes, even in a quiet SNA
            expected[rows, col] += 12 / rows.sum()
    csp, measure, start, factor = BELOW
    _, expected = lookup[(measure, csp)]
    expected[:, idx >= pd.Timestamp(start)] *= factor


def crime_records(data_dir: Path, rng: np.random.Generator) -> pd.DataFrame:
    wards, idx, frames = crime_counts(data_dir, rng)
    _apply_exceptions(wards, idx, frames)
    parts = []
    for measure, csp, ward_idx, expected in frames:
        counts = rng.poisson(expected)
        w, m = np.nonzero(counts)
        n = counts[w, m]
        parts.append(
            pd.DataFrame(
                {
                    "month": np.repeat(idx[m].to_numpy(), n),
                    "measure": measure,
                    "ward_code": np.repeat(wards["ward_code"].to_numpy()[ward_idx][w], n),
                }
            )
        )
    records = pd.concat(parts, ignore_index=True)
    records["location"] = geography.IN_AREA
    # A force's records include some placed just outside its area, and a few with no place.
    where = rng.random(len(records))
    records.loc[where < OUTSIDE_SHARE, "location"] = geography.OUTSIDE_AREA
    records.loc[where > 1 - UNALLOCATED_SHARE, "location"] = geography.NO_LOCATION
    records.loc[records["location"] != geography.IN_AREA, "ward_code"] = None
    records = records.sort_values(["month", "measure", "ward_code"], kind="stable", ignore_index=True)
    records.insert(0, "record_id", [f"DEMO-C{i:07d}" for i in range(len(records))])
    records["source_category"] = records["measure"]
    return records


