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

from queries import geography, store
from queries.measures import ASB, MEASURE_SQL

SEED = 20141
FIRST_MONTH = "2020-04-01"
LAST_MONTH = "2026-10-01"
SOURCE = "Synthetic demo data (queries/demo.py, seed 20141)"

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
# High Peak domestic burglary falls away in the current year (a "Below" to explain).
BELOW = ("High Peak", "Domestic burglary", "2026-04-01", 0.45)


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
    shares = _ward_weights(rng, wards)
    idx = months()
    t_years = (np.arange(len(idx)) - len(idx) + 1) / 12.0  # years before the last month
    frames = []
    mix = dict(CRIME_MIX)
    total_share = sum(s for s, _ in mix.values())
    mix[ASB] = (ASB_PER_CRIME * total_share, ASB_SEASONAL)
    for measure, (share, swing) in mix.items():
        trend = rng.normal(0.0, 0.03, len(geography.CSPS))
        if measure == "Shoplifting":
            trend += 0.08  # shoplifting rose sharply from 2022
        season = _seasonal(idx.month.to_numpy(), swing) * _lockdown(idx, measure)
        for c, csp in enumerate(geography.CSPS):
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


# --------------------------------------------------------------------------- fire

# Deliberate fires by district, one quarter (the brief's Q2 2015/16 table).
FIRE_PER_QUARTER = {
    "Amber Valley": 78, "Bolsover": 106, "Chesterfield": 66, "Derby City": 216, "Derbyshire Dales": 9,
    "Erewash": 49, "High Peak": 46, "North East Derbyshire": 38, "South Derbyshire": 39,
}
PRIMARY_SHARE = 0.3
ROAD_VEHICLE_SHARE_OF_PRIMARY = 0.38
ACCIDENTAL_PER_DELIBERATE = 0.6


def fire_records(data_dir: Path, rng: np.random.Generator) -> pd.DataFrame:
    wards = geography.ward_areas(data_dir)
    shares = _ward_weights(rng, wards)
    idx = months()
    rows = []
    spring_summer = _seasonal(idx.month.to_numpy(), 0.35) * np.where(idx.month.isin([3, 4, 5]), 1.25, 1.0)
    for csp, per_quarter in FIRE_PER_QUARTER.items():
        ward_idx = np.flatnonzero(wards["csp"].to_numpy() == csp)
        base = per_quarter / 3 * spring_summer
        for deliberate, scale in ((True, 1.0), (False, ACCIDENTAL_PER_DELIBERATE)):
            expected = np.outer(shares[ward_idx], base * scale)
            counts = rng.poisson(expected)
            w, m = np.nonzero(counts)
            n = counts[w, m]
            rows.append(pd.DataFrame({
                "month": np.repeat(idx[m].to_numpy(), n),
                "ward_code": np.repeat(wards["ward_code"].to_numpy()[ward_idx][w], n),
                "deliberate": deliberate,
            }))
    fires = pd.concat(rows, ignore_index=True)
    n = len(fires)
    primary = rng.random(n) < np.where(fires["deliberate"], PRIMARY_SHARE, 0.7)
    fires["fire_type"] = np.where(primary, "Primary", "Secondary")
    primary_group = np.where(rng.random(n) < ROAD_VEHICLE_SHARE_OF_PRIMARY, "Road vehicle", "Building")
    secondary_group = rng.choice(["Rubbish", "Vegetation", "Other outdoor"], size=n, p=[0.55, 0.3, 0.15])
    fires["property_group"] = np.where(primary, primary_group, secondary_group)
    fires["cause"] = np.where(fires["deliberate"], "Deliberate - others property", "Accidental")
    fires["location"] = geography.IN_AREA
    unallocated = rng.random(n) < 0.005
    fires.loc[unallocated, "location"] = geography.NO_LOCATION
    fires.loc[unallocated, "ward_code"] = None
    days = rng.integers(0, 28, n)
    fires["incident_date"] = pd.to_datetime(fires["month"]) + pd.to_timedelta(days, unit="D")
    fires = fires.sort_values(["incident_date", "ward_code"], kind="stable", ignore_index=True)
    fires.insert(0, "record_id", [f"DEMO-F{i:06d}" for i in range(n)])
    return fires


# --------------------------------------------------------------------------- MARAC

MARAC_CASES_PER_YEAR_BEFORE = 700
MARAC_CASES_PER_YEAR_AFTER = 1100
# Modelled on the real 2014 change: the referral threshold fell from 16 to 14 ticks.
MARAC_THRESHOLD_CHANGE = "2022-04-01"
MARAC_CITY_SHARE = 0.36
MARAC_REPEAT_PROBABILITY = 0.3
MARAC_AGENCIES = ["Police", "IDVA", "Health", "Children's Social Care", "Housing", "Probation", "Other"]
MARAC_AGENCY_SHARES = [0.62, 0.12, 0.09, 0.07, 0.04, 0.03, 0.03]


