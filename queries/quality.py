"""Where every record went: sources, months held, gaps, reconciliation and rejections per dataset.

Counts of rejected rows are given by reason only, never the rows themselves: MARAC rows are
about victims at highest risk and must not leave the quarantine file.
"""
from __future__ import annotations

import pandas as pd

from queries import series
from queries.settings import DEFAULT_SUPPRESS_BELOW
from queries.store import DATASETS, SENSITIVE_DATASETS, Store


# read = loaded + outside the owner's area + another owner's + unknown area code + no location + rejected
RECONCILED_PARTS = ["loaded", "outside_area", "another_owner", "unknown_area", "unallocated", "rejected"]


def overview(store: Store) -> pd.DataFrame:
    """One row per dataset: source, synthetic or real, first and last month, gaps, rows."""
    rows = []
    for dataset in DATASETS:
        if not store.has(dataset):
            rows.append({"dataset": dataset, "source": "not loaded", "synthetic": False, "first month": "",
                         "last month": "", "months held": 0, "missing months": 0, "records": 0})
            continue
        held = series.coverage(store, dataset)
        span = pd.date_range(held.min(), held.max(), freq="MS") if len(held) else pd.DatetimeIndex([])
        # Once per version: a national store's records are thousands of partitions to open, whose
        # footers are not kept (38 MiB a worker for the national store; nothing else reads them).
        records = store.cached(("records_count", dataset), lambda d=dataset: int(
            store.query(f"SELECT count(*) AS n FROM {d}_records", cache_footers=False)["n"].iloc[0]))
        rows.append({
            "dataset": dataset,
            "source": store.source(dataset),
            "synthetic": store.is_synthetic(dataset),
            "first month": f"{held.min():%b %Y}" if len(held) else "",
            "last month": f"{held.max():%b %Y}" if len(held) else "",
            "months held": len(held),
            "missing months": len(span) - len(held),
            "records": int(records),
        })
    return pd.DataFrame(rows)


def missing_months(store: Store, dataset: str) -> list[str]:
    """Months between the first and last held that the store lacks (shown as gaps)."""
    held = series.coverage(store, dataset)
    if not len(held):
        return []
    span = pd.date_range(held.min(), held.max(), freq="MS")
    return [f"{m:%b %Y}" for m in span if m not in held]


def reconciliation(store: Store, dataset: str) -> pd.DataFrame:
    """Per file: rows read = loaded + outside area + unallocated + rejected, with a check column."""
    if not store.has(dataset) or not _has_table(store, f"{dataset}_reconciliation"):
        return pd.DataFrame(columns=["file", "rows_read", *RECONCILED_PARTS, "adds up"])
    table = store.query(
        f"""SELECT file, sum(rows_read)::BIGINT AS rows_read, {_sums()}
            FROM {_parts_relation(store, dataset)} GROUP BY file ORDER BY file"""
    )
    table["adds up"] = table[RECONCILED_PARTS].sum(axis=1) == table["rows_read"]
    if dataset in SENSITIVE_DATASETS:
        # Only whether each file reconciles: small row counts by file and month could point at a case.
        return table[["file", "adds up"]]
    return table


def reconciliation_by_month(store: Store, dataset: str) -> pd.DataFrame:
    """Per month held: rows read = loaded + outside area + unallocated + rejected, as of the current version.

    Each version's reconciliation table describes the data it holds (a re-imported month's
    old rows leave with its old records), so these are the rows behind today's figures, not
    a sum over every import (that history is the import log). Rows whose month could not
    be read are listed as month "unknown". Only months the store holds are shown.
    """
    columns = ["month", "files", "rows_read", *RECONCILED_PARTS, "adds up"]
    if not store.has(dataset) or not _has_table(store, f"{dataset}_reconciliation"):
        return pd.DataFrame(columns=columns)
    has_month = bool(store.query(
        "SELECT count(*) AS n FROM information_schema.columns WHERE table_name = ? AND column_name = 'month'",
        [f"{dataset}_reconciliation"],
    )["n"].iloc[0])
    # The demo's reconciliation is one row for the whole synthetic set, with no month.
    month_sql = "strftime(TRY_CAST(month AS DATE), '%Y-%m')" if has_month else "NULL::VARCHAR"
    table = store.query(
        f"""WITH r AS (
                SELECT {month_sql} AS month, file, rows_read, {", ".join(RECONCILED_PARTS)}
                FROM {_parts_relation(store, dataset)}
            ), held AS (SELECT DISTINCT strftime(month, '%Y-%m') AS month FROM coverage WHERE dataset = ?)
            SELECT coalesce(r.month, 'unknown') AS month, count(DISTINCT file)::BIGINT AS files,
                   sum(rows_read)::BIGINT AS rows_read, {_sums()}
            FROM r WHERE r.month IS NULL OR r.month IN (SELECT month FROM held)
            GROUP BY 1 ORDER BY 1""",
        [dataset],
    )
    table["adds up"] = table[RECONCILED_PARTS].sum(axis=1) == table["rows_read"]
    if dataset in SENSITIVE_DATASETS:
        return table[["month", "adds up"]]
    return table[columns]


def rejection_reasons(store: Store, dataset: str, suppress_below: int = DEFAULT_SUPPRESS_BELOW) -> pd.DataFrame:
    """How many rows were rejected for each reason (the rows stay in the quarantine file)."""
    if not store.has(dataset) or not _has_table(store, f"{dataset}_rejected"):
        return pd.DataFrame(columns=["reason", "rows"])
    reasons = store.query(f"SELECT reason, count(*) AS rows FROM {dataset}_rejected GROUP BY reason ORDER BY rows DESC, reason")
    if dataset in SENSITIVE_DATASETS:
        reasons["rows"] = [f"under {suppress_below}" if n < suppress_below else f"{suppress_below} or more" for n in reasons["rows"]]
    return reasons


def _columns(store: Store, table: str) -> set[str]:
    found = store.query("SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table])
    return set(found["column_name"])


def _parts_relation(store: Store, dataset: str) -> str:
    """The dataset's reconciliation with every part, 0 for parts an older store does not have."""
    have = _columns(store, f"{dataset}_reconciliation")
    missing = [f"0::BIGINT AS {p}" for p in RECONCILED_PARTS if p not in have]
    return f"(SELECT *{', ' if missing else ''}{', '.join(missing)} FROM {dataset}_reconciliation)"


def _sums() -> str:
    return ", ".join(f"sum({p})::BIGINT AS {p}" for p in RECONCILED_PARTS)


def _has_table(store: Store, name: str) -> bool:
    found = store.query("SELECT count(*) AS n FROM information_schema.tables WHERE table_name = ?", [name])
    return bool(found["n"].iloc[0])
