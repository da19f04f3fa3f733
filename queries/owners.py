"""Which police force(s) own a store: the key every record, monthly row and partition carries.

A store is for one force area (or several). Its records carry the force that recorded
them (`force`, police.uk's file slug, e.g. `derbyshire`), and only the store's own
forces count in its totals: another force's rows (imported with `--allow-other-forces`)
are kept under their own key and never added to this force's figures.

The store's forces are `geography/forces.csv` (written by `app.py init`).
"""
from __future__ import annotations

from pathlib import Path


def owner_slugs(data_dir: Path) -> list[str]:
    """The store's force slugs, in its own order (the first is the default owner): the geography's
    one reading of forces.csv (cached per file change; national.MissingForces with the `app.py init`
    hint when the directory names none)."""
    from queries import geography  # geography reads the national tables; owners stays importable from the store

    return geography.force_slugs(Path(data_dir))


def default_owner(data_dir: Path) -> str:
    """The force a dataset without its own force per row belongs to (fire, MARAC, hate crime, the demo)."""
    return owner_slugs(data_dir)[0]


def sql_list(slugs: list[str]) -> str:
    """Slugs as a SQL list literal; slugs come from the national table (letters, digits and hyphens)."""
    return "(" + ", ".join("'" + s.replace("'", "''") + "'" for s in slugs) + ")"
