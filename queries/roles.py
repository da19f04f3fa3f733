"""Who may see what: the one table of roles, and the check every server-side entry point makes.

Four roles, each including everything the one before may do (`public` < `board` <
`analyst` < `admin`). What a role may do is decided per dataset by `ACCESS`, keyed by the
dataset's key ("crime", "fire", "marac", "hate", plus "data" for the Data tab) so the
record can later become a field of the dataset registry (`queries/datasets.py`).

Capabilities:

* `view`: aggregates on the page (charts, summary tables).
* `drill`: record-level and below-district detail (the neighbourhood drill-down).
* `download`: CSV exports (every dcc.Download in the app).
* `closed`: the dataset is shown only in a *closed session* (MARAC): a board or analyst
  user switches the session to closed on screen; in an open session it is not served.

The server enforces this table for every Dash callback and download (dashboard/auth.py),
never only by hiding controls: a crafted request a role may not make gets HTTP 403.
This module is pure (no Flask, no Dash) so the table is tested without a server.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

PUBLIC, BOARD, ANALYST, ADMIN = "public", "board", "analyst", "admin"
# Lowest first: a role may do everything a lower role may.
ROLE_ORDER = (PUBLIC, BOARD, ANALYST, ADMIN)
# CSP_ANONYMOUS_ROLE may also be "none": visitors must sign in for everything.
NO_ROLE = "none"

VIEW, DRILL, DOWNLOAD = "view", "drill", "download"
CAPABILITIES = (VIEW, DRILL, DOWNLOAD)

# The pseudo-dataset of the Data tab (store contents, sources, reconciliation).
DATA_TAB = "data"
# The public release of hate crime (queries/hate_release.py): district level and above, small
# counts hidden. Its own pseudo-dataset so its callbacks never reach the board's hate figures.
HATE_PUBLIC = "hatepublic"
# The pseudo-dataset of the commentary editor on the Report tab (drafts, save, approve).
COMMENTARY = "commentary"


@dataclass(frozen=True)
class Role:
    """One role: its name, what it is for (shown in docs and on the admin page)."""

    name: str
    description: str
    manage_users: bool = False


ROLES: dict[str, Role] = {
    PUBLIC: Role(PUBLIC, "Crime and fire as published (police.uk and fire figures are public already); hate "
                         "crime's public release (district level and above, counts under 5 hidden). "
                         "No MARAC, no report, no exports, no Data tab."),
    BOARD: Role(BOARD, "All aggregates and the board view; MARAC only in a closed session; the report with "
                       "approved commentary (no drafts, no save or approve); no exports."),
    ANALYST: Role(ANALYST, "Everything: neighbourhood drill-down, exports, MARAC, the Data tab."),
    ADMIN: Role(ADMIN, "Everything an analyst may do, plus users and the audit log "
                       "(imports stay on the command line).", manage_users=True),
}


@dataclass(frozen=True)
class DatasetAccess:
    """The lowest role allowed each capability on one dataset (None: nobody through the web)."""

    view: str
    drill: str | None
    download: str | None
    closed: bool = False  # shown only in a closed session
    # Roles below `view` may open the dataset's page if they may view this pseudo-dataset: a
    # separate, protected release with its own component ids (hate crime: "hatepublic-...").
    public_release: str | None = None


# police.uk street-level crime and fire figures are public already, neighbourhood counts included.
PUBLISHED = DatasetAccess(view=PUBLIC, drill=PUBLIC, download=ANALYST)

# Pages that are not a dataset. Each dataset declares its own access in its registry record
# (queries/datasets.py, `access=`), so a new dataset cannot be added without saying who sees it.
PAGE_ACCESS: dict[str, DatasetAccess] = {
    # Data tab: raw per-file row counts (MARAC's included) and rejection reasons; analysts
    # may download the tables they see there (the datasets table, as shown).
    DATA_TAB: DatasetAccess(view=ANALYST, drill=None, download=ANALYST),
    # The monthly report holds hate crime and MARAC's release and the commentary: the board's papers.
    "report": DatasetAccess(view=BOARD, drill=ANALYST, download=BOARD),
    # The Report tab's commentary editor (ids "commentary-..."): it loads drafts and saves and
    # approves them, so only analysts reach it. The board reads approved commentary in the report.
    COMMENTARY: DatasetAccess(view=ANALYST, drill=None, download=None),
    # Hate crime as the public may see it: monthly counts by district, "<5" where hidden; no
    # drill-down, no exports. The callbacks behind it read only hate_release.release().
    HATE_PUBLIC: DatasetAccess(view=PUBLIC, drill=None, download=None),
}


class _AccessTable(Mapping):
    """dataset or page key -> DatasetAccess: the registry's records, then PAGE_ACCESS (read live)."""

    def _table(self) -> dict[str, DatasetAccess]:
        from queries import datasets  # the registry imports this module, so read it on use

        return {**{key: record.access for key, record in datasets.DATASETS.items()}, **PAGE_ACCESS}

    def __getitem__(self, key: str) -> DatasetAccess:
        return self._table()[key]

    def __iter__(self):
        return iter(self._table())

    def __len__(self) -> int:
        return len(self._table())


ACCESS: Mapping[str, DatasetAccess] = _AccessTable()


class Forbidden(PermissionError):
    """The role may not do this; the message says what and which role may."""


def rank(role: str) -> int:
    """Position in ROLE_ORDER; unknown roles (and "none") rank below public."""
    return ROLE_ORDER.index(role) if role in ROLE_ORDER else -1


def at_least(role: str, minimum: str | None) -> bool:
    return minimum is not None and rank(role) >= rank(minimum)


def allowed(role: str, dataset: str, capability: str, closed_session: bool) -> bool:
    """True when `role` may use `capability` on `dataset` (unknown datasets: analyst and up)."""
    access = ACCESS.get(dataset) if isinstance(dataset, str) else None
    if access is None:
        return rank(role) >= rank(ANALYST)
    if access.closed and not closed_session:
        return False
    return at_least(role, getattr(access, capability))


def ensure(role: str, dataset: str, capability: str, closed_session: bool = False) -> None:
    """Raise Forbidden unless `role` may use `capability` on `dataset`."""
    if capability not in CAPABILITIES:
        raise ValueError(f"unknown capability {capability!r}; choose one of {', '.join(CAPABILITIES)}")
    if allowed(role, dataset, capability, closed_session):
        return
    access = ACCESS.get(dataset) if isinstance(dataset, str) else None
    if access is not None and access.closed and not closed_session and at_least(role, access.view):
        raise Forbidden(f"{dataset} is shown only in a closed session; switch the session to closed first")
    minimum = getattr(access, capability) if access else ANALYST
    who = f"the {minimum} role and above" if minimum else "nobody through the web app"
    raise Forbidden(f"{capability} of {dataset} is not available to the {role} role (allowed: {who})")


def page_release(role: str, dataset: str, closed_session: bool) -> str | None:
    """Which release of a dataset's page a role gets: the dataset itself, its public release, or None."""
    if allowed(role, dataset, VIEW, closed_session):
        return dataset
    access = ACCESS.get(dataset) if isinstance(dataset, str) else None
    if access is not None and access.public_release and allowed(role, access.public_release, VIEW, closed_session):
        return access.public_release
    return None


def can_switch_session(role: str) -> bool:
    """Board and analyst users (and admins) may switch between open and closed session."""
    return rank(role) >= rank(BOARD)


def default_closed(role: str) -> bool:
    """Analysts work in closed session by default; board members start open (safe on a projector)."""
    return rank(role) >= rank(ANALYST)
