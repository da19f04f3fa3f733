"""Which police force(s) own a store: the key every record, monthly row and partition carries.

A store is for one force area (or several). Its records carry the force that recorded
them (`force`, police.uk's file slug, e.g. `derbyshire`), and only the store's own
forces count in its totals: another force's rows (imported with `--allow-other-forces`)
are kept under their own key and never added to this force's figures.

The store's forces are `geography/forces.csv` (written by `app.py init`). A data
directory made before that file existed (or by hand, with only an LSOA lookup) is owned
by the force(s) whose districts its LSOA lookup covers, so older stores keep working.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from queries import national

# The lookup a data directory made before forces.csv existed is read to infer its force.
LOOKUP_FILE = "geography/lsoa-ward-lad.csv"


def owner_forces(data_dir: Path) -> list[national.Force]:
    """The store's force(s): forces.csv, else the forces whose districts its LSOA lookup covers.

    Raises national.MissingForces (with the `app.py init` hint) when neither says.
    """
    data_dir = Path(data_dir)
    if (data_dir / national.FORCES_FILE).exists():
        return national.store_forces(data_dir)
    lookup = data_dir / LOOKUP_FILE
    if lookup.exists():
        codes = pd.read_csv(lookup, dtype=str, usecols=["lad_code"])["lad_code"].dropna().unique()
        districts = national.districts()
        slugs = districts.loc[districts["lad_code"].isin(codes), "force_slug"].drop_duplicates().tolist()
        if slugs:
            every = national.forces()
            return [every[s] for s in slugs if s in every]
    return national.store_forces(data_dir)  # raises MissingForces with the hint


def owner_slugs(data_dir: Path) -> list[str]:
    """The store's force slugs, in its own order (the first is the default owner)."""
    return [f.slug for f in owner_forces(data_dir)]


def default_owner(data_dir: Path) -> str:
    """The force a dataset without its own force per row belongs to (fire, MARAC, hate crime, the demo)."""
    return owner_slugs(data_dir)[0]


def sql_list(slugs: list[str]) -> str:
    """Slugs as a SQL list literal; slugs come from the national table (letters, digits and hyphens)."""
    return "(" + ", ".join("'" + s.replace("'", "''") + "'" for s in slugs) + ")"
