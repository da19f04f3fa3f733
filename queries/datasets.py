"""The dataset registry: one record per dataset, read by the store, exports, CLI, demo and pages.

Adding a dataset is adding one `Dataset(...)` to `DATASETS` below (and, for a new tab, one
page module that builds a `dashboard.trend_tab.TrendSpec` from it): see docs/extending.md.

This module is a *leaf* (it imports only `queries.roles`, itself a leaf), because `queries.store` and the
dataset modules (`queries.fire`, `queries.hate`, ...) import it. Code is named by dotted path
("queries.fire:MEASURE_SQL") and loaded on first use by `resolve`, as Datasette loads its
plugins, so no import cycle can form and one dataset's broken module never stops the others.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass

from queries import roles  # a leaf too: the role names and the access record


@dataclass(frozen=True)
class Dataset:
    """Everything the code asks about one dataset.

    key: the store folder, URL value and `--dataset` word.
    label: what people call it ("Crime", "Deliberate fires").
    headline: the measure counted when an export leaves `measure` out (a record counts in
        several measures, e.g. "All crimes" and its group, so summing them all would double count).
    measure_sql: dotted path to the SELECT over `records` giving (measure, month, ward_code, location)
        (None for a view: its source's is used).
    demo: dotted path to the synthetic generator `(data_dir, rng) -> records`, or None for a view.
    importer: (CLI word, module path) of its importer, or None.
    sensitive: raw counts never leave the store; only `protection` releases them.
    protection: plain words for how a sensitive dataset is released.
    default_measure: the measure a tab opens on (None: the headline).
    count_label: the chart key's name for the count line.
    reads: the store dataset whose monthly table this one reads (a *view* of another
        dataset's records, e.g. anti-social behaviour from police.uk's crime records).
    measures: with `reads`, the measures of that dataset this view shows (None: all).
    access: which role may view, drill down into and download it (queries/roles.py enforces it on
        every callback and download; a view of another dataset declares its own).
    """

    key: str
    label: str
    headline: str
    measure_sql: str | None = None
    demo: str | None = None
    importer: tuple[str, str] | None = None
    sensitive: bool = False
    protection: str = ""
    default_measure: str | None = None
    count_label: str = "Crime Count (Current)"
    reads: str | None = None
    measures: tuple[str, ...] | None = None
    access: roles.DatasetAccess = roles.PUBLISHED

    @property
    def source(self) -> str:
        """The store dataset this one's rows live in (itself unless it is a view)."""
        return self.reads or self.key

    @property
    def opening_measure(self) -> str:
        return self.default_measure or self.headline


DATASETS: dict[str, Dataset] = {}


def register(dataset: Dataset) -> Dataset:
    """Add a dataset; a key registered twice is a bug, caught at import."""
    if dataset.key in DATASETS:
        raise ValueError(f"dataset {dataset.key!r} registered twice")
    if dataset.reads is not None and dataset.reads not in DATASETS:
        raise ValueError(f"dataset {dataset.key!r} reads {dataset.reads!r}, which is not registered before it")
    DATASETS[dataset.key] = dataset
    return dataset


def get(key: str) -> Dataset:
    """The record for `key`, or a ValueError listing the registered keys."""
    try:
        return DATASETS[key]
    except (KeyError, TypeError):
        raise ValueError(f"unknown dataset {str(key)[:60]!r}; choose one of: {', '.join(DATASETS)}") from None


def resolve(path: str):
    """Import 'package.module:name' on first use (keeps this module a leaf)."""
    module, _, name = path.partition(":")
    value = importlib.import_module(module)
    return getattr(value, name) if name else value


def stored() -> list[str]:
    """Datasets that have their own folder in the store (views read another's)."""
    return [d.key for d in DATASETS.values() if d.reads is None]


def sensitive() -> set[str]:
    return {d.key for d in DATASETS.values() if d.sensitive}


def importers() -> dict[str, tuple[str, str]]:
    """CLI word -> (dataset key, importer module path)."""
    return {d.importer[0]: (d.key, d.importer[1]) for d in DATASETS.values() if d.importer}


def rows_of(key: str) -> tuple[str, list]:
    """SQL condition and parameters selecting a dataset's rows of the monthly table.

    A view (one with `reads`) selects its source's rows, and only its measures.
    """
    record = get(key)
    if record.measures is None:
        return "dataset = ?", [record.source]
    marks = ", ".join("?" for _ in record.measures)
    return f"dataset = ? AND measure IN ({marks})", [record.source, *record.measures]


def measure_sql(key: str) -> str:
    """A dataset's aggregation SQL (a view aggregates as its source does)."""
    record = get(key)
    return resolve(record.measure_sql or get(record.source).measure_sql)


class SensitiveData(ValueError):
    """Raw counts of a sensitive dataset were asked for; the message says what to use instead."""


def refuse_sensitive(dataset: str) -> None:
    """Called by every generic count path (series, tables, exports), so raw MARAC counts cannot leak by a new route."""
    record = DATASETS.get(dataset) if isinstance(dataset, str) else None
    if record is not None and (record.sensitive or DATASETS[record.source].sensitive):
        raise SensitiveData(
            f"{dataset} counts are sensitive and are only exported with small counts suppressed: "
            f"use `python app.py export {dataset} --period month|quarter|calendar|financial --out FILE`"
        )


# --------------------------------------------------------------------------- the datasets

register(Dataset(
    key="crime", label="Crime", headline="All crimes",
    measure_sql="queries.measures:CRIME_MEASURE_SQL", demo="queries.demo.crime:crime_records",
    importer=("police-uk", "queries.importers.police_uk"),
))
register(Dataset(
    key="fire", label="Fire", headline="All fires", default_measure="Deliberate fires",
    measure_sql="queries.fire:MEASURE_SQL", demo="queries.demo.fire:fire_records",
    importer=("fire", "queries.importers.fire"), count_label="Fire Count (Current)",
))
register(Dataset(
    key="marac", label="MARAC", headline="Cases discussed",
    measure_sql="queries.marac:MEASURE_SQL", demo="queries.demo.marac:marac_records",
    importer=("marac", "queries.importers.marac"), sensitive=True,
    # MARAC: victims at the highest risk. Only the protected release, only in closed session.
    access=roles.DatasetAccess(view=roles.BOARD, drill=None, download=roles.ANALYST, closed=True),
    protection="counts under CSP_SUPPRESS_BELOW suppressed, with secondary suppression checked by solving the sums",
))
register(Dataset(
    key="hate", label="Hate crime", headline="Hate crimes",
    measure_sql="queries.hate:MEASURE_SQL", demo="queries.demo.hate:hate_records",
    importer=("hate", "queries.importers.hate"), count_label="Hate Crime Count (Current)",
    # Small counts of a strand in one district identify people: the board and up see the figures;
    # the public sees only the protected public release (queries/hate_release.py, roles.HATE_PUBLIC).
    access=roles.DatasetAccess(view=roles.BOARD, drill=roles.ANALYST, download=roles.ANALYST,
                               public_release=roles.HATE_PUBLIC),
))
register(Dataset(
    key="asb", label="Anti-social behaviour", headline="Anti-social behaviour",
    reads="crime", measures=("Anti-social behaviour",), count_label="ASB Count (Current)",
))
