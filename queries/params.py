"""One place for every parameter's rules: parsed and checked once, used by URLs, callbacks, CLI and settings.

Each parameter is a `Param` record: how to read its shape (`parse`: a month like 2026-10,
0 < k <= 5, ...), which values the data allows (`choices`: areas, measures and months
held), and its default. Two modes, as Datasette has them:

* strict (`check`): the CLI, environment and files refuse a bad value with a message naming
  the parameter and listing the valid choices;
* loose (`loose`): a pasted link or a callback payload falls back to the default and says
  which value was ignored, so a page always draws.

`View` is the request object the pages pass to `queries/` instead of nine positional
arguments. No Dash here; tests/test_params.py pins every rule and message.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence
from urllib.parse import urlencode

import pandas as pd

from queries import limits

# k: a finite number with 0 < k <= MAX_K everywhere (URL, the k box, --k, CSP_LIMIT_K, the engine).
MAX_K = 5.0
# Plausible months and financial years: police.uk starts in 2010; the far future is a typo.
FIRST_YEAR = 1990
LAST_YEAR = 2100
# Names (areas, measures, neighbourhoods) are at most this long; anything longer is not one of ours.
MAX_NAME_LENGTH = 200
# The board view's position in the month's Current Issues (1-based); no month has more than this.
MAX_ISSUE = 999
# How many valid choices a message lists before "and N more".
MAX_SHOWN_CHOICES = 12
# How much of a rejected value a message echoes back.
MAX_ECHO = 60

_MONTH = re.compile(r"^(\d{4})-(\d{2})(?:-01)?$")


class ParamError(ValueError):
    """A parameter value that cannot be used; the message names the parameter and the valid choices."""


def clip(value: object) -> str:
    """A user-supplied value, short enough to echo in a message (Dash escapes HTML itself)."""
    text = str(value)
    return text if len(text) <= MAX_ECHO else text[: MAX_ECHO - 3] + "..."


def sentence(exc: Exception) -> str:
    """A refusal's message as the start of a warning sentence (capital first letter)."""
    text = str(exc)
    return text[:1].upper() + text[1:]


def choices_text(values: Sequence) -> str:
    values = [str(v) for v in values]
    shown = ", ".join(values[:MAX_SHOWN_CHOICES])
    return shown + (f" and {len(values) - MAX_SHOWN_CHOICES} more" if len(values) > MAX_SHOWN_CHOICES else "")


# --------------------------------------------------------------------------- shapes


def parse_month(raw: object) -> pd.Timestamp:
    """'2026-10' (or a Timestamp / date) -> the month's first day; ValueError otherwise."""
    if isinstance(raw, pd.Timestamp):
        month = raw
    elif hasattr(raw, "year") and hasattr(raw, "month") and not isinstance(raw, str):
        month = pd.Timestamp(raw.year, raw.month, 1)
    else:
        match = _MONTH.match(raw.strip()) if isinstance(raw, str) else None
        if not match or not 1 <= int(match.group(2)) <= 12:
            raise ValueError(f"month '{clip(raw)}' is not a month like 2026-10")
        month = pd.Timestamp(int(match.group(1)), int(match.group(2)), 1)
    if not FIRST_YEAR <= month.year <= LAST_YEAR:
        raise ValueError(f"month '{clip(raw)}' is outside {FIRST_YEAR}-{LAST_YEAR}")
    return month.normalize().replace(day=1)


def month_key(month: pd.Timestamp) -> str:
    """The URL / CLI / file-name form of a month: '2026-10'."""
    return f"{pd.Timestamp(month):%Y-%m}"


def parse_fy(raw: object) -> int:
    """A financial year by its starting calendar year: 2015 = April 2015 - March 2016."""
    if isinstance(raw, bool):
        raise ValueError(f"financial year '{clip(raw)}' is not a year like 2025")
    try:
        year = int(raw) if not isinstance(raw, float) or raw.is_integer() else None
    except (TypeError, ValueError):
        year = None
    if year is None:
        raise ValueError(f"financial year '{clip(raw)}' is not a year: give the starting year, "
                         "e.g. 2015 for April 2015 - March 2016")
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(f"financial year {year} is outside {FIRST_YEAR}-{LAST_YEAR}")
    return year


def fy_label(fy: int) -> str:
    """'2026/27': the board's own way of naming an April-March year."""
    return f"{fy}/{str(fy + 1)[-2:]}"


