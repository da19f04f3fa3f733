"""The append-only ledger of released MARAC tables, and the release that goes through it.

Every MARAC figure a role can see comes from one release per store version, and each
release is appended here (state directory, `marac_ledger` table; triggers refuse UPDATE and
DELETE) the first time it is made: by `python app.py import marac`, or by the first page
view of a version (whichever comes first; a transaction makes the second a read).

A new version is protected with every earlier release pinned (a cell hidden before stays
hidden, a figure shown before is never revised: if the store now says otherwise,
RevisionError and nothing is released), then audited over the whole ledger plus itself
(queries/marac_audit.py). A hidden cell the audit can narrow to under the threshold gets a
complement hidden and the audit runs again; what still fails is not released
(DisclosureError), so no version reaches a reader without passing the audit.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from queries import marac, marac_audit, statedb

SCHEMA = """
CREATE TABLE IF NOT EXISTS marac_ledger (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    version TEXT NOT NULL UNIQUE,
    threshold INTEGER NOT NULL,
    held TEXT NOT NULL,
    cells TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS marac_ledger_no_update BEFORE UPDATE ON marac_ledger
    BEGIN SELECT RAISE(ABORT, 'the MARAC ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS marac_ledger_no_delete BEFORE DELETE ON marac_ledger
    BEGIN SELECT RAISE(ABORT, 'the MARAC ledger is append-only'); END;
"""
# Rounds of "hide one more complement per failing cell, audit again" before giving up.
MAX_REPAIR_ROUNDS = 10


class DisclosureError(RuntimeError):
    """The audit over the ledger fails and more hiding did not mend it: nothing is released."""


def _connect(state_dir: Path):
    con = statedb.connect(state_dir)
    con.executescript(SCHEMA)
    return con


def _decode(held: str, cells: str) -> marac_audit.Published:
    frame = pd.DataFrame(json.loads(cells), columns=["period_type", "start", "area", "measure", "shown"])
    frame["start"] = pd.to_datetime(frame["start"])
    frame["shown"] = frame["shown"].astype(float)
    return marac_audit.Published(frame, tuple(pd.to_datetime(json.loads(held))))


def entries(state_dir: Path) -> list[tuple[str, marac_audit.Published]]:
    """(store version, release as published) in the order released."""
    con = _connect(state_dir)
    try:
        rows = con.execute("SELECT version, held, cells FROM marac_ledger ORDER BY seq").fetchall()
    finally:
        con.close()
    return [(version, _decode(held, cells)) for version, held, cells in rows]


def _encode(release: marac.Release) -> tuple[str, str]:
    shown = release.published()
    cells = [[t, f"{pd.Timestamp(s):%Y-%m-%d}", a, m, None if np.isnan(v) else int(v)]
             for t, s, a, m, v in shown.itertuples(index=False, name=None)]
    return json.dumps([f"{pd.Timestamp(m):%Y-%m-%d}" for m in release.held]), json.dumps(cells)


def _append(state_dir: Path, version: str, release: marac.Release) -> None:
    held, cells = _encode(release)
    con = _connect(state_dir)
    try:
        con.execute("BEGIN IMMEDIATE")
        if not con.execute("SELECT 1 FROM marac_ledger WHERE version = ?", [version]).fetchone():
            con.execute("INSERT INTO marac_ledger (at, version, threshold, held, cells) VALUES (?, ?, ?, ?, ?)",
                        [datetime.now(timezone.utc).isoformat(timespec="seconds"), version, release.threshold, held, cells])
        con.execute("COMMIT")
    except Exception as exc:
        con.execute("ROLLBACK") if con.in_transaction else None
        raise statedb.StateError(f"the MARAC ledger in {state_dir} cannot be written ({exc}); nothing was released") from None
    finally:
        con.close()


def _pins(published: list[marac_audit.Published]) -> pd.DataFrame | None:
    frames = [p.cells for p in published]
    return pd.concat(frames, ignore_index=True) if frames else None


def release_through_ledger(state_dir: Path, version: str, monthly: pd.DataFrame, held: pd.DatetimeIndex,
                           threshold: int) -> marac.Release:
    """The release for `version`: read back if in the ledger, else protected, audited and appended."""
    ledger = entries(state_dir)
    mine = [p for v, p in ledger if v == version]
    if mine:
        # Re-derive the figures (the release object holds true values for the tables'
        # rates) with this version's own decisions pinned, so it is exactly what was released.
        earlier = [p for v, p in ledger if v != version]
        rel = marac.build_release(monthly, held, threshold, pinned=_pins(mine + earlier))
        return rel
    earlier = [p for _, p in ledger]
    extra_hidden = pd.DataFrame(columns=["period_type", "start", "area", "measure", "shown"])
    for _ in range(MAX_REPAIR_ROUNDS):
        pins = _pins(earlier + ([marac_audit.Published(extra_hidden, ())] if len(extra_hidden) else []))
        rel = marac.build_release(monthly, held, threshold, pinned=pins)
        result = marac_audit.audit(earlier + [marac_audit.published(rel)], threshold)
        if result.ok:
            _append(state_dir, version, rel)
            return rel
        if len(result.derived) or len(result.revisions):
            break
        more = _complements(rel, result)
        if more.empty:
            break
        extra_hidden = pd.concat([extra_hidden, more], ignore_index=True)
    raise DisclosureError(f"MARAC not released: the disclosure audit over the ledger fails ({result.summary()})")


def _complements(rel: marac.Release, result: marac_audit.AuditResult) -> pd.DataFrame:
    """For each hidden cell the audit narrows too far, the smallest shown cell it adds up with."""
    failing = pd.concat([result.exact, result.narrow])
    key = ["period_type", "start", "area", "measure"]
    index = {tuple(k): i for i, k in enumerate(rel.cells[key].itertuples(index=False, name=None))}
    suppressed = rel.cells["suppressed"].to_numpy()
    values = rel.cells["value"].to_numpy()
    chosen = set()
    for row in failing[key].itertuples(index=False, name=None):
        cell = index.get((row[0], pd.Timestamp(row[1]), row[2], row[3]))
        if cell is None:
            continue
        options = [c for total, parts in rel.relations if cell == total or cell in parts
                   for c in [total, *parts] if not suppressed[c] and c not in chosen]
        if options:
            chosen.add(min(options, key=lambda c: (values[c], c)))
    picked = rel.cells.iloc[sorted(chosen)][key]
    return picked.assign(shown=np.nan)
