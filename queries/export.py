"""Grouped counts for `export counts` and the dashboard's download buttons."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from queries import datasets, geography
from queries.datasets import refuse_sensitive
from queries.store import Store

def marac_release_table(store: Store, period_type: str, threshold: int, state_dir=None) -> pd.DataFrame:
    """The MARAC period tables for every MARAC area, exactly as the tab shows them (suppressed)."""
    from queries import marac

    if period_type not in marac.PERIOD_TYPES:
        raise ValueError(f"unknown period {period_type!r}; choose from: {', '.join(marac.PERIOD_TYPES)}")
    release = marac.release(store, threshold, state_dir=state_dir)
    frames = [marac.period_table(release, area, period_type).assign(Area=area) for area in release.areas]
    table = pd.concat(frames, ignore_index=True)
    return table[["Area", *[c for c in table.columns if c != "Area"]]]


# Fields a user may group by, and the SQL that yields each. `area` is the CSP, or where a
# record sits outside the force or has no known place, saying so (totals still reconcile).
GROUP_FIELDS = {
    "month": "strftime(month, '%Y-%m')",
    "area": "coalesce(csp, CASE location WHEN 'outside_area' THEN ? ELSE ? END)",
    "parent": "coalesce(parent, CASE location WHEN 'outside_area' THEN ? ELSE ? END)",
    "neighbourhood": "neighbourhood",
    "ward": "ward_code",
    "measure": "measure",
    "force": "force",  # the police.uk slug: in a store of several forces, area names repeat across them
}
_AREA_PARAMS = {"area": [geography.OUTSIDE, geography.UNALLOCATED], "parent": [geography.OUTSIDE, geography.UNALLOCATED]}


def grouped_counts(store: Store, dataset: str, fields: list[str], measure: str | None = None,
                   zeros: bool = False) -> pd.DataFrame:
    """Counts from the monthly table grouped by `fields` (columns named as the fields, plus count).

    Without `measure` among the fields, only one measure is counted: `measure` if given,
    else the dataset's headline measure. With `zeros`, every combination of a held month
    and the values the other fields take (every CSP of the store for `area`) has a row,
    with 0 where nothing was recorded: zero is a count. A month the store does not hold
    stays absent (missing is not zero).
    """
    refuse_sensitive(dataset)
    record = datasets.get(dataset)
    if not store.has(record.source):
        raise ValueError(f"the store holds no {dataset!r} data; datasets held: {', '.join(store.datasets) or 'none'}")
    unknown = [f for f in fields if f not in GROUP_FIELDS]
    if unknown or not fields:
        raise ValueError(f"cannot group by {', '.join(unknown) or 'nothing'}; choose from: {', '.join(GROUP_FIELDS)}")
    select, params = [], []
    for field in fields:
        select.append(f"{GROUP_FIELDS[field]} AS {field}")
        params += _AREA_PARAMS.get(field, [])
    where, where_params = datasets.rows_of(dataset)
    if measure is not None or "measure" not in fields:
        where += " AND measure = ?"
        where_params.append(measure or record.headline)
    sql = f"SELECT {', '.join(select)}, sum(count)::BIGINT AS count FROM monthly WHERE {where} GROUP BY ALL ORDER BY ALL"
    table = store.query(sql, params + where_params)
    if not zeros:
        return table
    return _with_zeros(store, record.source, fields, table)


def _with_zeros(store: Store, source: str, fields: list[str], table: pd.DataFrame) -> pd.DataFrame:
    """Every held month x every value of the other fields, 0 where the table has no row."""
    domains = []
    for field in fields:
        if field == "month":
            values = store.query("SELECT DISTINCT strftime(month, '%Y-%m') AS month FROM coverage WHERE dataset = ?",
                                 [source])["month"].tolist()
        else:  # the values the field takes (a null ward too: outside the force area)
            values = table[field].tolist()
            if field == "area":  # every partnership of the store, even one with nothing recorded
                values += store.query("SELECT DISTINCT csp FROM areas WHERE csp IS NOT NULL")["csp"].tolist()
        domains.append(pd.DataFrame({field: pd.Series(values, dtype=table[field].dtype).drop_duplicates()}))
    grid = domains[0]
    for domain in domains[1:]:
        grid = grid.merge(domain, how="cross")
    full = grid.merge(table, on=fields, how="left")
    full["count"] = full["count"].fillna(0).astype("int64")
    return full.sort_values(fields, ignore_index=True, na_position="last")


# A store version folder is named <UTC timestamp>-<random>, e.g. 20261123T121441-5e3922:
# the timestamp is when that import was published.
_VERSION_STAMP = "%Y%m%dT%H%M%S"


def imported_at(store: Store, dataset: str) -> str:
    """When the dataset's current version was imported (UTC, from its version folder name)."""
    folder = store.datasets.get(dataset)
    if folder is None:
        return "not held"
    try:
        stamp = datetime.strptime(Path(folder).name.split("-")[0], _VERSION_STAMP)
    except ValueError:
        return "unknown"
    return stamp.strftime("%Y-%m-%d %H:%M UTC")


