"""The area hierarchy: ward -> neighbourhood (SNA) -> CSP -> County Council Area / Derby City -> Force Area.

Wards are the nearest public unit to the police's Safer Neighbourhood Areas. An SNA is a
named group of wards (`data/geography/sna-wards.csv`, editable); a ward in no named SNA is
its own neighbourhood.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

FORCE = "Force Area"
COUNTY = "County Council Area"
CITY = "Derby City"
OUTSIDE = "Outside force area"
UNALLOCATED = "No known area"
# The county's eight CSPs in the board's report order.
COUNTY_CSPS = [
    "Amber Valley",
    "Bolsover",
    "Chesterfield",
    "Derbyshire Dales",
    "Erewash",
    "High Peak",
    "North East Derbyshire",
    "South Derbyshire",
]
CSPS = COUNTY_CSPS + [CITY]
# Areas a chart can be drawn for, in the order the selectors list them.
TOP_AREAS = COUNTY_CSPS + [COUNTY, CITY, FORCE]
# Rows of the reconciling tables: the parts sum to the Force Area.
RECONCILING_AREAS = COUNTY_CSPS + [COUNTY, CITY, OUTSIDE, UNALLOCATED, FORCE]

# Where a record sits relative to the force area.
IN_AREA = "in_area"
OUTSIDE_AREA = "outside_area"
NO_LOCATION = "unallocated"

# ONS names the city's district "Derby"; the board calls the partnership "Derby City".
DISTRICT_TO_CSP = {"Derby": CITY}

LSOA_FILE = "geography/lsoa-ward-lad.csv"
SNA_FILE = "geography/sna-wards.csv"


class UnknownArea(ValueError):
    """An area name the store does not know; the message lists the valid ones."""


def csp_of_district(district: str) -> str:
    return DISTRICT_TO_CSP.get(district, district)


def parent_of(csp: str) -> str:
    return CITY if csp == CITY else COUNTY


def lsoa_lookup(data_dir: Path) -> pd.DataFrame:
    """LSOA code (both 2011 and 2021 vintages) -> ward code."""
    frame = pd.read_csv(Path(data_dir) / LSOA_FILE, dtype=str)
    return frame[["lsoa_vintage", "lsoa_code", "ward_code"]]


def ward_areas(data_dir: Path) -> pd.DataFrame:
    """One row per ward: ward_code, ward_name, neighbourhood, csp, parent."""
    lsoas = pd.read_csv(Path(data_dir) / LSOA_FILE, dtype=str)
    wards = lsoas.drop_duplicates("ward_code")[["ward_code", "ward_name", "lad_name"]].copy()
    wards["csp"] = wards["lad_name"].map(csp_of_district)
    snas = pd.read_csv(Path(data_dir) / SNA_FILE, dtype=str)
    snas["csp"] = snas["csp"].map(csp_of_district)
    unknown = snas.merge(wards, on=["csp", "ward_name"], how="left", indicator=True)
    unknown = unknown[unknown["_merge"] == "left_only"]
    if len(unknown):
        first = unknown.iloc[0]
        raise ValueError(
            f"{SNA_FILE}: ward {first['ward_name']!r} is not a ward of {first['csp']!r} "
            f"in {LSOA_FILE} ({len(unknown)} such rows)"
        )
    wards = wards.merge(snas[["csp", "ward_name", "sna"]], on=["csp", "ward_name"], how="left")
    wards["neighbourhood"] = wards["sna"].fillna(wards["ward_name"])
    wards["parent"] = wards["csp"].map(parent_of)
    return wards[["ward_code", "ward_name", "neighbourhood", "csp", "parent"]].sort_values(
        ["csp", "neighbourhood", "ward_name"], ignore_index=True
    )


def check_area(area: str, neighbourhood: str | None = None, neighbourhoods: pd.DataFrame | None = None) -> None:
    """Raise UnknownArea, listing the choices, unless the area (and neighbourhood) exist."""
    if area not in TOP_AREAS + [OUTSIDE, UNALLOCATED]:
        raise UnknownArea(f"unknown area {area!r}; choose one of: {', '.join(TOP_AREAS)}")
    if neighbourhood is None:
        return
    if area not in CSPS:
        raise UnknownArea(f"neighbourhoods belong to a CSP, not to {area!r}; choose one of: {', '.join(CSPS)}")
    names = [] if neighbourhoods is None else sorted(neighbourhoods.loc[neighbourhoods["csp"] == area, "neighbourhood"].unique())
    if neighbourhood not in names:
        raise UnknownArea(f"unknown neighbourhood {neighbourhood!r} in {area}; choose one of: {', '.join(names)}")


def area_condition(area: str, neighbourhood: str | None = None) -> tuple[str, list]:
    """A parameterised SQL condition on the monthly table selecting one area's rows."""
    if neighbourhood is not None:
        return "csp = ? AND neighbourhood = ?", [area, neighbourhood]
    if area == FORCE:
        return "TRUE", []
    if area == COUNTY:
        return "parent = ?", [COUNTY]
    if area == OUTSIDE:
        return "location = ?", [OUTSIDE_AREA]
    if area == UNALLOCATED:
        return "location = ?", [NO_LOCATION]
    return "csp = ?", [area]
