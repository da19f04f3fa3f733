"""Every series' limits, every month, computed once per store version and read by the pages.

The summary table, the board view's Current Issues, the report and the charts all show the
engine's lines (`queries.limits`) at the method's default k. Computing them per request means
a grouped scan of the monthly table and an engine call each time; for a national store the
report's every-neighbourhood pass took over a minute one chart at a time. Instead one
vectorised pass computes every series x month of a dataset, for every registered method at
its default k, and writes it beside the monthly table:

    <dataset>/<version>/limits-<fingerprint>.parquet

one row per (force, measure, area, neighbourhood, month) of every financial year the force's
data touches, month-major (so a report month's rows are a few row groups), with the
method-independent columns once (`count`, `monthly_average_prev3`, `average`,
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

The file is written into the staging folder by `store_writer.publish` (one hook call), so a
published version carries it. A version published before this existed, or whose geography
has changed since (the fingerprint covers the areas, the methods and their default k), gets it
on first read: built once under a lock (other workers wait and then read it) and written
atomically. If the folder cannot be written, readers fall back to computing on demand.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from queries import datasets, geography, limits, owners
from queries.store import FORCE_KEY, has_column, parquet_source, sql_string

# Bump when the file's columns or meaning change: old files are then rebuilt on first read.
FORMAT = 2  # 2: series sorted by force, measure, area, neighbourhood within each month
PREFIX = "limits-"
LOCK_NAME = ".limits.lock"
# Rows per Parquet row group: a report month of one force is a few groups, so DuckDB's
# min/max statistics on (force, month) skip the rest of a national file unread.
ROW_GROUP_ROWS = 16_384
# Up to this many rows (a force's store: about 0.3 M per dataset) the table is loaded into the worker's
# DuckDB (fastest); above it (a national store) queries scan the Parquet with filters pushed
# down, so a worker's memory does not grow with the store.
IN_MEMORY_ROWS = 1_000_000
NO_NEIGHBOURHOOD = ""  # an area-level series' neighbourhood key
KEY_COLUMNS = ["force", "measure", "area", "neighbourhood"]


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
    return Path(folder) / f"{PREFIX}{fingerprint(data_dir)}.parquet"


# --------------------------------------------------------------------------- computing


def _relations(con: duckdb.DuckDBPyConnection, folder: Path, forces: list[str]) -> None:
    """Views `m` (the version's monthly rows of the store's own forces) and `cov` (force, month held)."""
    own = f"{FORCE_KEY} IN {owners.sql_list(forces)}"
    default = "'" + forces[0].replace("'", "''") + "'"
    monthly = parquet_source(folder / "monthly.parquet")
    if has_column(con, monthly, FORCE_KEY):
        con.execute(f"CREATE VIEW m AS SELECT * FROM {monthly} WHERE {own}")
    else:  # a store written before rows carried their force: all the first force's
        con.execute(f"CREATE VIEW m AS SELECT *, {default} AS {FORCE_KEY} FROM {monthly}")
    coverage = f"read_parquet({sql_string(folder / 'coverage.parquet')})"
    if has_column(con, coverage, FORCE_KEY):
        con.execute(f"CREATE VIEW cov AS SELECT DISTINCT {FORCE_KEY}, month FROM {coverage} WHERE {own}")
    else:
        con.execute(f"CREATE VIEW cov AS SELECT DISTINCT {default} AS {FORCE_KEY}, month FROM {coverage}")


def _series_keys(areas: dict[str, geography.ForceAreas], measures: list[str]) -> pd.DataFrame:
    """One row per series: each force's top areas then its neighbourhoods, each for every measure."""
    rows = []
    for slug, own in areas.items():
        hoods = own.wards[["csp", "neighbourhood"]].dropna().drop_duplicates().sort_values(["csp", "neighbourhood"])
        csps = set(own.csps)  # a property that walks the geography: once, not per neighbourhood
        places = [(a, NO_NEIGHBOURHOOD) for a in own.top_areas]
        places += [(r.csp, r.neighbourhood) for r in hoods.itertuples() if r.csp in csps]
        rows += [(slug, m, a, n) for a, n in places for m in measures]
    # Sorted, so that within a month each row group holds a narrow range of (force, measure, area):
    # a chart's or a force's summary rows are then a few row groups, the rest skipped by their statistics.
    return pd.DataFrame(rows, columns=KEY_COLUMNS).sort_values(KEY_COLUMNS, ignore_index=True)


