"""Deterministic synthetic demo store, so the dashboard works offline on a fresh clone.

Rebuild with `python app.py demo [--data-dir DIR]` (fixed seeds: the same figures every time).
Every figure it writes is SYNTHETIC: shaped like Derbyshire's but not real, and the app
marks it as such wherever it is shown. One module per dataset.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from queries import datasets, geography, owners, store
from queries.demo import crime
from queries.measures import MEASURE_SQL

SEED = crime.SEED
SOURCE = crime.SOURCE



def generators() -> dict:
    """dataset key -> synthetic generator, from the dataset registry (views have none)."""
    return {d.key: datasets.resolve(d.demo) for d in datasets.DATASETS.values() if d.demo}




# The demo is Derbyshire's: its force and grouping files (CSP names, SNAs) travel with the repo.
DEMO_GEOGRAPHY = Path(__file__).resolve().parents[2] / "data" / "geography"
DEMO_GEOGRAPHY_FILES = ("forces.csv", "areas.csv")


def build_demo(data_dir: Path) -> dict[str, int]:
    """Write all four synthetic datasets into `data_dir`, each swapped in atomically.

    A directory that names no force yet becomes a Derbyshire store (the demo's geography files).
    """
    data_dir = Path(data_dir)
    if not (data_dir / "geography" / "forces.csv").exists():
        (data_dir / "geography").mkdir(parents=True, exist_ok=True)
        for name in DEMO_GEOGRAPHY_FILES:
            target = data_dir / "geography" / name
            if not target.exists():
                target.write_bytes((DEMO_GEOGRAPHY / name).read_bytes())
    written = {}
    for offset, (dataset, generate) in enumerate(generators().items()):
        rng = np.random.default_rng(SEED + offset)
        records = generate(data_dir, rng)
        records["month"] = pd.to_datetime(records["month"]).dt.date
        records["force"] = owners.default_owner(data_dir)  # the store's force: the demo is its own data
        with store.write_lock(data_dir):
            folder = store.new_version_dir(data_dir, dataset)
            store.write_parquet(records, folder / "records.parquet")
            coverage = pd.DataFrame({"month": crime.months().date, "source": SOURCE, "force": owners.default_owner(data_dir)})
            store.write_parquet(coverage, folder / "coverage.parquet")
            store.write_parquet(
                pd.DataFrame({"file": [SOURCE], "rows_read": [len(records)], "loaded": [int((records["location"] == geography.IN_AREA).sum())],
                              "outside_area": [int((records["location"] == geography.OUTSIDE_AREA).sum())],
                              "unallocated": [int((records["location"] == geography.NO_LOCATION).sum())], "rejected": [0],
                              "force": [owners.default_owner(data_dir)]}),
                folder / "reconciliation.parquet",
            )
            store.build_monthly(folder, data_dir, MEASURE_SQL[dataset])
            store.publish(data_dir, dataset, folder, source=SOURCE, synthetic=True)
        written[dataset] = len(records)
    return written
