"""Synthetic fire incidents (demo), shaped like Derbyshire Fire and Rescue Service's.

Volumes follow the brief: about 650 deliberate fires a quarter force-wide, split by district
as in its Q2 2015/16 table (Amber Valley 78 ... South Derbyshire 39); 38% of deliberate
primary fires involve road vehicles; a few incidents a quarter have no known area (the
brief's 647 in districts vs 650 in total). Deliberate secondary fires peak in spring (grass
fires) and around bonfire night; the level drifts down a few per cent a year, as targets
expect. Only fires are generated: false alarms and special services are not fires and no
fire measure counts them. The IRS property fields are invented first and the property
group is then derived by the same rule the importer uses (queries.fire.property_groups).

`python -m queries.demo.fire --write-targets [DATA_DIR]` writes data/fire-targets.csv from
the demo store (see demo_targets); the file is then a normal, hand-editable file.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from queries import fire, geography
from queries.demo.crime import _ward_weights, months

# Deliberate fires by district in an average quarter (the brief's Q2 2015/16 table).
FIRE_PER_QUARTER = {
    "Amber Valley": 78, "Bolsover": 106, "Chesterfield": 66, "Derby City": 216, "Derbyshire Dales": 9,
    "Erewash": 49, "High Peak": 46, "North East Derbyshire": 38, "South Derbyshire": 39,
}
# The brief's own targets for that quarter (total 590), kept in the targets file as the worked example.
BRIEF_FY, BRIEF_QUARTER = 2015, 2
BRIEF_TARGETS = {
    "Amber Valley": 61, "Bolsover": 108, "Chesterfield": 63, "Derby City": 180, "Derbyshire Dales": 13,
    "Erewash": 52, "High Peak": 37, "North East Derbyshire": 36, "South Derbyshire": 40,
}
PRIMARY_SHARE_DELIBERATE = 0.3
PRIMARY_SHARE_ACCIDENTAL = 0.7
ACCIDENTAL_PER_DELIBERATE = 0.6
# Primary property groups for deliberate fires: "38% of deliberate primary fires had involved road vehicles".
PRIMARY_GROUP_SHARES = {fire.ROAD_VEHICLE: 0.38, fire.BUILDING: 0.52, fire.OTHER_PRIMARY: 0.10}
# Secondary groups: more vegetation in spring and high summer.
SECONDARY_GROUP_SHARES = {fire.RUBBISH: 0.55, fire.VEGETATION: 0.28, fire.OTHER_OUTDOOR: 0.17}
SECONDARY_GROUP_SHARES_DRY = {fire.RUBBISH: 0.42, fire.VEGETATION: 0.45, fire.OTHER_OUTDOOR: 0.13}
DRY_MONTHS = (3, 4, 5, 7, 8)
# Monthly shape of deliberate secondary fires (Jan..Dec), normalised to mean 1 below.
SECONDARY_SEASON = np.array([0.7, 0.8, 1.2, 1.5, 1.3, 1.1, 1.1, 1.1, 0.9, 1.0, 1.2, 0.6])
PRIMARY_SEASON = np.array([1.05, 0.95, 1.0, 1.05, 1.0, 0.95, 1.0, 1.0, 0.95, 1.05, 1.1, 0.9])
YEARLY_TREND = -0.03  # deliberate fires fall about 3% a year...
TREND_CENTRE = "2025-08-01"  # ...passing the brief's volumes in Q2 2025/26
UNALLOCATED_SHARE = 0.005  # about 3 a quarter: the brief's 650 - 647
DELIBERATE_CAUSES = {"Deliberate – others property": 0.55, "Deliberate – unknown owner": 0.40, "Deliberate – own property": 0.05}
ACCIDENTAL_CAUSE = "Accidental"
# (Property Category, Property Type) as the IRS writes them, per intended group.
PROPERTY_EXAMPLES = {
    fire.BUILDING: [("Dwelling", "Building > Dwelling > House - single occupancy"),
                    ("NonResidential", "Building > Non Residential > Private garage"),
                    ("NonResidential", "Building > Non Residential > Private Garden Shed")],
    fire.ROAD_VEHICLE: [("RoadVehicle", "Road Vehicle > Car"), ("RoadVehicle", "Road Vehicle > Motorcycle"),
                        ("RoadVehicle", "Road Vehicle > Van")],
    fire.OTHER_PRIMARY: [("OutdoorStructure", "Outdoor > Outdoor structures > Other outdoor structures"),
                         ("Outdoor", "Outdoor > Outdoor equipment and machinery > Garden equipment")],
    fire.RUBBISH: [("Outdoor", "Outdoor > Other outdoors (including land) > Loose refuse (incl in garden)"),
                   ("OutdoorStructure", "Outdoor > Outdoor structures > Wheelie bin"),
                   ("OutdoorStructure", "Outdoor > Outdoor structures > Large refuse/rubbish container (e.g. skip)")],
    fire.VEGETATION: [("Outdoor", "Outdoor > Grassland, woodland and crops > Grassland, pasture, grazing etc"),
                      ("Outdoor", "Outdoor > Grassland, woodland and crops > Scrub land"),
                      ("Outdoor", "Outdoor > Grassland, woodland and crops > Hedge")],
    fire.OTHER_OUTDOOR: [("Outdoor", "Outdoor > Other outdoors (including land) > Wasteland"),
                         ("OutdoorStructure", "Outdoor > Outdoor structures > Fence"),
                         ("Outdoor", "Outdoor > Other outdoors (including land) > Highway/road surface/pavement")],
}
DEMO_FILE = "synthetic-demo"
# Demo targets: a 3% cut on the average of the same quarter in the years before (or the
# quarter itself in the first year), rounded.
TARGET_REDUCTION = 0.97


def _choose(rng: np.random.Generator, shares: dict[str, float], n: int) -> np.ndarray:
    names = list(shares)
    return np.asarray(names, dtype=object)[rng.choice(len(names), size=n, p=np.array(list(shares.values())))]


def fire_records(data_dir: Path, rng: np.random.Generator) -> pd.DataFrame:
    """Deterministic (given `rng`) fire incidents with every column of fire.RECORD_COLUMNS."""
    wards = geography.ward_areas(data_dir)
    shares = _ward_weights(rng, wards)
    idx = months()
    month_numbers = idx.month.to_numpy() - 1
    years_from_centre = (idx - pd.Timestamp(TREND_CENTRE)).days.to_numpy() / 365.25
    trend = np.exp(YEARLY_TREND * years_from_centre)
    seasons = {
        fire.PRIMARY: PRIMARY_SEASON[month_numbers] / PRIMARY_SEASON.mean(),
        fire.SECONDARY: SECONDARY_SEASON[month_numbers] / SECONDARY_SEASON.mean(),
    }
    parts = []
    for csp, per_quarter in FIRE_PER_QUARTER.items():
        ward_idx = np.flatnonzero(wards["csp"].to_numpy() == csp)
        per_month = per_quarter / 3 * trend
        for deliberate, scale, primary_share in ((True, 1.0, PRIMARY_SHARE_DELIBERATE),
                                                 (False, ACCIDENTAL_PER_DELIBERATE, PRIMARY_SHARE_ACCIDENTAL)):
            for fire_type, share in ((fire.PRIMARY, primary_share), (fire.SECONDARY, 1 - primary_share)):
                expected = np.outer(shares[ward_idx], per_month * scale * share * seasons[fire_type])
                counts = rng.poisson(expected)
                w, m = np.nonzero(counts)
                n = counts[w, m]
                parts.append(pd.DataFrame({
                    "month": np.repeat(idx[m].to_numpy(), n),
                    "ward_code": np.repeat(wards["ward_code"].to_numpy()[ward_idx][w], n),
                    "deliberate": deliberate,
                    "fire_type": fire_type,
                }))
    fires = pd.concat(parts, ignore_index=True)
    n = len(fires)
    primary = (fires["fire_type"] == fire.PRIMARY).to_numpy()
    dry = pd.DatetimeIndex(fires["month"]).month.isin(DRY_MONTHS)
    intended = np.where(
        primary,
        _choose(rng, PRIMARY_GROUP_SHARES, n),
        np.where(dry, _choose(rng, SECONDARY_GROUP_SHARES_DRY, n), _choose(rng, SECONDARY_GROUP_SHARES, n)),
    )
    pick = rng.integers(0, 3, n)
    examples = [PROPERTY_EXAMPLES[g][p % len(PROPERTY_EXAMPLES[g])] for g, p in zip(intended, pick)]
    fires["property_category"] = [c for c, _ in examples]
    fires["property_type"] = [t for _, t in examples]
    fires["cause"] = np.where(fires["deliberate"], _choose(rng, DELIBERATE_CAUSES, n), ACCIDENTAL_CAUSE)
    fires["incident_category"] = fire.FIRE
    fires["property_group"] = fire.property_groups(fires["fire_type"], fires["property_category"], fires["property_type"])
    if not (fires["property_group"].to_numpy() == intended).all():
        raise AssertionError("demo property examples disagree with fire.property_groups")
    areas = wards.set_index("ward_code")
    fires["source_area"] = areas.loc[fires["ward_code"], "csp"].to_numpy() + " / " + areas.loc[fires["ward_code"], "ward_name"].to_numpy()
    fires["district"] = areas.loc[fires["ward_code"], "csp"].to_numpy()
    fires["mapped_ward"] = fires["ward_code"]
    fires["location"] = geography.IN_AREA
    unallocated = rng.random(n) < UNALLOCATED_SHARE
    fires.loc[unallocated, "location"] = geography.NO_LOCATION
    for column in ("ward_code", "district", "mapped_ward", "source_area"):
        fires.loc[unallocated, column] = None
    days = rng.integers(0, 28, n)
    fires["incident_date"] = (pd.to_datetime(fires["month"]) + pd.to_timedelta(days, unit="D")).dt.date
    fires["month"] = pd.to_datetime(fires["month"]).dt.date
    fires = fires.sort_values(["incident_date", "ward_code"], kind="stable", ignore_index=True)
    fires["record_id"] = [f"DEMO-F{i:06d}" for i in range(n)]
    fires["source_file"] = DEMO_FILE
    fires["source_line"] = pd.array([pd.NA] * n, dtype="Int64")
    return fires[list(fire.RECORD_COLUMNS)]


def demo_targets(records: pd.DataFrame, areas: pd.DataFrame) -> pd.DataFrame:
    """Targets for every demo quarter: 3% under the same quarter's average in earlier years.

    A district's target is rounded; the Force Area row is the sum of the districts' (as in
    the brief, where 590 = 61 + 108 + ... + 40). The brief's own Q2 2015/16 targets are
    included as the worked example.
    """
    monthly = fire.monthly_from_records(records, areas)
    deliberate = monthly[monthly["measure"] == fire.KPI_MEASURE].dropna(subset=["csp"]).copy()
    quarters = [fire.quarter_of(m) for m in pd.to_datetime(deliberate["month"])]
    deliberate["fy"] = [q[0] for q in quarters]
    deliberate["quarter"] = [q[1] for q in quarters]
    actual = deliberate.groupby(["csp", "fy", "quarter"])["count"].sum()
    csps = list(areas.drop_duplicates("csp")["csp"])  # every CSP of the demo's force
    rows = [{"district": d, "financial_year": fire.fy_text(BRIEF_FY), "quarter": f"Q{BRIEF_QUARTER}", "target": t}
            for d, t in BRIEF_TARGETS.items()]
    rows.insert(0, {"district": geography.FORCE, "financial_year": fire.fy_text(BRIEF_FY), "quarter": f"Q{BRIEF_QUARTER}",
                    "target": sum(BRIEF_TARGETS.values())})
    years = sorted({fy for _, fy, _ in actual.index})
    for fy in years:
        for quarter in (1, 2, 3, 4):
            district_targets = {}
            for csp in sorted(csps):
                earlier = [actual.get((csp, y, quarter)) for y in range(fy - 3, fy)]
                earlier = [v for v in earlier if v is not None]
                base = np.mean(earlier) if earlier else actual.get((csp, fy, quarter))
                if base is None:
                    continue
                district_targets[csp] = int(round(base * TARGET_REDUCTION))
            if len(district_targets) < len(csps):
                continue
            rows.append({"district": geography.FORCE, "financial_year": fire.fy_text(fy), "quarter": f"Q{quarter}",
                         "target": sum(district_targets.values())})
            rows += [{"district": d, "financial_year": fire.fy_text(fy), "quarter": f"Q{quarter}", "target": t}
                     for d, t in district_targets.items()]
    return pd.DataFrame(rows, columns=fire.TARGET_COLUMNS)


def main(argv: list[str] | None = None) -> int:
    from queries import settings, store

    parser = argparse.ArgumentParser(prog="python -m queries.demo.fire", description=__doc__.splitlines()[0])
    parser.add_argument("--write-targets", action="store_true", help="write fire-targets.csv from the demo fire records")
    parser.add_argument("data_dir", nargs="?", type=Path, default=settings.DEFAULT_DATA_DIR)
    args = parser.parse_args(argv)
    if not args.write_targets:
        parser.error("nothing to do: give --write-targets")
    path = store.current_records(args.data_dir, fire.DATASET)
    if path is None or not store.read_manifest(args.data_dir).get("synthetic", {}).get(fire.DATASET):
        parser.error(f"{args.data_dir} holds no synthetic fire data; run `python app.py demo` first")
    table = demo_targets(pd.read_parquet(path), geography.ward_areas(args.data_dir))
    out = Path(args.data_dir) / fire.TARGETS_FILE
    table.to_csv(out, index=False)
    print(f"wrote {len(table)} targets to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
