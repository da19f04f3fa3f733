"""Settings read from environment variables, each with a documented default.

Every setting is listed in the README's configuration table; `tests/test_settings.py`
checks that the table and this module agree, so the documentation cannot drift.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from queries import params

REPO_ROOT = Path(__file__).resolve().parent.parent


# Defaults, named so tests and docs can refer to them.
DEFAULT_DATA_DIR = REPO_ROOT / "data"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8050
DEFAULT_LIMIT_METHOD = "pooled"
DEFAULT_K = 2.0
# The board's own rule: "a monthly crime figure of less than ten crimes will not be
# regarded as significant".
DEFAULT_MIN_SIGNIFICANT = 10
# MARAC counts below this are suppressed everywhere (tables, chart labels, exports).
DEFAULT_SUPPRESS_BELOW = 5
# An open trend page asks this often (seconds) whether the store has a newer version.
DEFAULT_VERSION_CHECK_SECONDS = 60
# Hate-crime counts below this carry a "small numbers" caution.
DEFAULT_SMALL_NUMBER_CAUTION = 10

ENV_VARS = {
    "CSP_DATA_DIR": "Directory holding the store (Parquet extracts and lookups).",
    "CSP_HOST": "Address the development server binds to.",
    "CSP_PORT": "Port the development server listens on.",
    "CSP_LIMIT_METHOD": "Default limit method: one of the registered methods (pooled, classic).",
    "CSP_LIMIT_K": "Default multiplier k for the upper and lower lines.",
    "CSP_MIN_SIGNIFICANT": "Counts below this are flagged as low volume, not significant.",
    "CSP_SUPPRESS_BELOW": "MARAC counts below this are suppressed.",
    "CSP_DEBUG": "1 to run the development server with Dash debug tools.",
    "CSP_VERSION_CHECK_SECONDS": "How often an open page checks for newer data (a board view redraws itself on it).",
    "CSP_STATE_DIR": "Writable directory for users, sign-in secret, audit log and commentary; never inside the store.",
    # Sign-in and roles: read by queries/access_settings.py.
    "CSP_AUTH": "login (users signed in by the app) or proxy (trusted sign-on headers).",
    "CSP_ANONYMOUS_ROLE": "Role of visitors not signed in: public, analyst or none.",
    "CSP_TRUSTED_PROXIES": "Reverse-proxy addresses whose sign-on and forwarding headers are trusted.",
    "CSP_IDLE_MINUTES": "Minutes without a request after which a signed-in session ends.",
}


class SettingsError(ValueError):
    """A setting has a value the app cannot use; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    host: str
    port: int
    limit_method: str
    k: float
    min_significant: int
    suppress_below: int
    debug: bool
    state_dir: Path
    version_check_seconds: int = DEFAULT_VERSION_CHECK_SECONDS


def _number(env: dict, name: str, default, kind):
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a valid {kind.__name__}") from None
    if value < 0:
        raise SettingsError(f"{name}={raw!r} must not be negative")
    return value


def _checked(env: dict, name: str, default, parse):
    """A setting parsed by the one rule its parameter has everywhere (queries/params.py)."""
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return parse(raw)
    except ValueError as exc:
        raise SettingsError(f"{name}={raw!r}: {exc}") from None


def load_settings(env: dict | None = None) -> Settings:
    """Read settings from `env` (default: the process environment), failing loudly on bad values."""
    env = dict(os.environ if env is None else env)
    method = _checked(env, "CSP_LIMIT_METHOD", DEFAULT_LIMIT_METHOD, params.parse_method)
    port = _number(env, "CSP_PORT", DEFAULT_PORT, int)
    if not 0 < port < 65536:
        raise SettingsError(f"CSP_PORT={port} is outside 1-65535")
    return Settings(
        data_dir=Path(env.get("CSP_DATA_DIR") or DEFAULT_DATA_DIR),
        host=env.get("CSP_HOST") or DEFAULT_HOST,
        port=port,
        limit_method=method,
        k=_checked(env, "CSP_LIMIT_K", DEFAULT_K, params.parse_k),
        min_significant=_number(env, "CSP_MIN_SIGNIFICANT", DEFAULT_MIN_SIGNIFICANT, int),
        suppress_below=_number(env, "CSP_SUPPRESS_BELOW", DEFAULT_SUPPRESS_BELOW, int),
        debug=env.get("CSP_DEBUG", "") == "1",
        state_dir=state_dir_for(env, Path(env.get("CSP_DATA_DIR") or DEFAULT_DATA_DIR)),
        version_check_seconds=max(1, _number(env, "CSP_VERSION_CHECK_SECONDS", DEFAULT_VERSION_CHECK_SECONDS, int)),
    )


def state_dir_for(env: dict, data_dir: Path) -> Path:
    """Where the app writes (users, sessions' secret, audit log, commentary): beside the store, never in it.

    The store is read-only to the web app and is replaced whole by imports, so nothing the
    app writes may live inside it. The default is the sibling folder `<store>-state`
    (for the repository's `data/`, `data-state/`, which git ignores).
    """
    raw = env.get("CSP_STATE_DIR")
    state = Path(raw) if raw else data_dir.parent / f"{data_dir.name}-state"
    resolved_state, resolved_data = state.resolve(), data_dir.resolve()
    if resolved_state == resolved_data or resolved_data in resolved_state.parents:
        raise SettingsError(f"CSP_STATE_DIR={str(state)!r} is inside the store {str(data_dir)!r}; choose a folder beside it")
    return state
