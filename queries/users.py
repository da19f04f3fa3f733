"""Users with hashed passwords, and lock-out after repeated failed sign-ins.

Passwords are hashed with werkzeug.security (scrypt, salted), the library Flask itself
ships, never stored or logged in clear. Lock-out is kept in the shared state database so
every gunicorn worker sees the same count: after `MAX_FAILURES` failed sign-ins within
`FAILURE_WINDOW_SECONDS` the account is locked for `LOCKOUT_SECONDS` (counted from the
failure that locked it) unless an admin unlocks it. Failures are counted for unknown names
too, so a locked answer does not reveal whether an account exists.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from functools import lru_cache
from datetime import datetime, timezone
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

from queries import national, roles, statedb

MAX_FAILURES = 5
FAILURE_WINDOW_SECONDS = 15 * 60
LOCKOUT_SECONDS = 15 * 60
MIN_PASSWORD_LENGTH = 10
NAME_PATTERN = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """What an unknown name's password is checked against, so a login takes as long whether or not the
    name exists. Made on first use, not at import: hashing costs a few hundred ms of every worker's start."""
    return generate_password_hash("not a real password")


class UserError(ValueError):
    """A bad user name, role or password; the message says which and what is allowed."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    forces: tuple[str, ...]  # empty: every force in the store
    created: str


def _check_name(name: str) -> str:
    if not NAME_PATTERN.match(name or ""):
        raise UserError(f"user name {name!r}: use 1-64 letters, digits, '.', '_', '@' or '-'")
    return name


def _check_role(role: str) -> str:
    if role not in roles.ROLES:
        raise UserError(f"role {role!r}: choose one of {', '.join(roles.ROLE_ORDER)}")
    return role


def _check_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise UserError(f"password: use at least {MIN_PASSWORD_LENGTH} characters")
    return password


def _check_forces(forces: tuple[str, ...]) -> tuple[str, ...]:
    """The forces as police.uk slugs (a name or slug is accepted), so the server compares like with like."""
    try:
        return tuple(dict.fromkeys(national.find_force(force).slug for force in forces))
    except national.UnknownForce as exc:
        raise UserError(str(exc)) from exc


def add(state_dir: Path, name: str, role: str, password: str, forces: tuple[str, ...] = ()) -> User:
    """A new account; `forces` limits it to those forces of a store of several (empty: all of them)."""
    _check_name(name), _check_role(role), _check_password(password)
    forces = _check_forces(tuple(forces))
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    con = statedb.connect(state_dir)
    try:
        if con.execute("SELECT 1 FROM users WHERE name = ?", [name]).fetchone():
            raise UserError(f"user {name!r} exists already; use `users passwd` to change the password")
        con.execute("INSERT INTO users (name, password_hash, role, forces, created) VALUES (?, ?, ?, ?, ?)",
                    [name, generate_password_hash(password), role, ",".join(forces), created])
    finally:
        con.close()
    return User(name, role, tuple(forces), created)


def remove(state_dir: Path, name: str) -> None:
    con = statedb.connect(state_dir)
    try:
        if con.execute("DELETE FROM users WHERE name = ?", [name]).rowcount == 0:
            raise UserError(f"no user {name!r}; `users list` shows who exists")
    finally:
        con.close()


def set_password(state_dir: Path, name: str, password: str) -> None:
    _check_password(password)
    con = statedb.connect(state_dir)
    try:
        if con.execute("UPDATE users SET password_hash = ? WHERE name = ?", [generate_password_hash(password), name]).rowcount == 0:
            raise UserError(f"no user {name!r}; `users list` shows who exists")
    finally:
        con.close()


def list_users(state_dir: Path) -> list[User]:
    con = statedb.connect(state_dir)
    try:
        rows = con.execute("SELECT name, role, forces, created FROM users ORDER BY name").fetchall()
    finally:
        con.close()
    return [User(n, r, tuple(f for f in forces.split(",") if f), c) for n, r, forces, c in rows]


def get(state_dir: Path, name: str) -> User | None:
    return next((u for u in list_users(state_dir) if u.name == name), None)


def any_users(state_dir: Path) -> bool:
    """True when at least one user exists (False too when the state folder does not exist yet)."""
    if not (Path(state_dir) / statedb.DB_FILE).exists():
        return False
    con = statedb.connect(state_dir)
    try:
        return con.execute("SELECT count(*) FROM users").fetchone()[0] > 0
    finally:
        con.close()


def locked_until(state_dir: Path, name: str, now: float | None = None) -> float | None:
    """When the lock on `name` ends (epoch seconds), or None if it is not locked."""
    now = time.time() if now is None else now
    con = statedb.connect(state_dir)
    try:
        unlocked = con.execute("SELECT coalesce(max(at), 0) FROM unlocks WHERE name = ?", [name]).fetchone()[0]
        since = max(now - FAILURE_WINDOW_SECONDS - LOCKOUT_SECONDS, unlocked)
        times = [t for (t,) in con.execute("SELECT at FROM failures WHERE name = ? AND at > ? ORDER BY at", [name, since])]
    finally:
        con.close()
    # Locked when some MAX_FAILURES consecutive failures fall within the window; the lock
    # runs from the last of them.
    for i in range(MAX_FAILURES - 1, len(times)):
        if times[i] - times[i - MAX_FAILURES + 1] <= FAILURE_WINDOW_SECONDS and now < times[i] + LOCKOUT_SECONDS:
            return times[i] + LOCKOUT_SECONDS
    return None


def unlock(state_dir: Path, name: str) -> None:
    """An admin lifts a lock-out: earlier failures no longer count."""
    con = statedb.connect(state_dir)
    try:
        con.execute("INSERT INTO unlocks (name, at) VALUES (?, ?)", [name, time.time()])
    finally:
        con.close()


class Locked(Exception):
    """Too many failed sign-ins; `until` is when the lock ends (epoch seconds)."""

    def __init__(self, until: float):
        super().__init__(f"locked until {datetime.fromtimestamp(until, timezone.utc):%H:%M} UTC")
        self.until = until


def authenticate(state_dir: Path, name: str, password: str, now: float | None = None) -> User | None:
    """The user if the password is right; None if wrong (the failure is counted); Locked if locked."""
    now = time.time() if now is None else now
    name = (name or "")[:64]
    until = locked_until(state_dir, name, now)
    if until is not None:
        raise Locked(until)
    con = statedb.connect(state_dir)
    try:
        row = con.execute("SELECT password_hash FROM users WHERE name = ?", [name]).fetchone()
        ok = check_password_hash(row[0] if row else _dummy_hash(), password or "") and row is not None
        if not ok:
            con.execute("INSERT INTO failures (name, at) VALUES (?, ?)", [name, now])
    finally:
        con.close()
    if not ok:
        until = locked_until(state_dir, name, now)
        if until is not None:
            raise Locked(until)
        return None
    return get(state_dir, name)
