"""The append-only audit log of sign-ins and exports: who, when, which view and filters, how many rows.

Written to the state database (see statedb: UPDATE and DELETE are refused by triggers).
`record` raises statedb.StateError when the log cannot be written; callers refuse the
sign-in or export rather than serve it unlogged.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from queries import statedb

SIGN_IN, SIGN_IN_FAILED, LOCKED_OUT, SIGN_OUT, EXPORT, UNLOCK, SESSION = (
    "sign-in", "sign-in failed", "locked out", "sign-out", "export", "unlock", "session switch")
# Filters longer than this are cut: a crafted request must not fill the disk.
MAX_FILTER_CHARS = 2000


def record(state_dir: Path, who: str, role: str, event: str, view: str = "", filters: dict | str = "",
           rows: int | None = None, address: str = "") -> None:
    text = filters if isinstance(filters, str) else json.dumps(filters, sort_keys=True, default=str)
    con = statedb.connect(state_dir)
    try:
        con.execute(
            "INSERT INTO audit (at, who, role, event, view, filters, rows, address) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [datetime.now(timezone.utc).isoformat(timespec="seconds"), who[:64], role, event, view[:200],
             text[:MAX_FILTER_CHARS], rows, address[:64]],
        )
    except Exception as exc:  # sqlite3.Error: disk full, read-only file
        raise statedb.StateError(f"the audit log in {state_dir} cannot be written ({exc})") from None
    finally:
        con.close()


def entries(state_dir: Path, limit: int = 500) -> pd.DataFrame:
    """The latest `limit` entries, newest first."""
    con = statedb.connect(state_dir)
    try:
        return pd.read_sql_query("SELECT * FROM audit ORDER BY seq DESC LIMIT ?", con, params=[limit])
    finally:
        con.close()