def parse_k(raw: object) -> float:
    """The multiplier for the upper and lower lines: a finite number, 0 < k <= MAX_K."""
    if isinstance(raw, bool):
        raise ValueError(f"The multiplier k '{clip(raw)}' must be a number above 0 and at most {MAX_K:g}")
    try:
        k = float(raw)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"The multiplier k '{clip(raw)}' must be a number above 0 and at most {MAX_K:g}") from None
    if not math.isfinite(k) or not 0 < k <= MAX_K:
        raise ValueError(f"The multiplier k '{clip(raw)}' must be a number above 0 and at most {MAX_K:g}")
    return k


def parse_method(raw: object) -> str:
    if not isinstance(raw, str) or raw not in limits.METHODS:
        raise ValueError(f"unknown limit method '{clip(raw)}'; choose one of: {', '.join(limits.METHODS)}")
    return raw


def parse_name(raw: object) -> str:
    """An area, measure, neighbourhood or strand name: text of a sane length (the data decides which)."""
    if not isinstance(raw, str) or not raw.strip() or len(raw) > MAX_NAME_LENGTH:
        raise ValueError(f"'{clip(raw)}' is not a name")
    return raw


def parse_issue(raw: object) -> int:
    """The board view's position in the month's Current Issues: 1 is the first (the walk's URL form)."""
    if isinstance(raw, bool):
        raise ValueError(f"issue '{clip(raw)}' is not a position like 3")
    try:
        position = int(raw) if not isinstance(raw, float) or raw.is_integer() else None
    except (TypeError, ValueError, OverflowError):
        position = None
    if position is None or not 1 <= position <= MAX_ISSUE:
        raise ValueError(f"issue '{clip(raw)}' is not a position from 1 to {MAX_ISSUE}")
    return position


# --------------------------------------------------------------------------- parameters


@dataclass
class Context:
    """What the data-dependent checks need: the store, the dataset, and the settings in force."""

    store: Any
    dataset: str
    config: Any
    area: str | None = None  # a neighbourhood belongs to one CSP
    force: str | None = None  # area names are unique only within a force (None: the store's only force)


@dataclass(frozen=True)
class Param:
    name: str
    help: str
    parse: Callable[[object], object]
    choices: Callable[[Context], Sequence] | None = None
    default: Callable[[Context], object] = lambda ctx: None
    what: str = ""  # how a message names it: "area", "measure", ...


def _forces(ctx: Context) -> list[str]:
    from queries import geography
    return geography.force_slugs(ctx.store.data_dir)


def _areas(ctx: Context) -> list[str]:
    from queries import geography
    return geography.areas(ctx.store.data_dir, ctx.force).top_areas


def _measures(ctx: Context) -> list[str]:
    from queries import series
    return series.measures(ctx.store, ctx.dataset)


def _months(ctx: Context) -> list[pd.Timestamp]:
    from queries import series
    return list(series.coverage(ctx.store, ctx.dataset, ctx.force))


def _latest(ctx: Context) -> pd.Timestamp:
    held = _months(ctx)
    return max(held) if held else pd.Timestamp.today().normalize().replace(day=1)


def _neighbourhoods(ctx: Context) -> list[str]:
    from queries import geography, series
    own = geography.areas(ctx.store.data_dir, ctx.force)
    return series.neighbourhoods(ctx.store, ctx.area, ctx.force) if ctx.area in own.csps else []


def _default_measure(ctx: Context) -> str:
    from queries import datasets
    held = _measures(ctx)
    wanted = datasets.get(ctx.dataset).opening_measure if ctx.dataset in datasets.DATASETS else None
    return wanted if wanted in held else (held[-1] if held else "")


def _default_area(ctx: Context) -> str:
    from queries import geography
    return geography.FORCE


PARAMS: dict[str, Param] = {}


def _register(param: Param) -> None:
    if param.name in PARAMS:
        raise ValueError(f"parameter {param.name!r} registered twice")
    PARAMS[param.name] = param


_register(Param("force", "Police force (its police.uk slug), in a store holding several.", parse_name, _forces,
                lambda ctx: _forces(ctx)[0], "force"))
_register(Param("area", "Area: the force area, a county council area, a unitary or a CSP.", parse_name, _areas,
                _default_area, "area"))
_register(Param("measure", "Crime group or measure, as the dataset names it.", parse_name, _measures, _default_measure,
                "measure"))
_register(Param("month", "Report month (up to and including), YYYY-MM.", parse_month, _months, _latest, "month"))
_register(Param("fy", "Financial year by its starting year: 2025 = April 2025 - March 2026.", parse_fy, None,
                lambda ctx: limits.fy_of(_latest(ctx)), "financial year"))
_register(Param("method", "Limit method: " + ", ".join(limits.METHODS) + ".", parse_method, None,
                lambda ctx: ctx.config.limit_method, "limit method"))
_register(Param("k", f"Multiplier for the upper and lower lines, above 0 and at most {MAX_K:g}.", parse_k, None,
                lambda ctx: ctx.config.k, "k"))
