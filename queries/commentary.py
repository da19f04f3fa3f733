"""Analysts' commentary and "Community Safety Partnership (CSP) Activity", per force, area,
measure and month, stored durably in SQLite in the state directory.

Keyed by force because area names repeat across forces: every force has a "Force Area", so
in a store of two forces the text written about one force's Force Area must never print in
the other's report. A database written before the force was part of the key is migrated on
first open: its rows belong to the store's first force (the only force commentary could be
written for then).

The packs complain that spreadsheets "do not provide any auditable history", so every
save and approval is kept (author, time, text). Several gunicorn workers and several
analysts may write at once, so saves use optimistic locking: an editor says which version
it started from, and a save against a version that has since moved on is refused with
both texts (`Conflict`), never silently overwritten. A draft reaches the board's report
only when an analyst approves that exact version; the approved text stays fixed until a
later version is approved.

Authentication is not done here: callers pass `author` (the signed-in user, once issue 10
provides one).
"""
from __future__ import annotations

import re
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

DB_FILE = "commentary.sqlite"
COMMENTARY = "commentary"
ACTIVITY = "activity"  # "Community Safety Partnership (CSP) Activity": per area and month, measure ""
# Analysts hand-pick Current Issues from the computed flags: once approved, "drop" takes a
# computed issue out of the report and "add" puts a measure in as an issue; the text is the reason.
DROP = "drop"
ADD = "add"
KINDS = (COMMENTARY, ACTIVITY, DROP, ADD)
KIND_LABELS = {COMMENTARY: "Commentary", ACTIVITY: "Community Safety Partnership (CSP) Activity",
               DROP: "Drop this Current Issue (reason)", ADD: "Add as a Current Issue (reason)"}
MAX_TEXT = 10_000  # characters: a few paragraphs is plenty; a paste of a whole document is a mistake
MAX_NAME = 200
BUSY_TIMEOUT_MS = 10_000  # another worker's write waits this long before we give up
MONTH_TEXT = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

ENTRY_COLUMNS = ("version INTEGER NOT NULL, text TEXT NOT NULL, author TEXT NOT NULL, saved_at TEXT NOT NULL, "
                 "approved_version INTEGER, approved_text TEXT, approved_by TEXT, approved_at TEXT")
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS entries (
    force TEXT NOT NULL, area TEXT NOT NULL, measure TEXT NOT NULL, month TEXT NOT NULL, kind TEXT NOT NULL,
    {ENTRY_COLUMNS},
    PRIMARY KEY (force, area, measure, month, kind)
);
CREATE TABLE IF NOT EXISTS history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    force TEXT NOT NULL, area TEXT NOT NULL, measure TEXT NOT NULL, month TEXT NOT NULL, kind TEXT NOT NULL,
    version INTEGER NOT NULL, action TEXT NOT NULL, text TEXT NOT NULL, author TEXT NOT NULL, at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS history_key ON history (force, area, measure, month, kind);
