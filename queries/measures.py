"""Measure names: one canonical name each, many aliases, and how each dataset's
records roll up into the measures its professionals report.

Aliases live in `data/measures.csv` (editable) so "Vehicle interference" and
"Interfere with Vehicle" are one series.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from queries import datasets

ALL_CRIME = "All crimes"
ASB = "Anti-social behaviour"

# The board's 2014 crime groups (exact labels, report order), then police.uk's 14 types.
CRIME_GROUPS_2014 = [
    "Business Robbery",
    "Criminal damage and arson",
    "Disrupted crimes",
    "Domestic burglary",
    "Drug Offences",
    "Fraud and forgery",
    "Interfere with Vehicle",
    "Non domestic burglary",
    "Other non-victim based",
    "Other stealing",
    "Personal robbery",
    "Public disorder",
    "Sexual Offences",
    "Shoplifting",
    "Theft from Vehicle",
    "Theft of Vehicle",
    "Violence with injury",
    "Violence without Injury",
]
POLICE_UK_TYPES = [
    "Anti-social behaviour",
    "Bicycle theft",
    "Burglary",
    "Criminal damage and arson",
    "Drugs",
    "Other crime",
    "Other theft",
    "Possession of weapons",
    "Public order",
    "Robbery",
    "Shoplifting",
    "Theft from the person",
    "Vehicle crime",
    "Violence and sexual offences",
]
MEASURES_FILE = "measures.csv"

# Crime's SELECT over `records` giving (measure, month, ward_code, location, force): each record
# in its own group, and every crime but anti-social behaviour again in "All crimes".
CRIME_MEASURE_SQL = f"""
        SELECT measure, month, ward_code, location, force FROM records
        UNION ALL
        SELECT '{ALL_CRIME}', month, ward_code, location, force FROM records WHERE measure <> '{ASB}'
    """


class _MeasureSql(dict):
    """dataset key -> its measure SQL, read from the dataset registry on first use."""

    def __missing__(self, key: str) -> str:
        self[key] = datasets.measure_sql(key)
        return self[key]


# Importers and the demo look a dataset's SQL up here; the registry record names it.
MEASURE_SQL = _MeasureSql()


def aliases(data_dir: Path) -> dict[str, str]:
    """alias (lower case) -> canonical measure name, from data/measures.csv."""
    path = Path(data_dir) / MEASURES_FILE
    if not path.exists():
        return {}
    frame = pd.read_csv(path, dtype=str).fillna("")
    return {row.alias.strip().lower(): row.measure for row in frame.itertuples() if row.alias.strip()}


def canonical(name: str, alias_map: dict[str, str]) -> str:
    """The canonical name for a measure label, tolerant of case and known aliases."""
    return alias_map.get(name.strip().lower(), name.strip())


def measure_order(names: list[str]) -> list[str]:
    """Report order: the board's groups, then police.uk types, then anything else; All crimes last."""
    known = CRIME_GROUPS_2014 + [n for n in POLICE_UK_TYPES if n not in CRIME_GROUPS_2014]
    rank = {name: i for i, name in enumerate(known)}
    ordered = sorted(names, key=lambda n: (n == ALL_CRIME, rank.get(n, len(rank)), n))
    return ordered
