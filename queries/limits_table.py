"""Every series' limits, every month, computed once per store version and read by the pages.

The summary table, the board view's Current Issues, the report and the charts all show the
engine's lines (`queries.limits`) at the method's default k. Computing them per request means
a grouped scan of the monthly table and an engine call each time; for a national store the
report's every-neighbourhood pass took over a minute one chart at a time. Instead one
vectorised pass computes every series x month of a dataset, for every registered method at
its default k, and writes it beside the monthly table, one file per force and financial year:

    <dataset>/<version>/limits-<fingerprint>.parquet/force=<slug>/<fy>.parquet   (+ meta.json)

one row per (measure, area, neighbourhood, month) of the force's series, month-major (so a
report month's rows are one row group; `force` is read from the folder name, so a reader's
filter on it opens only that force's files), with the method-independent columns once (`count`, `monthly_average_prev3`, `average`,
`baseline_years`) and `upper_<method>`, `lower_<method>`, `status_<method>` per method.

Series (the ones the app draws): each force's top areas (each CSP, each county's total, the
force area) and each CSP's neighbourhoods, for every measure the dataset holds. Counts are
the held month's sum (0 when nothing was recorded) and NaN for a month the force does not hold,
exactly as the on-demand paths build them, so the stored figures are the on-demand ones
(tests/test_limits_table.py checks every series of the demo store).

What is *not* stored: anything depending on the report month or the significance threshold.
A reader blanks the months after its report month (count NaN, status "No data", as the
engine does for a blanked month: the lines themselves depend only on the three earlier years)
and sets `low_volume` from its own `min_significant`. A non-default k is computed on demand.

The table is written into the staging folder by `store_writer.publish` (one hook call), so a
published version carries it. A monthly import changes a few (force, month) partitions: only
the (force, financial year) blocks those months touch (their own year and the next
BASELINE_YEARS) are computed again, every other file is a hard link to the previous version's.
The recomputed blocks' counts are the changed months' sums from the monthly table and every
other month's from the previous table's `count` column (it holds every series x held month
already), so such an import reads one month of the monthly table, not four years of it, and
costs the same whatever the store holds. A version published before this existed, or whose geography
has changed since (the fingerprint covers the areas, the methods and their default k), gets it
on first read: built once under a lock (other workers wait and then read it) and written
atomically. If the folder cannot be written, readers fall back to computing on demand.
"""
from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import shutil
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq
from scipy import sparse

from queries import datasets, geography, limits, owners
from queries.store import FORCE_KEY, MONTH_KEY, has_column, has_force_partitions, parquet_source, sql_string

# Bump when the files' columns, layout or meaning change: old tables are then rebuilt on first read.
FORMAT = 3  # 3: a folder of one file per (force, financial year); 2: one file, series sorted within each month
PREFIX = "limits-"
LOCK_NAME = ".limits.lock"
META_NAME = "meta.json"
# Rows per Parquet row group: a report month of one force is one group of its year's file, so DuckDB's
# min/max statistics on month skip the rest of the file unread.
ROW_GROUP_ROWS = 16_384
# Up to this many rows (a force's store: about 0.3 M per dataset) the table is loaded into the worker's
# DuckDB (fastest); above it (a national store) queries scan the Parquet with filters pushed
# down, so a worker's memory does not grow with the store.
IN_MEMORY_ROWS = 1_000_000
NO_NEIGHBOURHOOD = ""  # an area-level series' neighbourhood key
KEY_COLUMNS = ["force", "measure", "area", "neighbourhood"]
# Files are encoded and compressed by this many threads at once (pyarrow releases the GIL while
# writing): the engine's next financial year is computed while the last one's files are written.
WRITE_THREADS = 2
# How block files are written. LZ4 (not zstd): about a third less CPU for files 1.7x the size,
# still under half the single file's. Dictionaries only where values repeat (keys, statuses,
# counts, baseline years): trying one on every float column costs time for nothing. Statistics
# only on month, the one column a file is sorted by (readers skip row groups by it; force is
# the folder).
WRITE_OPTIONS = {
    "row_group_size": ROW_GROUP_ROWS, "compression": "lz4", "write_statistics": ["month"],
    "use_dictionary": ["dataset", "measure", "area", "neighbourhood", "count", "baseline_years",
                       *(f"status_{name}" for name in limits.METHODS)],
}
# The monthly columns a series' counts are built from; the strings are read as dictionary codes.
_CODED = ["csp", "parent", "neighbourhood", "measure"]


# --------------------------------------------------------------------------- which file


def materialised(dataset: str) -> bool:
    """Store datasets that get a limits table: every stored one whose counts the pages draw (not MARAC)."""
    record = datasets.get(dataset)
    return record.reads is None and not record.sensitive


def _force_areas(data_dir: Path) -> dict[str, geography.ForceAreas]:
    return {slug: geography.areas(data_dir, slug) for slug in owners.owner_slugs(data_dir)}


def fingerprint(data_dir: Path) -> str:
    """What the stored limits depend on besides the monthly table: the store's areas and the methods' k."""
    parts = {"format": FORMAT, "methods": {m.name: m.default_k for m in limits.METHODS.values()},
             "forces": {}}
    for slug, own in _force_areas(Path(data_dir)).items():
        wards = own.wards[["csp", "neighbourhood"]].drop_duplicates().sort_values(["csp", "neighbourhood"])
        parts["forces"][slug] = {
            "uppers": [[u.name, bool(u.county), list(u.csps)] for u in own.uppers],
            "neighbourhoods": wards.astype(str).to_numpy().tolist(),
        }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def path_for(folder: Path, data_dir: Path) -> Path:
    """The version's limits table: a folder `limits-<fingerprint>.parquet/force=<slug>/<fy>.parquet`.

    One file per (force, financial year), so that a new month rewrites only the blocks it
    touches and every other file is a hard link to the previous version's (see `write`).
    """
    return Path(folder) / f"{PREFIX}{fingerprint(data_dir)}.parquet"


