"""Synthetic hate incidents and crimes (demo), by monitored strand, with crime outcomes.

Every row is invented. Volumes follow the board's packs: about 800 incidents and 500 crimes
a year force-wide, strands in the 2013-14 shares, about half of crimes with a positive
outcome, and the latest months' crimes partly still awaiting an outcome (as in real data).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from queries import geography
from queries.demo.crime import CRIME_PER_YEAR, months, _seasonal, _ward_weights
from queries.hate import OUTCOMES

HATE_INCIDENTS_PER_YEAR = 800
HATE_CRIMES_PER_YEAR = 500
HATE_STRANDS = {
    "Race": 0.763, "Sexual orientation": 0.130, "Disability": 0.052,
    "Religion": 0.035, "Transgender": 0.012, "Other": 0.008,
}
HATE_POSITIVE_OUTCOME = 0.5
# Outcome codes drawn for resolved crimes, positive and not, with rough relative weights.
POSITIVE_CODES = {1: 0.45, 3: 0.15, 2: 0.05, 8: 0.25, 6: 0.05, 22: 0.05}
OTHER_CODES = {16: 0.35, 14: 0.25, 18: 0.2, 15: 0.1, 21: 0.05, 20: 0.05}
# Share of crimes still awaiting an outcome in the latest month, the one before, and so on.
PENDING_BY_AGE = [0.45, 0.25, 0.12, 0.05]
PENDING_OLDER = 0.01


def _draw(rng: np.random.Generator, weights: dict[int, float], n: int) -> np.ndarray:
    p = np.array(list(weights.values()))
    return rng.choice(list(weights), size=n, p=p / p.sum())


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
    crime = (hate["kind"] == "Crime").to_numpy()
    age = (idx[-1].year - pd.DatetimeIndex(hate["month"]).year) * 12 + (idx[-1].month - pd.DatetimeIndex(hate["month"]).month)
    pending_p = np.where(age < len(PENDING_BY_AGE), np.array(PENDING_BY_AGE + [0])[np.minimum(age, len(PENDING_BY_AGE))], PENDING_OLDER)
    pending = crime & (rng.random(n) < pending_p)
    positive = crime & ~pending & (rng.random(n) < HATE_POSITIVE_OUTCOME)
    codes = np.where(positive, _draw(rng, POSITIVE_CODES, n), _draw(rng, OTHER_CODES, n)).astype(float)
    codes[~crime | pending] = np.nan
    hate["outcome_code"] = pd.array(codes, dtype="Int64")
    hate["outcome"] = [OUTCOMES[int(c)][0] if c == c else None for c in codes]
    hate["positive_outcome"] = positive
    hate["location"] = geography.IN_AREA
    hate = hate.sort_values(["month", "kind", "ward_code"], kind="stable", ignore_index=True)
    hate.insert(0, "record_id", [f"DEMO-H{i:06d}" for i in range(n)])
    return hate[["record_id", "month", "ward_code", "location", "kind", "strand", "outcome_code", "outcome", "positive_outcome"]]
