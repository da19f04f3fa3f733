"""The process's store and settings, set once by create_app (one per gunicorn worker)."""
from __future__ import annotations

from pathlib import Path

from queries import settings
from queries.store import Store

config: settings.Settings = settings.load_settings()
_store: Store | None = None


def init(data_dir: Path | str) -> Store:
    global _store
    _store = Store(data_dir)
    return _store


def store() -> Store:
    if _store is None:
        raise RuntimeError("dashboard.state.init(data_dir) has not been called")
    return _store
