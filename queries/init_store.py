"""`python app.py init --force SLUG --data-dir DIR`: a working, empty store for any police force area.

A store is for one force area (or several: a region, or all of England and Wales). `init`
writes what the importers and the dashboard need to know about it, and nothing else:

- `geography/forces.csv`: the force(s), by police.uk slug and "Falls within" name;
- `geography/areas.csv`: the grouping file (queries/geography.py), filled in with every
  district and county under its ONS name, so renaming a CSP, merging districts or naming
  neighbourhoods is an edit of a row that is already there;
- `measures.csv`: the measure-name aliases police.uk's crime types need (the product's own).

The LSOA -> ward -> district lookup is not copied: it is derived from the national table
that ships with the product. Running `init` again with the same force(s) changes nothing;
with other forces it refuses, so a store's figures are never silently re-attributed.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from queries import geography, national
from queries.measures import MEASURES_FILE

# The product's default measure aliases (the demo store's file is the shipped one).
DEFAULT_MEASURES = Path(__file__).resolve().parents[1] / "data" / MEASURES_FILE


class InitError(ValueError):
    """The data directory cannot be made a store for these forces; the message says why."""


def init_store(data_dir: Path, force_texts: list[str]) -> list[Path]:
    """Create (or confirm) a store directory for the given forces (slugs or names); returns files written."""
    data_dir = Path(data_dir)
    chosen = []
    for text in force_texts:
        force = national.find_force(text)
        if not force.territorial:
            raise InitError(f"{force.name} is not a territorial police force of England and Wales: it owns no "
                            "district, so a store cannot be for it")
        if force not in chosen:
            chosen.append(force)
    if not chosen:
        raise InitError("name at least one police force with --force (a police.uk slug such as leicestershire)")
    forces_path = data_dir / national.FORCES_FILE
    if forces_path.exists():
        held = national.store_forces(data_dir)
        if [f.slug for f in held] == [f.slug for f in chosen]:
            return []
        raise InitError(
            f"{forces_path} already names {', '.join(f.slug for f in held)}; a store keeps its forces "
            "(make a new --data-dir, or edit that file by hand and re-import)"
        )
    written = [national.write_store_forces(data_dir, chosen)]
    grouping = data_dir / geography.AREAS_FILE
    if not grouping.exists():
        geography.grouping_template(data_dir).to_csv(grouping, index=False)
        written.append(grouping)
    measures = data_dir / MEASURES_FILE
    if not measures.exists() and DEFAULT_MEASURES.exists() and DEFAULT_MEASURES.resolve() != measures.resolve():
        shutil.copyfile(DEFAULT_MEASURES, measures)
        written.append(measures)
    geography.areas(data_dir)  # the new store's hierarchy loads, or this says why not
    return written