def compute(folder: Path, data_dir: Path, dataset: str) -> pa.Table:
    """Every series x month of one dataset version, for every method at its default k, as one frame.

    One grouped query gives every series' monthly counts (neighbourhood, CSP, county and force
    levels stacked), scattered into a (series x months) matrix; the engine then runs once per
    financial year and method over all series at once.
    """
    folder, data_dir = Path(folder), Path(data_dir)
    areas = _force_areas(data_dir)
    con = duckdb.connect(":memory:")
    try:
        _relations(con, folder, list(areas))
        measures = sorted(con.execute("SELECT DISTINCT measure FROM m WHERE measure IS NOT NULL").df()["measure"])
        held = con.execute("SELECT force, month FROM cov").df()
        # Only the forces that hold some of this dataset: the others' series are all gaps, and a
        # dataset held for one force of a national store (fire, hate crime) would otherwise store
        # every force's (6 GB and a minute in the worker that built it). Readers find no stored
        # rows for such a force and compute on demand, as for a series the file lacks.
        areas = {slug: own for slug, own in areas.items() if slug in set(held["force"])}
        keys = _series_keys(areas, measures)
        if not len(held) or not len(keys):
            return _empty_table(dataset)
        held["month"] = pd.to_datetime(held["month"])
        first_fy = limits.fy_of(held["month"].min())
        last_fy = limits.fy_of(held["month"].max())
        months = pd.date_range(limits.window_months(first_fy)[0], limits.fy_months(last_fy)[-1], freq="MS")
        counties = pd.DataFrame([(slug, name) for slug, own in areas.items() for name in own.county_names],
                                columns=["force", "name"], dtype=object)
        con.register("series_keys", keys.assign(i=np.arange(len(keys))))
        con.register("counties", counties if len(counties) else pd.DataFrame({"force": ["\0"], "name": ["\0"]}))
        cells = con.execute(
            f"""WITH w AS (SELECT * FROM m WHERE month BETWEEN ? AND ?),
                levels AS (
                  SELECT force, csp AS area, neighbourhood, measure, month, sum(count) AS n FROM w
                    WHERE csp IS NOT NULL AND neighbourhood IS NOT NULL GROUP BY ALL
                  UNION ALL SELECT force, csp, '{NO_NEIGHBOURHOOD}', measure, month, sum(count) FROM w
                    WHERE csp IS NOT NULL GROUP BY ALL
                  UNION ALL SELECT w.force, parent, '{NO_NEIGHBOURHOOD}', measure, month, sum(count) FROM w
                    JOIN counties c ON w.force = c.force AND w.parent = c.name GROUP BY ALL
                  UNION ALL SELECT force, '{geography.FORCE}', '{NO_NEIGHBOURHOOD}', measure, month, sum(count) FROM w
                    GROUP BY ALL)
                SELECT k.i, datediff('month', ?::DATE, l.month) AS j, l.n::DOUBLE AS n
                FROM levels l JOIN series_keys k USING (force, area, neighbourhood, measure)""",
            [months[0].date(), months[-1].date(), months[0].date()],
        ).fetchnumpy()
    finally:
        con.close()
    force_codes = pd.Categorical(keys["force"], categories=list(areas)).codes
    is_held = np.zeros((len(areas), len(months)), dtype=bool)
    held_force = pd.Categorical(held["force"], categories=list(areas)).codes
    is_held[held_force, months.get_indexer(held["month"])] = True
    counts = np.zeros((len(keys), len(months)))
    np.add.at(counts, (cells["i"].astype(np.int64), cells["j"].astype(np.int64)), cells["n"])
    counts[~is_held[force_codes]] = np.nan  # a month the force does not hold is a gap, not a zero
    return limits_frame(dataset, keys, months, counts, range(first_fy, last_fy + 1))