"""
# The key's columns, in Key.params() order, for every WHERE clause.
KEY_WHERE = "force = ? AND area = ? AND measure = ? AND month = ? AND kind = ?"


class CommentaryError(ValueError):
    """A bad key, author or text; the message names the field."""


class Conflict(CommentaryError):
    """Someone saved since this editor loaded the text: both texts are kept on the exception."""

    def __init__(self, mine: str, theirs: "Entry"):
        self.mine, self.theirs = mine, theirs
        super().__init__(
            f"not saved: {theirs.author} saved version {theirs.version} at {theirs.saved_at} since you started editing. "
            f"Their text: {theirs.text!r}. Your text: {mine!r}. Merge them and save again."
        )


@dataclass(frozen=True)
class Key:
    """What a piece of text is about: area, measure ("" for the area as a whole), month (YYYY-MM), kind,
    and the force (slug) whose area it is: area names such as "Force Area" repeat across forces."""

    area: str
    measure: str
    month: str
    kind: str
    force: str

    def checked(self) -> "Key":
        if not isinstance(self.kind, str) or self.kind not in KINDS:
            raise CommentaryError(f"kind {str(self.kind)[:60]!r}: choose one of {', '.join(KINDS)}")
        if not isinstance(self.month, str) or not MONTH_TEXT.match(self.month):
            raise CommentaryError(f"month {self.month!r}: give it as YYYY-MM")
        for field, value in (("area", self.area), ("measure", self.measure), ("force", self.force)):
            if not isinstance(value, str) or len(value) > MAX_NAME or any(ord(c) < 32 for c in value):
                raise CommentaryError(f"{field} {value!r} is not a valid name")
        if not self.area.strip():
            raise CommentaryError("area is required")
        if not self.force.strip():
            raise CommentaryError("force is required")
        return self

    def params(self) -> list[str]:
        return [self.force, self.area, self.measure, self.month, self.kind]


@dataclass(frozen=True)
class Entry:
    """The current draft of one key and what (if anything) is approved."""

    key: Key
    version: int
    text: str
    author: str
    saved_at: str
    approved_version: int | None
    approved_text: str | None
    approved_by: str | None
    approved_at: str | None

    @property
    def approved_is_current(self) -> bool:
        return self.approved_version == self.version


@dataclass(frozen=True)
class Event:
    version: int
    action: str  # "saved" or "approved"
    text: str
    author: str
    at: str


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _author(author: str) -> str:
    if not isinstance(author, str) or not author.strip() or len(author) > MAX_NAME:
        raise CommentaryError("author is required (a name of at most 200 characters)")
    return author.strip()


class Commentary:
    """The commentary database in a state directory (created on first use).

    `first_force`: the store's first force (slug), which owns the rows of a database written
    before commentary was keyed by force (see the module docstring).
    """

    def __init__(self, state_dir: Path | str, first_force: str):
        self.path = Path(state_dir) / DB_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._write() as con:
            _migrate_to_forces(con, first_force)
            for statement in SCHEMA.split(";"):  # executescript would commit the transaction
                if statement.strip():
                    con.execute(statement)

    @contextmanager
    def _connect(self):
        con = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        try:
            con.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            con.execute("PRAGMA journal_mode = WAL")  # readers never block the one writer
            yield con
        finally:
            con.close()

    @contextmanager
    def _write(self):
        """One write transaction, taken before reading, so check-then-write is atomic across processes."""
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    @staticmethod
    def _entry(key: Key, row) -> Entry | None:
        return None if row is None else Entry(key, *row)

    def _get(self, con, key: Key) -> Entry | None:
        row = con.execute(
            "SELECT version, text, author, saved_at, approved_version, approved_text, approved_by, approved_at "
            f"FROM entries WHERE {KEY_WHERE}", key.params()).fetchone()
        return self._entry(key, row)

    def get(self, key: Key) -> Entry | None:
        """The current draft and approval for a key, or None if nothing was ever saved."""
        key = key.checked()
        with self._connect() as con:
            return self._get(con, key)

    def save(self, key: Key, text: str, author: str, base_version: int) -> Entry:
        """Save a new version if the key is still at `base_version` (0: nothing saved yet); else `Conflict`."""
        key, author = key.checked(), _author(author)
        if not isinstance(text, str) or len(text) > MAX_TEXT:
            raise CommentaryError(f"text must be at most {MAX_TEXT:,} characters")
        text = text.strip()
        with self._write() as con:
            current = self._get(con, key)
            version = current.version if current else 0
            if version != base_version:
                raise Conflict(text, current)
            at = _now()
            if current is None:
                con.execute("INSERT INTO entries (force, area, measure, month, kind, version, text, author, saved_at) "
                            "VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?)", [*key.params(), text, author, at])
            else:
                con.execute(f"UPDATE entries SET version = ?, text = ?, author = ?, saved_at = ? WHERE {KEY_WHERE}",
                            [version + 1, text, author, at, *key.params()])
            con.execute("INSERT INTO history (force, area, measure, month, kind, version, action, text, author, at) "
                        "VALUES (?, ?, ?, ?, ?, ?, 'saved', ?, ?, ?)", [*key.params(), version + 1, text, author, at])
            return self._get(con, key)

    def approve(self, key: Key, author: str, version: int) -> Entry:
        """Approve exactly `version` (the one the approver read) for the board's report; else `Conflict`."""
        key, author = key.checked(), _author(author)
        with self._write() as con:
            current = self._get(con, key)
            if current is None:
                raise CommentaryError("there is nothing to approve: no text has been saved for this yet")
            if current.version != version:
                raise Conflict(f"(approval of version {version})", current)
            at = _now()
            con.execute("UPDATE entries SET approved_version = version, approved_text = text, approved_by = ?, "
                        f"approved_at = ? WHERE {KEY_WHERE}", [author, at, *key.params()])
            con.execute("INSERT INTO history (force, area, measure, month, kind, version, action, text, author, at) "
                        "VALUES (?, ?, ?, ?, ?, ?, 'approved', ?, ?, ?)",
                        [*key.params(), version, current.text, author, at])
            return self._get(con, key)

    def history(self, key: Key) -> list[Event]:
        """Every save and approval of a key, oldest first: the auditable history."""
        key = key.checked()
        with self._connect() as con:
            rows = con.execute(f"SELECT version, action, text, author, at FROM history WHERE {KEY_WHERE} ORDER BY id",
                               key.params())
            return [Event(*row) for row in rows.fetchall()]

    def approved_for_month(self, month: str, force: str) -> dict[tuple[str, str, str], tuple[str, str]]:
        """{(area, measure, kind): (approved text, approved by)} for one force's month: what its report prints."""
        if not isinstance(month, str) or not MONTH_TEXT.match(month):
            raise CommentaryError(f"month {month!r}: give it as YYYY-MM")
        if not isinstance(force, str) or not force.strip():
            raise CommentaryError("force is required")
        with self._connect() as con:
            rows = con.execute("SELECT area, measure, kind, approved_text, approved_by FROM entries WHERE force = ? "
                               "AND month = ? AND approved_version IS NOT NULL AND approved_text <> ''", [force, month])
            return {(a, m, k): (t, by) for a, m, k, t, by in rows.fetchall()}