def marac_records(data_dir: Path, rng: np.random.Generator) -> pd.DataFrame:
    """Case-level referrals; repeats arise from victims referred again, not from a flag."""
    wards = geography.ward_areas(data_dir)
    city = wards["csp"].to_numpy() == geography.CITY
    idx = months()
    rows = []
    victim = 0
    for month in idx:
        per_year = MARAC_CASES_PER_YEAR_AFTER if month >= pd.Timestamp(MARAC_THRESHOLD_CHANGE) else MARAC_CASES_PER_YEAR_BEFORE
        new_cases = rng.poisson(per_year / 12 * (1 - MARAC_REPEAT_PROBABILITY * 0.9))
        for _ in range(new_cases):
            victim += 1
            ward = rng.choice(np.flatnonzero(city if rng.random() < MARAC_CITY_SHARE else ~city))
            date = month + pd.Timedelta(days=int(rng.integers(0, 28)))
            while date <= pd.Timestamp(LAST_MONTH) + pd.offsets.MonthEnd(0):
                rows.append((f"V{victim:06d}", date, wards["ward_code"].iat[ward]))
                if rng.random() >= MARAC_REPEAT_PROBABILITY:
                    break
                date = date + pd.Timedelta(days=int(rng.integers(20, 540)))  # some beyond 12 months
    marac = pd.DataFrame(rows, columns=["victim_id", "referral_date", "ward_code"])
    marac = marac[marac["referral_date"] <= pd.Timestamp(LAST_MONTH) + pd.offsets.MonthEnd(0)]
    marac = marac.sort_values(["referral_date", "victim_id"], ignore_index=True)
    marac["month"] = marac["referral_date"].dt.to_period("M").dt.to_timestamp()
    marac["referring_agency"] = rng.choice(MARAC_AGENCIES, size=len(marac), p=MARAC_AGENCY_SHARES)
    marac["location"] = geography.IN_AREA
    marac.insert(0, "record_id", [f"DEMO-M{i:06d}" for i in range(len(marac))])
    return marac[["record_id", "victim_id", "referral_date", "month", "ward_code", "location", "referring_agency"]]


# --------------------------------------------------------------------------- hate

HATE_INCIDENTS_PER_YEAR = 800
HATE_CRIMES_PER_YEAR = 500
HATE_STRANDS = {
    "Race": 0.763, "Sexual orientation": 0.130, "Disability": 0.052,
    "Religion": 0.035, "Transgender": 0.012, "Other": 0.008,
}
HATE_POSITIVE_OUTCOME = 0.5


def hate_records(data_dir: Path, rng: np.random.Generator) -> pd.DataFrame:
    wards = geography.ward_areas(data_dir)
    crime_weight = wards["csp"].map(CRIME_PER_YEAR).to_numpy() * _ward_weights(rng, wards)
    crime_weight = crime_weight / crime_weight.sum()
    idx = months()
    parts = []
    for kind, per_year in (("Incident", HATE_INCIDENTS_PER_YEAR), ("Crime", HATE_CRIMES_PER_YEAR)):
        expected = np.outer(crime_weight, np.full(len(idx), per_year / 12) * _seasonal(idx.month.to_numpy(), 0.1))
        counts = rng.poisson(expected)
        w, m = np.nonzero(counts)
        n = counts[w, m]
        parts.append(pd.DataFrame({
            "month": np.repeat(idx[m].to_numpy(), n),
            "ward_code": np.repeat(wards["ward_code"].to_numpy()[w], n),
            "kind": kind,
        }))
    hate = pd.concat(parts, ignore_index=True)
    n = len(hate)
    hate["strand"] = rng.choice(list(HATE_STRANDS), size=n, p=np.array(list(HATE_STRANDS.values())) / sum(HATE_STRANDS.values()))
    hate["positive_outcome"] = (hate["kind"] == "Crime") & (rng.random(n) < HATE_POSITIVE_OUTCOME)
    hate["location"] = geography.IN_AREA
    hate = hate.sort_values(["month", "kind", "ward_code"], kind="stable", ignore_index=True)
    hate.insert(0, "record_id", [f"DEMO-H{i:06d}" for i in range(n)])
    return hate


GENERATORS = {"crime": crime_records, "fire": fire_records, "marac": marac_records, "hate": hate_records}


def build_demo(data_dir: Path) -> dict[str, int]:
    """Write all four synthetic datasets into `data_dir`, each swapped in atomically."""
    data_dir = Path(data_dir)
    written = {}
    for offset, (dataset, generate) in enumerate(GENERATORS.items()):
        rng = np.random.default_rng(SEED + offset)
        records = generate(data_dir, rng)
        records["month"] = pd.to_datetime(records["month"]).dt.date
        with store.write_lock(data_dir):
            folder = store.new_version_dir(data_dir, dataset)
            store.write_parquet(records, folder / "records.parquet")
            coverage = pd.DataFrame({"month": months().date, "source": SOURCE})
            store.write_parquet(coverage, folder / "coverage.parquet")
            store.write_parquet(
                pd.DataFrame({"file": [SOURCE], "rows_read": [len(records)], "loaded": [int((records["location"] == geography.IN_AREA).sum())],
                              "outside_area": [int((records["location"] == geography.OUTSIDE_AREA).sum())],
                              "unallocated": [int((records["location"] == geography.NO_LOCATION).sum())], "rejected": [0]}),
                folder / "reconciliation.parquet",
            )
            store.build_monthly(folder, data_dir, MEASURE_SQL[dataset])
            store.publish(data_dir, dataset, folder, source=SOURCE, synthetic=True)
        written[dataset] = len(records)
    return written
