"""The national geography that ships with the product, and which police force(s) a store is for.

Two compact tables travel with the code (`data/geography/national/`, built from ONS
open data and police.uk; see `docs/data.md`):

- `lsoa-ward-lad.parquet`: every LSOA of England and Wales, both vintages (2011 and
  2021), with its 2025 ward and its district (local authority district, "LAD");
- `lad-utla-force.parquet`: every district with its upper-tier authority (a county
  council, or the district itself where it is a unitary), its police force area spelt
  exactly as police.uk's "Falls within" column, and the force's police.uk file-name
  slug (`2021-03-leicestershire-street.csv`).

A store's data directory names the force(s) it is for in `geography/forces.csv`
(written by `python app.py init --force SLUG`). Everything else about a store's areas
is derived from these tables, never from constants: Derbyshire is one example.

British Transport Police and the Police Service of Northern Ireland publish on
police.uk too, but are not territorial forces of England and Wales: they own no
district, so their rows can never be counted in a district's totals.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

NATIONAL_DIR = Path(__file__).resolve().parents[1] / "data" / "geography" / "national"
LSOA_TABLE = NATIONAL_DIR / "lsoa-ward-lad.parquet"
DISTRICT_TABLE = NATIONAL_DIR / "lad-utla-force.parquet"
# Inside a store's data directory: the force(s) the store is for, one per row.
FORCES_FILE = "geography/forces.csv"

# police.uk publishers that are not territorial forces of England and Wales: name -> file slug.
NON_TERRITORIAL = {
    "British Transport Police": "btp",
    "Police Service of Northern Ireland": "northern-ireland",
}


class UnknownForce(ValueError):
    """A force name or slug the national table does not know; the message lists the choices."""


class MissingForces(FileNotFoundError):
    """A data directory that names no force: it was not made with `app.py init`."""


@dataclass(frozen=True)
class Force:
    """A police.uk publisher: `name` as in "Falls within", `slug` as in its file names."""

    name: str
    slug: str
    territorial: bool = True


@lru_cache(maxsize=1)
def districts() -> pd.DataFrame:
    """One row per district: lad_code, lad_name, utla_code, utla_name, force, force_slug, region, country."""
    return pd.read_parquet(DISTRICT_TABLE)


@lru_cache(maxsize=1)
def lsoas() -> pd.DataFrame:
    """One row per (LSOA vintage, LSOA code): lsoa_name, ward_code, ward_name, lad_code, lad_name."""
    return pd.read_parquet(LSOA_TABLE)


@lru_cache(maxsize=1)
def forces() -> dict[str, Force]:
    """Every police.uk publisher by slug: the 43 territorial forces first (by name), then BTP and PSNI."""
    table = districts()[["force", "force_slug"]].drop_duplicates().sort_values("force")
    found = {slug: Force(name, slug) for name, slug in zip(table["force"], table["force_slug"])}
    found.update({slug: Force(name, slug, territorial=False) for name, slug in NON_TERRITORIAL.items()})
    return found


def find_force(text: str) -> Force:
    """The force whose slug or "Falls within" name is `text` (case and spacing ignored)."""
    wanted = " ".join(str(text).split()).casefold()
    for force in forces().values():
        if wanted in (force.slug.casefold(), force.name.casefold()):
            return force
    choices = ", ".join(f"{f.slug} ({f.name})" for f in forces().values())
    raise UnknownForce(f"unknown police force {text!r}; choose a slug or name from: {choices}")


def force_named(falls_within: str) -> Force | None:
    """The publisher a police.uk row's "Falls within" names, or None when no known force is named."""
    try:
        return find_force(falls_within)
    except UnknownForce:
        return None


def districts_of(force_slugs: list[str]) -> pd.DataFrame:
    """The districts of the given territorial forces, in the national table's row order."""
    table = districts()
    return table[table["force_slug"].isin(force_slugs)].reset_index(drop=True)


def store_forces(data_dir: Path) -> list[Force]:
    """The force(s) a store's data directory is for, in the order its file lists them."""
    path = Path(data_dir) / FORCES_FILE
    if not path.exists():
        raise MissingForces(
            f"{path}: this data directory names no police force; "
            f"create it with: python app.py init --force SLUG --data-dir {Path(data_dir)}"
        )
    names = pd.read_csv(path, dtype=str)["force"].dropna().tolist()
    return [find_force(name) for name in names]


def write_store_forces(data_dir: Path, chosen: list[Force]) -> Path:
    """Record which force(s) a data directory is for (called by `app.py init`)."""
    path = Path(data_dir) / FORCES_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"force": [f.slug for f in chosen], "name": [f.name for f in chosen]}).to_csv(path, index=False)
    return path