def describe_view(
    store: Store, datasets: list[str], *, title: str, view_url: str | None = None,
    filters: dict | None = None, method: str | None = None, k: float | None = None,
    report_month: pd.Timestamp | str | None = None, suppression: str | None = None,
) -> dict:
    """The `about` dict an export carries (queries.formats.ABOUT_FIELDS): the view and the
    store's provenance for every dataset it draws on (source, import date, data as at, synthetic)."""
    from queries.series import latest_month

    store.refresh()
    held = [d for d in datasets if store.has(d)]
    as_at = {d: latest_month(store, d) for d in held}
    return {
        "title": title,
        "view_url": view_url,
        "dataset": ", ".join(datasets),
        "filters": dict(filters or {}),
        "method": method,
        "k": None if k is None else f"{k:g}",
        "report_month": None if report_month is None else pd.Timestamp(report_month).strftime("%Y-%m"),
        "data_as_at": {d: (m.strftime("%Y-%m") if m is not None else "no months held") for d, m in as_at.items()},
        "sources": {d: f"{store.source(d) or 'unknown source'} (imported {imported_at(store, d)})" for d in held},
        "suppression": suppression or "none",
        "synthetic": {d: ("Yes: invented demo figures, not real" if store.is_synthetic(d) else "No") for d in held},
        "exported_at": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M"),
    }


# Record-level exports: only datasets whose records are public at this grain anyway
# (police.uk street-level crime; fire incidents). Hate-crime records (strand by ward) and
# MARAC cases could identify people in a small ward, so they are never exported row by row.
RECORD_DATASETS = ("crime", "fire")
# Rows per chunk handed to the writer: bounded memory whatever the store's size.
RECORD_CHUNK_ROWS = 50_000


def record_chunks(store: Store, dataset: str, chunk_rows: int = RECORD_CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """A dataset's records in month order, as DataFrames of at most `chunk_rows` rows (streamed
    from DuckDB in Arrow batches, never all in memory). Always yields at least one (maybe empty)
    frame, so a file always gets its header."""
    refuse_sensitive(dataset)
    if dataset not in RECORD_DATASETS:
        raise ValueError(f"{dataset!r} records are not exported row by row; record-level exports: "
                         f"{', '.join(RECORD_DATASETS)} (use export counts or export series for totals)")
    if not store.has(dataset):
        raise ValueError(f"the store at {store.data_dir} holds no {dataset!r} data")
    store.refresh()
    cursor = store.con.cursor()
    try:
        # `dataset` is one of RECORD_DATASETS (checked above), so the view name is not user text.
        reader = cursor.sql(f"SELECT * FROM {dataset}_records ORDER BY month, record_id").to_arrow_reader(chunk_rows)
        empty = True
        for batch in reader:
            empty = False
            yield batch.to_pandas()
        if empty:
            yield reader.schema.empty_table().to_pandas()
    finally:
        cursor.close()
