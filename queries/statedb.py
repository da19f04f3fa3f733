"""The state directory's SQLite database: users, failed sign-ins and the audit log.

One file shared by every gunicorn worker (SQLite serialises writers; WAL lets readers go on
while one writes). The audit table is append-only: triggers refuse UPDATE and DELETE, so
not even a bug in this code can rewrite history (an operator with the file can, which is
why docs/security.md asks for backups elsewhere).
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

DB_FILE = "state.sqlite3"
# Workers wait this long for another worker's write instead of failing.
BUSY_TIMEOUT_SECONDS = 10

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    forces TEXT NOT NULL DEFAULT '',
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS failures (
    name TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS failures_name ON failures (name, at);
CREATE TABLE IF NOT EXISTS unlocks (
    name TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    who TEXT NOT NULL,
    role TEXT NOT NULL,
    event TEXT NOT NULL,
    view TEXT NOT NULL DEFAULT '',
    filters TEXT NOT NULL DEFAULT '',
    rows INTEGER,
    address TEXT NOT NULL DEFAULT ''
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""


class StateError(RuntimeError):
    """The state directory cannot be used (missing, not writable); the message says which."""


def connect(state_dir: Path | str) -> sqlite3.Connection:
    """Open (creating if needed) the state database; raise StateError naming the folder if impossible."""
    folder = Path(state_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(folder / DB_FILE, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        con.executescript(SCHEMA)
    except (OSError, sqlite3.Error) as exc:
        raise StateError(f"the state directory {folder} cannot be written ({exc}); set CSP_STATE_DIR to a writable folder") from None
    return con