_register(Param("neighbourhood", "A neighbourhood of the chosen CSP.", parse_name, _neighbourhoods, lambda ctx: None,
                "neighbourhood"))

_register(Param("issue", "Board view: which of the month's Current Issues is shown (1 = the first).", parse_issue, None,
                lambda ctx: None, "issue"))


def register(param: Param) -> Param:
    """Tabs add their own parameters (Fire's quarter, Hate's kind and strand) through this."""
    _register(param)
    return param


def check(name: str, raw: object, ctx: Context | None = None) -> Any:
    """Strict: the parsed value, or ParamError naming the parameter and its valid choices."""
    param = PARAMS[name]
    try:
        value = param.parse(raw)
    except ValueError as exc:
        raise ParamError(str(exc)) from None
    if param.choices is not None and ctx is not None:
        valid = param.choices(ctx)
        if value not in valid:
            shown = [month_key(v) if isinstance(v, pd.Timestamp) else v for v in valid]
            raise ParamError(f"unknown {param.what or name} '{clip(raw)}'; choose from: {choices_text(shown) or 'none held'}")
    return value


def loose(name: str, raw: object, ctx: Context, warnings: list[str]) -> Any:
    """Lenient: the parsed value, or the default with a warning saying what was ignored and what is shown."""
    param = PARAMS[name]
    if raw is None or raw == "":
        return param.default(ctx)
    try:
        return check(name, raw, ctx)
    except ParamError as exc:
        fallback = param.default(ctx)
        shown = month_key(fallback) if isinstance(fallback, pd.Timestamp) else fallback
        warnings.append(f"{sentence(exc)}. Showing {shown if shown not in (None, '') else 'the default'}.")
        return fallback


# --------------------------------------------------------------------------- the view


@dataclass(frozen=True)
class View:
    """One chart's request: what `queries/` needs to answer it, checked."""

    dataset: str
    area: str
    measure: str
    month: pd.Timestamp
    method: str
    k: float
    min_significant: int
    neighbourhood: str | None = None
    extra: tuple[tuple[str, str], ...] = ()  # a tab's own parameters, in URL order (quarter, kind, strand)
    warnings: tuple[str, ...] = field(default=(), compare=False)
    force: str | None = None  # set only in a store of several forces (the URL then carries it)

    @property
    def fy(self) -> int:
        """The chart's financial year: the one the report month falls in."""
        return limits.fy_of(self.month)

    def with_(self, **changes) -> "View":
        return replace(self, **changes)

    def query_string(self, **more: str) -> str:
        forces = {"force": self.force} if self.force else {}
        params = {**dict(self.extra), **forces, "area": self.area, "measure": self.measure, "fy": self.fy,
                  "month": month_key(self.month), "method": self.method, "k": f"{self.k:g}"}
        if self.neighbourhood:
            params["neighbourhood"] = self.neighbourhood
        params.update({k: v for k, v in more.items() if v is not None})
        return "?" + urlencode(params)


def resolve_view(store, dataset: str, raw: dict, config, default_measure: str | None = None,
                 default_area: str | None = None) -> View:
    """A valid View from loose input (URL parameters or callback values), with a warning per value ignored.

    A month may also come as `fy` alone (the latest month held in that year). A measure or area
    the store no longer holds (after a re-import) falls back to the default with a note.
    """
    if not isinstance(raw, dict):
        raw = {}
    ctx = Context(store, dataset, config)
    warnings: list[str] = []
    several = len(_forces(ctx)) > 1
    ctx.force = loose("force", raw.get("force"), ctx, warnings) if several else None
    area = loose("area", raw.get("area") or default_area, ctx, warnings)
    ctx.area = area
    measure = loose("measure", raw.get("measure") or default_measure, ctx, warnings)
    month = loose("month", raw.get("month"), ctx, warnings)
    if raw.get("fy") not in (None, "") and raw.get("month") in (None, ""):
        fy = loose("fy", raw.get("fy"), ctx, warnings)
        in_year = [m for m in _months(ctx) if limits.fy_of(m) == fy]
        if in_year:
            month = max(in_year)
        elif fy != limits.fy_of(month):
            warnings.append(f"No {dataset} data held for financial year {fy_label(fy)}; showing "
                            f"{fy_label(limits.fy_of(month))}.")
    method = loose("method", raw.get("method"), ctx, warnings)
    k = loose("k", raw.get("k"), ctx, warnings)
    neighbourhood = loose("neighbourhood", raw.get("neighbourhood"), ctx, warnings)
    return View(dataset, area, measure, month, method, k, config.min_significant, neighbourhood,
                warnings=tuple(warnings), force=ctx.force)
