"""Synthetic fire incidents (demo): deliberate and accidental, primary and secondary."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from queries import geography
from queries.demo.crime import months, _seasonal, _ward_weights


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