def source_sql(path: Path) -> str:
    """The table as a relation for FROM: `force` comes from the folder names, so a filter on it
    opens only that force's files."""
    pattern = sql_string(Path(path) / f"{FORCE_KEY}=*" / "*.parquet")
    return f"read_parquet({pattern}, hive_partitioning=true, hive_types={{'{FORCE_KEY}': VARCHAR}})"


def meta(path: Path) -> dict:
    """What a table folder records of itself: format, measures, financial years, rows per block."""
    try:
        return json.loads((Path(path) / META_NAME).read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def row_count(path: Path) -> int:
    return int(meta(path).get("rows", 0))


def _block_name(force: str, fy: int) -> str:
    return f"{FORCE_KEY}={force}/{fy}.parquet"


# --------------------------------------------------------------------------- computing


def _held(folder: Path, forces: list[str]) -> pd.DataFrame:
    """(force, month) pairs the version holds for the store's own forces."""
    con = duckdb.connect(":memory:")
    try:
        coverage = f"read_parquet({sql_string(folder / 'coverage.parquet')})"
        if has_column(con, coverage, FORCE_KEY):
            held = con.execute(f"SELECT DISTINCT {FORCE_KEY} AS force, month FROM {coverage} "
                               f"WHERE {FORCE_KEY} IN {owners.sql_list(forces)}").df()
        else:  # a store written before rows carried their force: all the first force's
            held = con.execute(f"SELECT DISTINCT month FROM {coverage}").df().assign(force=forces[0])
    finally:
        con.close()
    held["month"] = pd.to_datetime(held["month"])
    return held[["force", "month"]]


def _monthly_arrow(folder: Path, forces: list[str], columns: list[str],
                   only: set[tuple[str, str]] | None = None) -> pa.Table:
    """The version's monthly rows of `forces` (columns among force, csp, parent, neighbourhood, measure,
    month, count), strings as dictionaries; only the (force, "YYYY-MM") partitions in `only` when
    given (a force-partitioned table), so a monthly import reads the months it changed, not the
    whole store.

    A force-partitioned table (what importers write) is read by Arrow straight from its files,
    keeping Parquet's dictionaries (no string is materialised); a single file or an older
    layout goes through DuckDB, as every reader of it does.
    """
    monthly = folder / "monthly.parquet"
    if has_force_partitions(monthly):
        coded = [c for c in columns if c in _CODED]
        fmt = pads.ParquetFileFormat(read_options=pads.ParquetReadOptions(dictionary_columns=coded))
        if only is not None:
            chosen = sorted((f, ym) for f, ym in only if f in set(forces))
            paths = [str(p) for f, ym in chosen
                     for p in sorted((monthly / f"{FORCE_KEY}={f}" / f"{MONTH_KEY}={ym}").glob("*.parquet"))]
        else:
            paths = [str(p) for slug in forces for p in sorted((monthly / f"{FORCE_KEY}={slug}").glob("*/*.parquet"))]
        if not paths:
            return pa.table({c: pa.array([], pa.string()) for c in columns})
        partitioning = pads.partitioning(pa.schema([(FORCE_KEY, pa.string())]), flavor="hive")
        dataset = pads.dataset(paths, format=fmt, partitioning=partitioning, partition_base_dir=str(monthly))
        return dataset.to_table(columns=columns)
    con = duckdb.connect(":memory:")
    try:
        own = f"{FORCE_KEY} IN {owners.sql_list(forces)}"
        source = parquet_source(monthly)
        if has_column(con, source, FORCE_KEY):
            select = f"SELECT * FROM {source} WHERE {own}"
        else:  # a store written before rows carried their force: all the first force's
            select = f"SELECT *, {sql_string(forces[0])} AS {FORCE_KEY} FROM {source}"
        return con.sql(f"SELECT {', '.join(columns)} FROM ({select})").to_arrow_table()
    finally:
        con.close()


def _codes(table: pa.Table, column: str) -> tuple[np.ndarray, list]:
    """A string column as (int64 codes, values); a missing value is code -1."""
    chunked = table.column(column)
    if not pa.types.is_dictionary(chunked.type):
        chunked = pc.dictionary_encode(chunked)
    array = pa.chunked_array(chunked.chunks, chunked.type).unify_dictionaries().combine_chunks() \
        if chunked.num_chunks else pa.array([], pa.dictionary(pa.int32(), pa.string()))
    codes = pc.fill_null(array.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, array.dictionary.to_pylist()


def measures_of(folder: Path, data_dir: Path, table: pa.Table | None = None) -> list[str]:
    """Every measure the version's monthly table holds for the store's own forces (sorted); from
    `table` when it already holds every own force's rows."""
    if table is None:
        table = _monthly_arrow(Path(folder), owners.owner_slugs(Path(data_dir)), ["measure"])
    codes, values = _codes(table, "measure")
    present = np.bincount(codes[codes >= 0], minlength=len(values))
    return sorted(values[c] for c in np.flatnonzero(present))


class _Series:
    """Every series of the chosen forces: keys grouped by force (each force's rows contiguous,
    sorted by measure, area, neighbourhood), and each force's places and row span."""

    def __init__(self, areas: dict[str, geography.ForceAreas], forces: list[str], measures: list[str]):
        self.forces = forces
        self.measures = measures
        self.places: dict[str, list[tuple[str, str]]] = {}
        self.offset: dict[str, int] = {}
        rows = 0
        for slug in forces:
            own = areas[slug]
            hoods = own.wards[["csp", "neighbourhood"]].dropna().drop_duplicates()
            csps = set(own.csps)  # a property that walks the geography: once, not per neighbourhood
            places = [(a, NO_NEIGHBOURHOOD) for a in own.top_areas]
            places += [(c, n) for c, n in zip(hoods["csp"], hoods["neighbourhood"]) if c in csps]
            self.places[slug] = sorted(places)
            self.offset[slug] = rows
            rows += len(places) * len(measures)
        self.size = rows

    def span(self, force: str) -> tuple[int, int]:
        start = self.offset[force]
        return start, start + len(self.places[force]) * len(self.measures)

    def keys(self, force: str) -> pd.DataFrame:
        """One force's keys in row order (measure-major, then its places)."""
        places = self.places[force]
        return pd.DataFrame({
            "force": force,
            "measure": np.repeat(np.asarray(self.measures, dtype=object), len(places)),
            "area": [a for _ in self.measures for a, _ in places],
            "neighbourhood": [n for _ in self.measures for _, n in places],
        }, columns=KEY_COLUMNS)

    def ranks(self, force: str) -> dict[tuple[str, str], list[int]]:
        """Place -> its rank(s) within the force (a place listed twice has two series, both counted)."""
        found: dict[tuple[str, str], list[int]] = {}
        for rank, place in enumerate(self.places[force]):
            found.setdefault(place, []).append(rank)
        return found


def _count_matrix(table: pa.Table, areas: dict[str, geography.ForceAreas], layout: _Series, held: pd.DataFrame,
                  months: pd.DatetimeIndex) -> np.ndarray:
    """(series x months) counts of the layout's forces: the held month's sum over the series'
    wards (0 when nothing was recorded), NaN for a month the force does not hold.

    Each monthly row counts in up to four series (its neighbourhood, its CSP, its county's total,
    the force area), worked out by integer codes: the names are looked at once per distinct
    (force, CSP, county, neighbourhood), not per row. The rows are summed once per such
    combination, measure and month, and one sparse product adds those sums into every series.
    """
    counts = np.zeros((layout.size, len(months)))
    if layout.size and len(layout.measures) and table.num_rows:
        force_codes, force_values = _codes(table, "force")
        csp, csp_values = _codes(table, "csp")
        parent, parent_values = _codes(table, "parent")
        hood, hood_values = _codes(table, "neighbourhood")
        measure, measure_values = _codes(table, "measure")
        month = table.column("month").to_numpy().astype("datetime64[M]")
        j = (month - months[0].to_datetime64().astype("datetime64[M]")).astype(np.int64)
        n = table.column("count").to_numpy().astype(float)
        measure_index = np.array([layout.measures.index(m) if m in layout.measures else -1 for m in measure_values]
                                 + [-1], dtype=np.int64)[measure]
        slot = {slug: i for i, slug in enumerate(layout.forces)}
        force_index = np.array([slot.get(v, -1) for v in force_values] + [-1], dtype=np.int64)[force_codes]
        keep = (force_index >= 0) & (measure_index >= 0) & (j >= 0) & (j < len(months))
        if not keep.all():
            force_index, csp, parent, hood, measure_index, j, n = (
                a[keep] for a in (force_index, csp, parent, hood, measure_index, j, n))
        offset = np.array([layout.offset[s] for s in layout.forces], dtype=np.int64)
        n_places = np.array([len(layout.places[s]) for s in layout.forces], dtype=np.int64)
        # Each distinct (force, CSP, county, neighbourhood) once: the places it counts in, by name.
        width_csp, width_parent, width_hood = len(csp_values) + 1, len(parent_values) + 1, len(hood_values) + 1
        combo = ((force_index * width_csp + csp + 1) * width_parent + parent + 1) * width_hood + hood + 1
        inverse, unique = pd.factorize(combo)
        ranks = [layout.ranks(s) for s in layout.forces]
        counties = [set(areas[s].county_names) for s in layout.forces]
        pair_combo, pair_force, pair_rank = [], [], []
        for k, key in enumerate(unique.tolist()):
            rest, h = divmod(key, width_hood)
            rest, p = divmod(rest, width_parent)
            f, c = divmod(rest, width_csp)
            c, p, h = c - 1, p - 1, h - 1
            places = []
            if c >= 0 and h >= 0:  # its neighbourhood's series
                places += ranks[f].get((csp_values[c], hood_values[h]), [])
            if c >= 0:  # its CSP's
                places += ranks[f].get((csp_values[c], NO_NEIGHBOURHOOD), [])
            if p >= 0 and parent_values[p] in counties[f]:  # its county's total
                places += ranks[f].get((parent_values[p], NO_NEIGHBOURHOOD), [])
            places += ranks[f].get((geography.FORCE, NO_NEIGHBOURHOOD), [])  # the force area's
            pair_combo += [k] * len(places)
            pair_force += [f] * len(places)
            pair_rank += places
        # Sum the rows per (combination, measure, month) once, then add each combination's sums into
        # its series with one sparse product: (series x combination-measure) ones times the sums.
        n_measures, n_months = len(layout.measures), len(months)
        n_cells = len(unique) * n_measures
        sums = np.bincount((inverse * n_measures + measure_index) * n_months + j, weights=n,
                           minlength=n_cells * n_months).reshape(n_cells, n_months)
        pair_combo, pair_force, pair_rank = (np.asarray(a, dtype=np.int64) for a in (pair_combo, pair_force, pair_rank))
        measure_of = np.arange(n_measures, dtype=np.int64)[None, :]
        rows = offset[pair_force][:, None] + measure_of * n_places[pair_force][:, None] + pair_rank[:, None]
        columns = pair_combo[:, None] * n_measures + measure_of
        # Ones, summed where a combination counts twice in one series (a place listed twice), as before.
        spread = sparse.csr_matrix((np.ones(rows.size), (rows.ravel(), columns.ravel())), shape=(layout.size, n_cells))
        counts = np.asarray(spread @ sums, dtype=float)
    is_held = np.zeros((len(layout.forces), len(months)), dtype=bool)
    slot = {slug: i for i, slug in enumerate(layout.forces)}
    mine = held[held["force"].isin(slot)]
    is_held[mine["force"].map(slot).to_numpy(dtype=np.int64), months.get_indexer(mine["month"])] = True
    for i, slug in enumerate(layout.forces):
        start, stop = layout.span(slug)
        counts[start:stop, ~is_held[i]] = np.nan  # a month the force does not hold is a gap, not a zero
    return counts


def _year_range(held: pd.DataFrame) -> tuple[int, int, pd.DatetimeIndex]:
    first_fy = limits.fy_of(held["month"].min())
    last_fy = limits.fy_of(held["month"].max())
    months = pd.date_range(limits.window_months(first_fy)[0], limits.fy_months(last_fy)[-1], freq="MS")
    return first_fy, last_fy, months


def _engine(counts: np.ndarray, months: pd.DatetimeIndex, fy: int) -> dict[str, np.ndarray]:
    """Every column of one financial year for every series (each (series, 12)): the method-independent
    part once, then each method at its default k."""
    window_months = limits.window_months(fy)
    start = months.get_loc(window_months[0])
    # Contiguous, as the on-demand paths hand the engine: the same sums in the same order.
    window = np.ascontiguousarray(counts[:, start:start + len(window_months)])
    parts = limits.split_window(window)
    columns = {"count": parts.current, "monthly_average_prev3": parts.same_month_mean, "average": parts.average,
               "baseline_years": parts.years_with_data}
    for name, method in limits.METHODS.items():
        upper, lower, codes = limits.method_lines(parts, name, method.default_k)
        columns[f"upper_{name}"], columns[f"lower_{name}"], columns[f"status_{name}"] = upper, lower, codes
    return columns


_STATUS_DICTIONARY = pa.array(list(limits.STATUS_LABELS), pa.string())


def _coded_keys(keys: pd.DataFrame) -> dict[str, tuple[np.ndarray, pa.Array]]:
    """Each key column as (int32 codes, its dictionary): worked out once per force, not per year."""
    coded = {}
    for column in KEY_COLUMNS:
        codes, names = pd.factorize(keys[column].to_numpy(dtype=object))
        coded[column] = (codes.astype(np.int32), pa.array(np.asarray(names, dtype=object), pa.string()))
    return coded


def _block(dataset: str, keys: pd.DataFrame | dict, fy: int, columns: dict[str, np.ndarray],
           with_force: bool = False) -> pa.Table:
    """One force's financial year as an Arrow table, month-major, built from numpy without pandas:
    keys and statuses dictionary-encoded (statuses straight from their codes)."""
    coded = _coded_keys(keys) if isinstance(keys, pd.DataFrame) else keys
    n_keys, n_months = len(coded["measure"][0]), limits.MONTHS_PER_YEAR
    n_rows = n_keys * n_months
    table = {"dataset": pa.DictionaryArray.from_arrays(np.zeros(n_rows, dtype=np.int32), pa.array([dataset]))}
    for column in KEY_COLUMNS if with_force else KEY_COLUMNS[1:]:
        codes, names = coded[column]
        table[column] = pa.DictionaryArray.from_arrays(np.tile(codes, n_months), names)
    months = limits.fy_months(fy).to_numpy(dtype="datetime64[D]")
    table["month"] = pa.array(np.repeat(months, n_keys), pa.date32())
    for column, values in columns.items():
        flat = np.ascontiguousarray(values.T).ravel()  # month-major
        if column.startswith("status_"):
            table[column] = pa.DictionaryArray.from_arrays(flat, _STATUS_DICTIONARY)
        elif column == "baseline_years":
            table[column] = pa.array(flat.astype(np.int8), pa.int8())
        else:
            # NaN (a month not held, no limits) is written as null, Arrow's missing value.
            table[column] = pa.array(flat, pa.float64(), from_pandas=True)
    return pa.table(table)


@dataclass(frozen=True)
class _Previous:
    """The version an incremental build follows: its folder, its limits table (built in this format,
    under the same fingerprint, `_reusable` checked), that table's blocks ("force/fy" -> rows) and
    the (force, month) pairs whose monthly rows or coverage changed since."""

    folder: Path
    table: Path
    blocks: dict[str, int]
    changed: frozenset


class _Plan:
    """What a (re)build computes: every series' counts for the forces with a block to compute, and
    the (force, fy) blocks themselves. `description` is the table's meta (blocks added by the writer).

    A full build counts every month from the monthly table. An incremental one (blocks to `skip`,
    the `previous` version given) counts only the months that changed from the monthly table and
    takes every other month of its windows from the previous table's `count` column, which holds
    every series x held month already, in the same series order (same geography, same measures):
    a monthly import then reads one month of partitions whatever the store holds.
    """

    def __init__(self, folder: Path, data_dir: Path, dataset: str, skip=frozenset(),
                 measures: list[str] | None = None, previous: _Previous | None = None):
        folder, data_dir = Path(folder), Path(data_dir)
        self.dataset = dataset
        self._keys: dict[str, dict] = {}
        self._full: tuple[Path, dict, pd.DataFrame] | None = None  # what `batches` reads, on a full build
        areas = _force_areas(data_dir)
        own = list(areas)
        held = _held(folder, own)
        # Only the forces that hold some of this dataset: the others' series are all gaps, and a
        # dataset held for one force of a national store (fire, hate crime) would otherwise store
        # every force's (6 GB and a minute in the worker that built it). Readers find no stored
        # rows for such a force and compute on demand, as for a series the table lacks.
        holding = set(held["force"])
        forces = [s for s in own if s in holding]
        self.todo: list[tuple[str, int]] = []
        self.description = {"format": FORMAT, "dataset": dataset, "measures": measures or [], "fys": [],
                            "blocks": {}}
        if not len(held):
            return
        first_fy, last_fy, self.months = _year_range(held)
        fys = range(first_fy, last_fy + 1)
        wanted = [s for s in forces if any((s, fy) not in skip for fy in fys)]
        todo_fys = sorted({fy for fy in fys for s in wanted if (s, fy) not in skip})
        # Only the months the blocks to compute look at (their years and the baseline before): a
        # monthly import then reads about four years whatever the store holds. A full build reads all.
        within = (limits.window_months(todo_fys[0])[0], limits.fy_months(todo_fys[-1])[-1]) \
            if skip and measures is not None and todo_fys else None
        if within is not None and previous is not None:
            found = self._count_incrementally(folder, data_dir, areas, own, wanted, held, measures, within, previous)
            self.description.update(measures=found, fys=[first_fy, last_fy])
            if found and wanted and found == measures:  # else the caller rebuilds all (a measure came or went)
                self.todo = [(s, fy) for fy in fys for s in wanted if (s, fy) not in skip]
            return
        # A full build: the measures from that one column of the whole table, then the counts a force at
        # a time, read just before that force's blocks (`batches`).
        if measures is None:
            measures = measures_of(folder, data_dir)
        self.description.update(measures=measures, fys=[first_fy, last_fy])
        if not measures or not wanted:
            return
        self._full = (folder, areas, held)
        self.todo = [(s, fy) for fy in fys for s in wanted if (s, fy) not in skip]

    def _count_incrementally(self, folder: Path, data_dir: Path, areas: dict[str, geography.ForceAreas], own: list[str],
                     wanted: list[str], held: pd.DataFrame, measures: list[str],
                     within: tuple[pd.Timestamp, pd.Timestamp], previous: _Previous) -> list[str]:
        """The version's measures, and (when there is anything to compute) the layout and counts of the
        blocks to compute: changed months from the monthly table, the rest from the previous table (a
        held month whose year it has no block for, or whose block does not have this layout's rows, is
        counted from the monthly table too)."""
        previous_measures = measures
        changed = {(f, pd.Timestamp(m)) for f, m in previous.changed}
        # The measures: the previous table's, unless a changed month brings one it lacks, or held one
        # that the changed month no longer holds (then only a whole scan can tell if it is still held).
        touched = {(f, f"{m:%Y-%m}") for f, m in changed if f in areas}
        now = set(measures_of(folder, data_dir, _monthly_arrow(folder, own, ["measure"], only=touched)))
        before = set(measures_of(previous.folder, data_dir,
                                 _monthly_arrow(previous.folder, own, ["measure"], only=touched)))
        if not (now <= set(measures) and before <= now):
            measures = measures_of(folder, data_dir)
        if not measures or not wanted or measures != previous_measures:
            return measures  # nothing to compute, or a measure came or went: the caller rebuilds all
        self.layout = _Series(areas, wanted, measures)
        held_pairs = set(zip(held["force"], held["month"]))
        from_table: dict[tuple[str, int], list[pd.Timestamp]] = {}
        fresh: set[tuple[str, str]] = set()
        window = [(month, limits.fy_of(month)) for month in pd.date_range(*within, freq="MS")]
        for force in wanted:
            start, stop = self.layout.span(force)
            for month, fy in window:
                if (force, month) not in held_pairs:
                    continue  # not held now: a gap (NaN), whatever either version's files say
                rows = previous.blocks.get(f"{force}/{fy}")
                if (force, month) in changed or rows != (stop - start) * limits.MONTHS_PER_YEAR:
                    fresh.add((force, f"{month:%Y-%m}"))
                else:
                    from_table.setdefault((force, fy), []).append(month)
        # The months of the windows only, NaN (not held) but where counted below: the fresh months by one
        # pass over their rows, over the months from the first to the last of them only (a month's
        # import: one column), the others copied from the previous table.
        self.months = pd.date_range(within[0], within[1], freq="MS")
        self.counts = np.full((self.layout.size, len(self.months)), np.nan)
        if fresh:
            span = pd.date_range(min(ym for _f, ym in fresh) + "-01", max(ym for _f, ym in fresh) + "-01", freq="MS")
            table = _monthly_arrow(folder, wanted, ["force", *_CODED, "month", "count"], only=fresh)
            self.counts[:, self.months.get_indexer(span)] = _count_matrix(
                table, areas, self.layout, held[held["month"].between(span[0], span[-1])], span)
            del table
        blocks = sorted(from_table)

        def read(block: tuple[str, int]) -> np.ndarray:
            start, stop = self.layout.span(block[0])
            return _previous_counts(previous.table / _block_name(*block), stop - start)

        first = _month_number(self.months[0])
        with ThreadPoolExecutor(WRITE_THREADS) as pool:
            for (force, fy), year in zip(blocks, pool.map(read, blocks)):
                start, stop = self.layout.span(force)
                months = np.array([_month_number(m) for m in from_table[(force, fy)]])
                self.counts[start:stop, months - first] = year[:, months - _month_number(limits.fy_months(fy)[0])]
        return measures

    def batches(self) -> Iterator[list[tuple[str, int]]]:
        """The blocks to compute, in groups whose counts are in `counts` while the group is computed.

        An incremental build counted its few months up front: one group. A full build reads and counts
        one force at a time, just before that force's blocks, and drops them after: memory holds one
        force's monthly rows and series, not the whole store's (a 60 M-record national store's limits
        peaked at 2.1 GiB when every force was counted at once), and it no longer grows with the forces held.
        """
        if self._full is None:
            if self.todo:
                yield self.todo
            return
        folder, areas, held = self._full
        measures = self.description["measures"]

        def count(force: str) -> tuple[_Series, np.ndarray]:
            table = _monthly_arrow(folder, [force], ["force", *_CODED, "month", "count"])
            layout = _Series(areas, [force], measures)
            return layout, _count_matrix(table, areas, layout, held, self.months)

        # The next force is read and counted on its own thread while this one's blocks are computed
        # (reading and counting one force at a time left both cores waiting on it: 4 s of a national build).
        forces = list(dict.fromkeys(f for f, _fy in self.todo))
        with ThreadPoolExecutor(1, thread_name_prefix="count") as ahead:
            coming = ahead.submit(count, forces[0])
            for at, force in enumerate(forces):
                self.layout, self.counts = coming.result()
                if at + 1 < len(forces):
                    coming = ahead.submit(count, forces[at + 1])
                yield [task for task in self.todo if task[0] == force]

    def block(self, force: str, fy: int, with_force: bool = False) -> pa.Table:
        """One (force, financial year) block: the engine over the force's series, laid out."""
        start, stop = self.layout.span(force)
        columns = _engine(self.counts[start:stop], self.months, fy)
        if force not in self._keys:
            self._keys[force] = _coded_keys(self.layout.keys(force))
        return _block(self.dataset, self._keys[force], fy, columns, with_force)


def _month_number(month: pd.Timestamp) -> int:
    """Months since year 0: two months' difference is their distance, without a pandas index lookup."""
    return month.year * limits.MONTHS_PER_YEAR + month.month - 1


def _previous_counts(path: Path, n_series: int) -> np.ndarray:
    """A block file's `count` column as (series x 12 months): the file is month-major, nulls are NaN."""
    counts = pq.read_table(path, columns=["count"], use_threads=False).column("count").to_numpy()
    return counts.astype(float, copy=False).reshape(limits.MONTHS_PER_YEAR, n_series).T


def compute(folder: Path, data_dir: Path, dataset: str) -> pa.Table:
    """Every series x month of one dataset version, for every method at its default k, as one table
    (with its force column): what the files hold together. For tests and tools; `write` streams."""
    plan = _Plan(folder, data_dir, dataset)
    tables = [plan.block(force, fy, with_force=True) for batch in plan.batches() for force, fy in batch]
    if not tables:
        return _empty_table(dataset)
    return pa.concat_tables(tables).unify_dictionaries().combine_chunks()


def limits_frame(dataset: str, keys: pd.DataFrame, months: pd.DatetimeIndex, counts: np.ndarray, fys) -> pa.Table:
    """The engine's columns for hand-made series (`keys` with force, measure, area, neighbourhood)
    and counts over `months`, one financial year after another, month-major."""
    tables = [_block(dataset, keys, fy, _engine(counts, months, fy), with_force=True) for fy in fys]
    return pa.concat_tables(tables).unify_dictionaries().combine_chunks() if tables else _empty_table(dataset)


def _empty_table(dataset: str) -> pa.Table:
    """No held month: the table's columns, no rows."""
    columns = {c: np.zeros((0, limits.MONTHS_PER_YEAR)) for c in ("count", "monthly_average_prev3", "average")}
    columns["baseline_years"] = np.zeros((0, limits.MONTHS_PER_YEAR), dtype=np.int64)
    for name in limits.METHODS:
        columns[f"upper_{name}"] = columns[f"lower_{name}"] = np.zeros((0, limits.MONTHS_PER_YEAR))
        columns[f"status_{name}"] = np.zeros((0, limits.MONTHS_PER_YEAR), dtype=np.int8)
    keys = pd.DataFrame({c: [] for c in KEY_COLUMNS}, dtype=object)
    return _block(dataset, keys, 2000, columns, with_force=True)


def _dirty_blocks(changed) -> set[tuple[str, int]]:
    """(force, fy) blocks a changed (force, month) touches: its own year and the BASELINE_YEARS after it."""
    dirty = set()
    for force, month in changed:
        own = limits.fy_of(pd.Timestamp(month))
        dirty |= {(str(force), fy) for fy in range(own, own + limits.BASELINE_YEARS + 1)}
    return dirty


def write(folder: Path, data_dir: Path, dataset: str, previous: Path | None = None,
          changed: set | None = None) -> Path | None:
    """Compute and write a version folder's limits table (atomically); None for a dataset that has none.

    Called by `store_writer.publish` on the staging folder, and on first read for older versions.
    Given the `previous` version and the (force, month) pairs `changed` since it, only the
    (force, financial year) blocks a changed month touches are computed; every other file is a
    hard link to the previous version's, if that was built in this format, under the same
    fingerprint and for the same measures (otherwise everything is computed). Either way the
    files are the ones a full compute writes.
    """
    if not materialised(dataset):
        return None
    folder, data_dir = Path(folder), Path(data_dir)
    target = path_for(folder, data_dir)
    reuse, measures, before = _reusable(previous, changed, target.name)
    tmp = folder / f".{target.name}.{uuid.uuid4().hex[:6]}.tmp"
    try:
        tmp.mkdir()
        written, description, reuse = _write_blocks(tmp, folder, data_dir, dataset, reuse, measures, before)
        first, last = description["fys"] or [0, -1]
        for name, (source, rows) in reuse.items():
            force, fy = name.split("/")
            if first <= int(fy) <= last and name not in written:
                _link(source, tmp / _block_name(force, int(fy)))
                written[name] = rows
        description["blocks"] = dict(sorted(written.items()))
        description["rows"] = sum(written.values())
        (tmp / META_NAME).write_text(json.dumps(description, indent=1) + "\n")
        if target.exists():  # a rebuild under the writer's lock: the new one replaces it
            shutil.rmtree(target)
        os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for old_table in folder.glob(f"{PREFIX}*"):  # built under another geography or format: never read again
        if old_table != target:
            shutil.rmtree(old_table, ignore_errors=True) if old_table.is_dir() else old_table.unlink(missing_ok=True)
    return target


def _reusable(previous: Path | None, changed: set | None,
              name: str) -> tuple[dict[str, tuple[Path, int]], list[str] | None, _Previous | None]:
    """The previous version's block files no changed month touches ("force/fy" -> (file, rows)), the
    measures they were built for (reusable only if the new version has exactly those), and what an
    incremental build reads of the previous version (None when nothing is reusable).

    `name` is the new table's (`path_for`): the previous version's table of that name was built under
    the same geography, methods and format, since the fingerprint in the name covers them."""
    if previous is None or changed is None:
        return {}, None, None
    old = Path(previous) / name
    old_meta = meta(old)
    if old_meta.get("format") != FORMAT or not old_meta.get("fys"):
        return {}, None, None
    dirty = _dirty_blocks(changed)
    reuse = {}
    for block, rows in old_meta.get("blocks", {}).items():
        force, fy = block.split("/")
        if (force, int(fy)) not in dirty:
            reuse[block] = (old / _block_name(force, int(fy)), int(rows))
    blocks = {block: int(rows) for block, rows in old_meta.get("blocks", {}).items()}
    return reuse, old_meta.get("measures"), _Previous(Path(previous), old, blocks, frozenset(changed))


def _write_blocks(root: Path, folder: Path, data_dir: Path, dataset: str, reuse: dict,
                  measures: list[str] | None, previous: _Previous | None = None) -> tuple[dict[str, int], dict, dict]:
    """Compute and write every block not reused, WRITE_THREADS blocks at a time; (rows per block,
    meta, the reused blocks still to link: none if the measures changed).

    Each block is its own task (the engine over one force's series for one year, then its file):
    numpy and Parquet release the GIL, so the two cores both work, and memory holds only the
    blocks in flight beside the count matrix.
    """
    skip = {(name.split("/")[0], int(name.split("/")[1])) for name in reuse}
    plan = _Plan(folder, data_dir, dataset, skip=skip, measures=measures if reuse else None,
                 previous=previous if reuse else None)
    if reuse and plan.description["measures"] != measures:  # a measure came or went: every series list changed
        plan, reuse = _Plan(folder, data_dir, dataset, measures=plan.description["measures"]), {}

    def one(task: tuple[str, int]) -> tuple[str, int]:
        force, fy = task
        table = plan.block(force, fy)
        path = root / _block_name(force, fy)
        path.parent.mkdir(exist_ok=True)
        pq.write_table(table, path, **WRITE_OPTIONS)
        return f"{force}/{fy}", table.num_rows

    written: dict[str, int] = {}
    with ThreadPoolExecutor(WRITE_THREADS) as pool:
        for batch in plan.batches():  # each batch whole before the next replaces the plan's counts
            written.update(pool.map(one, batch))
    return written, plan.description, reuse


def _link(source: Path, destination: Path) -> None:
    """A hard link (no copy, no extra space; deleting the old version leaves this one whole), or a copy."""
    destination.parent.mkdir(exist_ok=True)
    try:
        os.link(source, destination)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EROFS, errno.EDQUOT):
            raise
        shutil.copyfile(source, destination)


def ensure(folder: Path, data_dir: Path, dataset: str) -> Path | None:
    """The version's limits table, built now if it is missing (once, under a lock); None if it cannot be."""
    if not materialised(dataset):
        return None
    target = path_for(folder, data_dir)
    if (target / META_NAME).exists():
        return target
    try:
        with open(Path(folder) / LOCK_NAME, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another worker building it: wait, then read theirs
            try:
                if not (target / META_NAME).exists():
                    for leftover in Path(folder).glob(f".{PREFIX}*.tmp"):  # a builder killed mid-write
                        shutil.rmtree(leftover, ignore_errors=True)
                    write(folder, data_dir, dataset)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
    except OSError:
        return None  # a read-only store: callers compute on demand
    return target if (target / META_NAME).exists() else None


# --------------------------------------------------------------------------- reading

_create_lock = threading.Lock()


def _relation(store, dataset: str) -> str | None:
    """The name of this version's limits relation for a store dataset (loaded or a view), or None."""
    version = store.snapshot()
    source = datasets.get(dataset).source

    def load():
        folder = version.datasets.get(source)
        if folder is None:
            return None
        path = ensure(folder, version.data_dir, source)
        if path is None:
            return None
        name = f"limits_{source}"
        rows = row_count(path)
        if not rows:
            return None  # nothing held: the (empty) answers are computed on demand
        relation = source_sql(path)
        kind = "TABLE" if rows <= IN_MEMORY_ROWS else "VIEW"
        with _create_lock:  # two threads creating one table at once would be a catalog conflict
            cursor = version.con.cursor()
            try:
                cursor.execute(f"CREATE {kind} IF NOT EXISTS {name} AS SELECT * FROM {relation}")
            finally:
                cursor.close()
        return name

    return version.cached(("limits_table", source), load)


_local = threading.local()


@contextmanager
def computing_on_demand():
    """Within this block (this thread), every path computes its limits on demand, as for a
    non-default k: how the tests and the benchmark compare the stored figures with the engine's."""
    previous = getattr(_local, "off", False)
    _local.off = True
    try:
        yield
    finally:
        _local.off = previous


def usable(method: str, k: float) -> bool:
    """Whether stored limits answer this request: a registered method at its default k."""
    if getattr(_local, "off", False):
        return False
    chosen = limits.METHODS.get(method) if isinstance(method, str) else None
    return chosen is not None and float(k) == float(chosen.default_k)


def read(store, dataset: str, force: str, method: str, k: float, first: pd.Timestamp, last: pd.Timestamp,
         where: str = "", params: list | None = None) -> pd.DataFrame | None:
    """Stored rows of one force from `first` to `last` (plus an optional condition), or None when
    there are none to read (a non-default k, a store that cannot hold the file). Columns: measure,
    area, neighbourhood (None for an area-level series), month, count, monthly_average_prev3,
    average, upper, lower, status, baseline_years."""
    if not usable(method, k):
        return None
    name = _relation(store, dataset)
    if name is None:
        return None
    frame = store.snapshot().query(
        f"""SELECT measure, area, neighbourhood, month, count, monthly_average_prev3, average,
                   upper_{method} AS upper, lower_{method} AS lower, status_{method} AS status, baseline_years
            FROM {name} WHERE force = ? AND month BETWEEN ? AND ? {('AND ' + where) if where else ''}""",
        [force, pd.Timestamp(first).date(), pd.Timestamp(last).date(), *(params or [])],
    )
    frame["month"] = pd.to_datetime(frame["month"])
    frame["status"] = frame["status"].astype(object)
    for column in ("measure", "area", "neighbourhood"):
        frame[column] = frame[column].astype(object)
    frame["neighbourhood"] = frame["neighbourhood"].where(frame["neighbourhood"] != NO_NEIGHBOURHOOD, None)
    return frame


def as_reported(frame: pd.DataFrame, report_month: pd.Timestamp | None, min_significant: int) -> pd.DataFrame:
    """What the engine gives with the year blanked after `report_month`: those months' counts are
    missing (status "No data"); a flag under `min_significant` is low volume."""
    frame = frame.copy()
    if report_month is not None:
        after = frame["month"] > pd.Timestamp(report_month)
        frame.loc[after, "count"] = np.nan
        frame.loc[after, "status"] = limits.NO_DATA
    flagged = frame["status"].isin([limits.ABOVE, limits.BELOW]).to_numpy()
    with np.errstate(invalid="ignore"):
        frame["low_volume"] = flagged & (frame["count"].to_numpy(dtype=float) < min_significant)
    return frame


def read_grid(store, dataset: str, force: str, method: str, k: float, keys: pd.DataFrame,
              months: pd.DatetimeIndex) -> dict[str, np.ndarray] | None:
    """Stored columns as (series x month) arrays, rows in the order of `keys` (columns area,
    neighbourhood - "" for an area - and measure); None when not usable. `present` marks the
    cells the file holds (a month outside its years, or a series it lacks, is not present).

    One join in DuckDB and a scatter into numpy: no pandas reshaping, so a report's few
    thousand series x 48 months come back in milliseconds.
    """
    if not usable(method, k):
        return None
    name = _relation(store, dataset)
    if name is None:
        return None
    wanted = keys[["area", "neighbourhood", "measure"]].assign(i=np.arange(len(keys)))
    cursor = store.snapshot().con.cursor()
    try:
        cursor.register("wanted_series", wanted)
        cells = cursor.execute(
            f"""SELECT w.i, datediff('month', ?::DATE, l.month) AS j, l.count, l.monthly_average_prev3, l.average,
                       l.upper_{method} AS upper, l.lower_{method} AS lower, l.status_{method} AS status, l.baseline_years
                FROM {name} l JOIN wanted_series w USING (area, neighbourhood, measure)
                WHERE l.force = ? AND l.month BETWEEN ? AND ?""",
            [months[0].date(), force, months[0].date(), months[-1].date()],
        ).fetchnumpy()
    finally:
        cursor.close()
    i, j = cells["i"].astype(np.int64), cells["j"].astype(np.int64)
    shape = (len(keys), len(months))
    grid: dict[str, np.ndarray] = {"present": np.zeros(shape, dtype=bool)}
    grid["present"][i, j] = True
    for column in ("count", "monthly_average_prev3", "average", "upper", "lower"):
        grid[column] = np.full(shape, np.nan)
        # NaN is stored as null (Arrow's missing value); fetchnumpy gives nulls as a mask.
        grid[column][i, j] = np.ma.filled(np.ma.asarray(cells[column]).astype(float), np.nan)
    grid["status"] = np.full(shape, None, dtype=object)
    grid["status"][i, j] = np.asarray(cells["status"], dtype=object)
    grid["baseline_years"] = np.zeros(shape, dtype=np.int64)
    grid["baseline_years"][i, j] = np.asarray(cells["baseline_years"], dtype=np.int64)
    return grid


def blank_after(grid: dict[str, np.ndarray], months: pd.DatetimeIndex, report_month: pd.Timestamp | None,
                min_significant: int) -> dict[str, np.ndarray]:
    """`as_reported` for a grid: months after the report month missing, flags under `min_significant` low volume."""
    count, status = grid["count"].copy(), grid["status"].copy()
    if report_month is not None:
        after = np.asarray(months > pd.Timestamp(report_month))
        count[:, after] = np.nan
        status[:, after] = limits.NO_DATA
    flagged = (status == limits.ABOVE) | (status == limits.BELOW)
    with np.errstate(invalid="ignore"):
        low_volume = flagged & (count < min_significant)
    return {**grid, "count": count, "status": status, "low_volume": low_volume}
