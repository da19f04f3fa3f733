"""Sign-in settings (CSP_AUTH, CSP_ANONYMOUS_ROLE, CSP_TRUSTED_PROXIES, CSP_IDLE_MINUTES).

Kept beside queries/settings.py (which lists them in ENV_VARS for the README check) so the
general settings stay small; bad values stop the app with a message naming the variable.
"""
from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass

from queries import roles
from queries.settings import SettingsError

LOGIN, PROXY = "login", "proxy"
AUTH_MODES = (LOGIN, PROXY)
AUTO = "auto"
ANONYMOUS_CHOICES = (AUTO, roles.PUBLIC, roles.ANALYST, roles.NO_ROLE)
DEFAULT_IDLE_MINUTES = 30.0
# Headers a trusted reverse proxy sets after its own sign-on (documented in docs/security.md).
PROXY_USER_HEADER = "X-CSP-User"
PROXY_ROLE_HEADER = "X-CSP-Role"
# Optional: the forces the proxy's user may see, comma-separated police.uk slugs or "Falls within"
# names (dashboard/auth.py `proxy_forces`); absent or blank: every force of the store.
PROXY_FORCES_HEADER = "X-CSP-Forces"


@dataclass(frozen=True)
class AccessSettings:
    auth: str
    anonymous_role: str  # "auto" resolves per request (see dashboard/auth.py)
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    idle_minutes: float


def load(env: dict | None = None) -> AccessSettings:
    env = dict(os.environ if env is None else env)
    auth = env.get("CSP_AUTH") or LOGIN
    if auth not in AUTH_MODES:
        raise SettingsError(f"CSP_AUTH={auth!r}: choose one of {', '.join(AUTH_MODES)}")
    anonymous = env.get("CSP_ANONYMOUS_ROLE") or AUTO
    if anonymous not in ANONYMOUS_CHOICES:
        raise SettingsError(f"CSP_ANONYMOUS_ROLE={anonymous!r}: choose one of {', '.join(ANONYMOUS_CHOICES)}")
    proxies = []
    for part in (env.get("CSP_TRUSTED_PROXIES") or "").split(","):
        if part.strip():
            try:
                proxies.append(ipaddress.ip_network(part.strip(), strict=False))
            except ValueError:
                raise SettingsError(f"CSP_TRUSTED_PROXIES: {part.strip()!r} is not an IP address or network") from None
    if auth == PROXY and not proxies:
        raise SettingsError("CSP_AUTH=proxy needs CSP_TRUSTED_PROXIES (the reverse proxy's addresses)")
    raw = env.get("CSP_IDLE_MINUTES") or ""
    try:
        idle = float(raw) if raw else DEFAULT_IDLE_MINUTES
    except ValueError:
        raise SettingsError(f"CSP_IDLE_MINUTES={raw!r} is not a number") from None
    if not idle > 0:
        raise SettingsError(f"CSP_IDLE_MINUTES={raw!r} must be more than 0")
    return AccessSettings(auth, anonymous, tuple(proxies), idle)


def trusted(address: str | None, settings: AccessSettings) -> bool:
    """True when `address` is one of the configured reverse proxies."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(ip in net for net in settings.trusted_proxies)
