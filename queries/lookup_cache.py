"""Editable lookup files (annotations, fire targets, MARAC population) are asked for by
every chart callback; parse each only when its content changes, so an edit shows at once
without re-parsing CSV on every request.
"""
from __future__ import annotations

import copy
import functools
import hashlib
import threading
from pathlib import Path
from typing import Callable

MAX_ENTRIES = 32
_MISSING = object()


def _fingerprint(path: Path) -> str | None:
    try:
        return hashlib.sha1(path.read_bytes()).hexdigest()
    except (FileNotFoundError, IsADirectoryError):
        return None


def reparse_when_changed(path_of: Callable[..., Path]):
    """Cache a reader's result per file content and arguments; callers get their own copy.

    Errors are not cached: a broken file keeps saying what is wrong until it is mended.
    """
    def decorate(reader):
        cache: dict = {}
        lock = threading.Lock()

        def shared(*args, **kwargs):
            """The cached result itself, not a copy: for a caller that only reads it (and copies
            the little it hands on), where copying the whole of a large result each call costs
            more than the request (a store's ward boundaries: 150 ms a map)."""
            path = Path(path_of(*args, **kwargs))
            key = (str(path), _fingerprint(path), args, tuple(sorted(kwargs.items())))
            with lock:
                result = cache.get(key, _MISSING)
            if result is _MISSING:
                result = reader(*args, **kwargs)
                with lock:
                    if len(cache) >= MAX_ENTRIES:
                        cache.clear()
                    cache[key] = result
            return result

        @functools.wraps(reader)
        def read(*args, **kwargs):
            return copy.deepcopy(shared(*args, **kwargs))

        read.shared = shared
        return read

    return decorate
