"""What every importer shares: month-replacing merge, reconciliation, quarantine, atomic publish.

An importer parses its files into three frames and hands them to `publish_import`:

* records: one row per accepted record, with at least record_id, month (date), ward_code,
  location (geography.IN_AREA / OUTSIDE_AREA / NO_LOCATION) and the dataset's own columns;
* rejected: one row per rejected input row: file, line, reason, raw (the original text);
* reconciliation: one row per file and month: file, month, rows_read, loaded,
  outside_area, unallocated, rejected; rows_read must equal the sum of the other four.

Re-importing a month replaces that month (no duplicates); other months are kept. If the
dataset currently holds synthetic demo data, a real import replaces it entirely, so real
and invented figures are never mixed.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from queries import store
from queries.measures import MEASURE_SQL

RECONCILIATION_COLUMNS = ["file", "month", "rows_read", "loaded", "outside_area", "unallocated", "rejected"]
REJECTED_COLUMNS = ["file", "line", "reason", "raw"]


class ImportError_(ValueError):
    """Input that cannot be imported; the message names the file (and line)."""


@dataclass
class ImportResult:
    version: Path
    months_replaced: list
    replaced_synthetic: bool
    reconciliation: pd.DataFrame
    quarantine_file: Path | None


def check_reconciliation(reconciliation: pd.DataFrame) -> None:
    """Refuse to publish numbers that do not add up: nothing may be silently lost."""
    parts = reconciliation[["loaded", "outside_area", "unallocated", "rejected"]].sum(axis=1)
    bad = reconciliation[parts != reconciliation["rows_read"]]
    if len(bad):
        row = bad.iloc[0]
        raise ImportError_(
            f"{row['file']} {row['month']}: rows read {row['rows_read']} != loaded + outside + "
            f"unallocated + rejected ({parts[bad.index[0]]}); nothing was written"
        )


def held_months(reconciliation: pd.DataFrame) -> set:
    """Months an import vouches for: a file month with no data rows is a real zero (held), but a
    month whose every row was rejected is unknown, not zero, so it is not held."""
    known = reconciliation.dropna(subset=["month"])
    vouched = known[(known["rows_read"] == 0) | (known["rows_read"] > known["rejected"])]
    return set(pd.to_datetime(vouched["month"]).dt.date)


def publish_import(
    data_dir: Path,
    dataset: str,
    records: pd.DataFrame,
    rejected: pd.DataFrame,
    reconciliation: pd.DataFrame,
    source: str,
) -> ImportResult:
    """Merge new records into the dataset, replacing the months they cover, and swap it in."""
    data_dir = Path(data_dir)
    check_reconciliation(reconciliation)
    if records.empty and rejected.empty:
        raise ImportError_("no rows to import: every file was empty")
    records = records.copy()
    records["month"] = pd.to_datetime(records["month"]).dt.date
    new_months = sorted(set(records["month"]) | held_months(reconciliation))
    with store.write_lock(data_dir):
        manifest = store.read_manifest(data_dir)
        replaced_synthetic = bool(manifest.get("synthetic", {}).get(dataset))
        current = None if replaced_synthetic else store.current_records(data_dir, dataset)
        current_dir = current.parent if current is not None else None
        folder = store.new_version_dir(data_dir, dataset)
        try:
            con = duckdb.connect(":memory:")
            con.register("new_records", records)
            new_months_df = pd.DataFrame({"month": new_months})
            con.register("new_months", new_months_df)
            target = store.sql_string(folder / "records.parquet")
            if current is not None and current.exists():
                old = store.sql_string(current)
                con.execute(
                    f"""COPY (
                        SELECT * FROM read_parquet({old}) WHERE month NOT IN (SELECT month FROM new_months)
                        UNION ALL BY NAME SELECT * FROM new_records
                        ORDER BY month
                    ) TO {target} (FORMAT parquet, COMPRESSION zstd)"""
                )
                old_coverage = pd.read_parquet(current_dir / "coverage.parquet")
            else:
                con.execute(f"COPY (SELECT * FROM new_records ORDER BY month) TO {target} (FORMAT parquet, COMPRESSION zstd)")
                old_coverage = pd.DataFrame({"month": [], "source": []})
            con.close()
            coverage = pd.concat(
                [old_coverage[~pd.to_datetime(old_coverage["month"]).dt.date.isin(new_months)],
                 pd.DataFrame({"month": new_months, "source": source})],
                ignore_index=True,
            )
            coverage["month"] = pd.to_datetime(coverage["month"]).dt.date
            store.write_parquet(coverage.sort_values("month", ignore_index=True), folder / "coverage.parquet")
            _append(current_dir, folder, "reconciliation", reconciliation, RECONCILIATION_COLUMNS)
            _append(current_dir, folder, "rejected", rejected, REJECTED_COLUMNS)
            store.build_monthly(folder, data_dir, MEASURE_SQL[dataset])
            version = store.publish(data_dir, dataset, folder, source=source, synthetic=False)
        except BaseException:  # interrupted or failed: leave nothing half-written behind
            shutil.rmtree(folder, ignore_errors=True)
            raise
    quarantine = None
    if len(rejected):
        quarantine = data_dir / dataset / "quarantine.csv"
        all_rejected = pd.read_parquet(version / "rejected.parquet")
        tmp = quarantine.with_suffix(".csv.tmp")
        all_rejected.to_csv(tmp, index=False)
        tmp.replace(quarantine)
    return ImportResult(version, new_months, replaced_synthetic, reconciliation, quarantine)


def _append(current_dir: Path | None, folder: Path, table: str, frame: pd.DataFrame, columns: list[str]) -> None:
    """Carry a history table (reconciliation, rejected rows) forward, adding this import's rows."""
    # Required columns first; an importer's extra columns (e.g. fires vs false alarms) are kept too.
    columns = columns + [c for c in frame.columns if c not in columns]
    frame = frame.reindex(columns=columns).astype({c: "string" for c in columns if c in ("file", "reason", "raw")})
    frames = [frame]
    if current_dir is not None and (current_dir / f"{table}.parquet").exists():
        frames.insert(0, pd.read_parquet(current_dir / f"{table}.parquet"))
    merged = pd.concat(frames, ignore_index=True)
    if "month" in merged:
        merged["month"] = merged["month"].astype("string")
    store.write_parquet(merged, folder / f"{table}.parquet")
