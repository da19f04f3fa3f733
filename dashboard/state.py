"""The process's store and settings, set once by create_app (one per gunicorn worker)."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from queries import settings
from queries.store import Store, StoreVersion

config: settings.Settings = settings.load_settings()
_store: Store | None = None


def init(data_dir: Path | str, open_now: bool = True) -> Store:
    """The process's store; `open_now=False` defers its DuckDB connection to the first query
    (gunicorn's preloading master must not hold one when it forks the workers)."""
    global _store
    _store = Store(data_dir, open_now=open_now)
    return _store


def store() -> Store:
    if _store is None:
        raise RuntimeError("dashboard.state.init(data_dir) has not been called")
    return _store


@contextmanager
def pinned(token: object) -> Iterator[StoreVersion]:
    """Within this block every query reads the store version a page was drawn from (its token).

    A page records the token it was drawn from (a dcc.Store) and each of its callbacks reads
    through this, so one page never mixes two versions however many imports happen while it
    is open. An unknown or pruned token gives the current version (the caller can compare
    `.token` to say "newer data available").
    """
    held = store()
    version = held.at(token if isinstance(token, str) else None)
    with held.pin(version):
        yield version