def _columns(con, table: str) -> list[str]:
    return [row[1] for row in con.execute(f"PRAGMA table_info({table})").fetchall()]


def _migrate_to_forces(con, first_force: str) -> None:
    """A database from before commentary was keyed by force: its rows become the first force's.

    The primary key changes, which SQLite cannot alter, so `entries` is copied into a new table
    (inside the caller's write transaction: every worker sees the old table or the new, whole).
    """
    if not isinstance(first_force, str) or not first_force.strip():
        raise CommentaryError("the store's first force is needed to open the commentary")
    old_entries = _columns(con, "entries")
    if old_entries and "force" not in old_entries:
        con.execute("ALTER TABLE entries RENAME TO entries_before_forces")
        con.execute(SCHEMA.split(";")[0])  # the new entries table (executescript would end the transaction)
        moved = "area, measure, month, kind, version, text, author, saved_at, approved_version, approved_text, " \
                "approved_by, approved_at"
        con.execute(f"INSERT INTO entries (force, {moved}) SELECT ?, {moved} FROM entries_before_forces", [first_force])
        con.execute("DROP TABLE entries_before_forces")
    old_history = _columns(con, "history")
    if old_history and "force" not in old_history:
        con.execute("ALTER TABLE history ADD COLUMN force TEXT NOT NULL DEFAULT ''")
        con.execute("UPDATE history SET force = ?", [first_force])
        con.execute("DROP INDEX IF EXISTS history_key")


def force_of(data_dir: Path, force: str | None = None) -> str:
    """The slug commentary is kept under for a force (slug or name; None: the store's first force)."""
    from queries import geography

    return geography.areas(Path(data_dir), force or None).force.slug


def for_store(state_dir: Path | str, data_dir: Path) -> Commentary:
    """The commentary of the store at `data_dir` (its first force owns rows from before forces were keyed)."""
    return Commentary(state_dir, force_of(data_dir))
