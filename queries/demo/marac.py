"""Synthetic MARAC referrals (demo): case level, repeats arise from victims referred again.

Every row is invented (victims are numbered V000001...); nothing here is person-level data.
The case volume jumps at MARAC_THRESHOLD_CHANGE, modelled on the real 2014 lowering of the
referral threshold from 16 to 14 ticks; data/annotations.csv marks it on the charts.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from queries import geography
from queries.demo.crime import LAST_MONTH, months


MARAC_CASES_PER_YEAR_BEFORE = 700
MARAC_CASES_PER_YEAR_AFTER = 1100
# Modelled on the real 2014 change: the referral threshold fell from 16 to 14 ticks.
MARAC_THRESHOLD_CHANGE = "2022-04-01"
MARAC_CITY_SHARE = 0.36
# Chance a victim is referred again, and the gap in days: 0.36 with gaps up to ~15 months
# gives a repeat rate near the local 27% target (about 0.36 x 0.77 of gaps within a year).
MARAC_REPEAT_PROBABILITY = 0.36
MARAC_REPEAT_GAP_DAYS = (14, 470)
# Every canonical agency of queries.marac.AGENCIES, with rough SafeLives-like shares.
MARAC_AGENCY_SHARES = {
    "Police": 0.62, "IDVA": 0.11, "Health": 0.07, "Children's Social Care": 0.06, "Adult Social Care": 0.02,
    "Housing": 0.03, "Probation": 0.03, "Education": 0.01, "Substance misuse": 0.01, "Voluntary sector": 0.02,
    "Other": 0.02,
}


def marac_records(data_dir: Path, rng: np.random.Generator) -> pd.DataFrame:
    """Case-level referrals; repeats arise from victims referred again, not from a flag."""
    wards = geography.ward_areas(data_dir)
    city = (wards["csp"] == wards["parent"]).to_numpy()  # a unitary's wards: Derby City's (the City MARAC)
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
                date = date + pd.Timedelta(days=int(rng.integers(*MARAC_REPEAT_GAP_DAYS)))  # some beyond 12 months
    marac = pd.DataFrame(rows, columns=["victim_id", "referral_date", "ward_code"])
    marac = marac[marac["referral_date"] <= pd.Timestamp(LAST_MONTH) + pd.offsets.MonthEnd(0)]
    marac = marac.sort_values(["referral_date", "victim_id"], ignore_index=True)
    marac["month"] = marac["referral_date"].dt.to_period("M").dt.to_timestamp()
    marac["referral_date"] = marac["referral_date"].dt.date  # a date, as the importer stores it
    marac["referring_agency"] = rng.choice(list(MARAC_AGENCY_SHARES), size=len(marac), p=list(MARAC_AGENCY_SHARES.values()))
    marac["location"] = geography.IN_AREA
    marac.insert(0, "record_id", [f"DEMO-M{i:06d}" for i in range(len(marac))])
    return marac[["record_id", "victim_id", "referral_date", "month", "ward_code", "location", "referring_agency"]]


