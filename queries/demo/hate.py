"""Synthetic hate incidents and crimes (demo), by monitored strand."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from queries import geography
from queries.demo.crime import CRIME_PER_YEAR, months, _seasonal, _ward_weights


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