def limits_frame(dataset: str, keys: pd.DataFrame, months: pd.DatetimeIndex, counts: np.ndarray, fys) -> pa.Table:
    """Run the engine per financial year and method; lay the results out month-major."""
    n_series = len(keys)
    parts: dict[str, list[np.ndarray]] = {"count": [], "monthly_average_prev3": [], "average": [], "baseline_years": []}
    for method in limits.METHODS:
        for column in ("upper", "lower", "status"):
            parts[f"{column}_{method}"] = []
    year_months = []
    for fy in fys:
        window_months = limits.window_months(fy)
        start = months.get_loc(window_months[0])
        # Contiguous, as the on-demand paths hand the engine: the same sums in the same order.
        window = np.ascontiguousarray(counts[:, start:start + len(window_months)])
        for name, method in limits.METHODS.items():
            result = limits.compute_limits(window, name, method.default_k)
            parts[f"upper_{name}"].append(result.upper.T)
            parts[f"lower_{name}"].append(result.lower.T)
            parts[f"status_{name}"].append(result.status.T)
        parts["count"].append(result.count.T)
        parts["monthly_average_prev3"].append(result.monthly_average_prev3.T)
        parts["average"].append(result.average.T)
        parts["baseline_years"].append(result.baseline_years.T)
        year_months.append(limits.fy_months(fy))
    all_months = np.concatenate([m.to_numpy(dtype="datetime64[D]") for m in year_months])
    return _table(dataset, keys, all_months, {c: [np.concatenate(v, axis=0).ravel()] for c, v in parts.items()})


def _table(dataset: str, keys: pd.DataFrame, months: np.ndarray, parts: dict[str, list[np.ndarray]]) -> pa.Table:
    """The Arrow table, built from numpy arrays without pandas (a national store has millions of rows):
    keys and statuses dictionary-encoded, rows month-major."""
    n_rows = len(keys) * len(months)
    columns = {"dataset": pa.DictionaryArray.from_arrays(np.zeros(n_rows, dtype=np.int32), pa.array([dataset]))}
    for column in KEY_COLUMNS:
        codes, names = pd.factorize(keys[column].to_numpy(dtype=object))
        columns[column] = pa.DictionaryArray.from_arrays(np.tile(codes.astype(np.int32), len(months)),
                                                         pa.array(np.asarray(names, dtype=object), pa.string()))
    columns["month"] = pa.array(np.repeat(months.astype("datetime64[D]"), len(keys)), pa.date32())
    for column, values in parts.items():
        stacked = np.concatenate(values) if values else np.array([])
        if column.startswith("status_"):
            columns[column] = pa.array(stacked.astype(object), pa.string()).dictionary_encode()
        elif column == "baseline_years":
            columns[column] = pa.array(stacked.astype(np.int8), pa.int8())
        else:
            # NaN (a month not held, no limits) is written as null, Arrow's missing value.
            columns[column] = pa.array(stacked.astype(float), pa.float64(), from_pandas=True)
    return pa.table(columns)


def _empty_table(dataset: str) -> pa.Table:
    """No held month: the table's columns, no rows."""
    parts = {c: [] for c in ("count", "monthly_average_prev3", "average", "baseline_years")}
    parts.update({f"{c}_{name}": [] for name in limits.METHODS for c in ("upper", "lower", "status")})
    return _table(dataset, pd.DataFrame({c: [] for c in KEY_COLUMNS}, dtype=object), np.array([], "datetime64[D]"),
                  parts)


def write(folder: Path, data_dir: Path, dataset: str) -> Path | None:
    """Compute and write a version folder's limits table (atomically); None for a dataset that has none.

    Called by `store_writer.publish` on the staging folder, and on first read for older versions.
    """
    if not materialised(dataset):
        return None
    folder = Path(folder)
    target = path_for(folder, data_dir)
    table = compute(folder, data_dir, dataset)
    tmp = folder / f".{target.name}.{uuid.uuid4().hex[:6]}.tmp"
    try:
        pq.write_table(table, tmp, row_group_size=ROW_GROUP_ROWS, compression="zstd")
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    for old in folder.glob(f"{PREFIX}*.parquet"):  # built under another geography: never read again
        if old != target:
            old.unlink(missing_ok=True)
    return target


def ensure(folder: Path, data_dir: Path, dataset: str) -> Path | None:
    """The version's limits file, built now if it is missing (once, under a lock); None if it cannot be."""
    if not materialised(dataset):
        return None
    target = path_for(folder, data_dir)
    if target.exists():
        return target
    try:
        with open(Path(folder) / LOCK_NAME, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another worker building it: wait, then read theirs
            try:
                if not target.exists():
                    write(folder, data_dir, dataset)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
    except OSError:
        return None  # a read-only store: callers compute on demand
    return target if target.exists() else None


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
        relation = f"read_parquet({sql_string(path)})"
        rows = pq.ParquetFile(path).metadata.num_rows
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
