"""The exception engine: the board's five chart series and the Above/Below flags.

The board's report "benchmarks current figures against the average taken across the
previous three years and using a statistical calculation (standard deviation), sets the
upper and lower limit lines". Two ways of doing that are offered:

* ``classic`` - as published: same-month mean +/- k x the sample SD of the three
  same-month values. Three values give a very unstable SD, so on a perfectly stable
  series this flags about 22% of months at k=2 (a Student t with 2 degrees of freedom).
* ``pooled`` (default) - same-month mean +/- k x one spread estimated from all 36
  baseline months (the pooled within-calendar-month SD), never less than the Poisson
  spread sqrt(mean), widened by sqrt(1 + 1/n) because the centre is itself a mean of
  n years. On a stable series about 5% of months fall outside at k=2.

Everything here is arithmetic on numpy arrays so that a whole summary table (every
crime group x every area) is one vectorised call; `series_limits` is the one-series
convenience used by charts and exports.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np
import pandas as pd

BASELINE_YEARS = 3
MONTHS_PER_YEAR = 12
FY_START_MONTH = 4  # the board's year runs April-March

ABOVE = "Above"
BELOW = "Below"
WITHIN = ""
NO_DATA = "No data"
NO_LIMITS = "No limits"

# Column names used by exports and the chart; the chart key uses SERIES_NAMES.
COLUMNS = ["month", "count", "monthly_average_prev3", "average", "upper", "lower", "status"]
SERIES_NAMES = {
    "monthly_average_prev3": "Monthly Average (Prev. 3 Years)",
    "average": "Average",
    "upper": "Upper Line",
    "lower": "Lower Line",
    "count": "Crime Count (Current)",
}


# The chart key's colours and exception markers, on screen (dashboard/components.py) and in the
# printed report (queries/report_output.py) alike: chosen to read on a projector and for
# colour-blind viewers; exceptions also differ by marker shape and a text label.
SERIES_COLOURS = {
    "count": "#1f3b73",
    "monthly_average_prev3": "#7f7f7f",
    "average": "#b0b0b0",
    "upper": "#c0392b",
    "lower": "#2e86c1",
}
SERIES_SYMBOLS = {ABOVE: "triangle-up", BELOW: "triangle-down"}


@lru_cache(maxsize=256)
def fy_months(fy: int) -> pd.DatetimeIndex:
    """The twelve month-starts of financial year `fy` (April fy to March fy+1). Cached (an index is
    immutable): a national limits build asks for each year's months once per block, 430 times."""
    return pd.date_range(f"{fy}-{FY_START_MONTH:02d}-01", periods=MONTHS_PER_YEAR, freq="MS")


def fy_of(month: pd.Timestamp) -> int:
    """Financial year (by its starting calendar year) that a month falls in."""
    month = pd.Timestamp(month)
    return month.year if month.month >= FY_START_MONTH else month.year - 1


@lru_cache(maxsize=256)
def window_months(fy: int) -> pd.DatetimeIndex:
    """The 48 months an FY's chart needs: three baseline years, then the year itself (cached, as fy_months)."""
    return pd.date_range(
        f"{fy - BASELINE_YEARS}-{FY_START_MONTH:02d}-01",
        periods=(BASELINE_YEARS + 1) * MONTHS_PER_YEAR,
        freq="MS",
    )


@dataclass(frozen=True)
class LimitResult:
    """Arrays of shape (series, 12): one row per series, one column per month of the FY."""

    count: np.ndarray
    monthly_average_prev3: np.ndarray
    average: np.ndarray
    upper: np.ndarray
    lower: np.ndarray
    status: np.ndarray  # of str: ABOVE, BELOW, WITHIN, NO_DATA, NO_LIMITS
    low_volume: np.ndarray  # flagged but under the significance threshold
    baseline_years: np.ndarray  # how many baseline years had data for that month


def _nanmean(values: np.ndarray, axis) -> np.ndarray:
    n = np.sum(~np.isnan(values), axis=axis)
    total = np.nansum(values, axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, total / np.maximum(n, 1), np.nan)


# --------------------------------------------------------------------------- limit methods
#
# A method maps the baseline (series, BASELINE_YEARS, 12) - NaN where a month is not held -
# to (centre, spread), each (series, 12). The shared code applies k, floors the lower line
# at zero and sets the status and low-volume flags once. Register with @limit_method; the
# radio options, the method panel, docs/method.md's table, the CLI's --method choices and the
# CSP_LIMIT_METHOD check all read METHODS, so a new method is one function and its record.


@dataclass(frozen=True)
class LimitMethod:
    name: str  # the URL / CLI / setting word
    label: str  # the radio button's text
    min_years: int  # earlier years of a month needed before it gets limits
    default_k: float
    explanation: str  # plain words for the method panel; {k} is replaced by the k in use
    false_alarms: str  # what share of a steady series' months it flags at k = 2 (measured: tests/test_limits.py)
    centre_and_spread: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


METHODS: dict[str, LimitMethod] = {}


def limit_method(name: str, label: str, min_years: int, explanation: str, false_alarms: str,
                 default_k: float = 2.0):
    """Register a (baseline) -> (centre, spread) function as a limit method."""
    def register(fn):
        if name in METHODS:
            raise ValueError(f"limit method {name!r} registered twice")
        METHODS[name] = LimitMethod(name, label, min_years, default_k, explanation, false_alarms, fn)
        return fn
    return register


def get_method(name: str) -> LimitMethod:
    try:
        return METHODS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown limit method {str(name)[:60]!r}; choose one of: {', '.join(METHODS)}") from None


# The same-month statistics of the window a method is being run on (set by `method_lines`, this
# thread only): every method starts from them, so they are worked out once per window, not per method.
_shared = threading.local()


def _same_month(baseline: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per calendar month: years with data, their mean, and each year's deviation from it."""
    known = getattr(_shared, "same_month", None)
    if known is not None and known[0] is baseline:
        return known[1]
    years = np.sum(~np.isnan(baseline), axis=1)
    mean = _nanmean(baseline, axis=1)
    return years, mean, baseline - mean[:, None, :]


# Two earlier values are the fewest a standard deviation can be taken from.
CLASSIC_MIN_YEARS = 2


@limit_method(
    "pooled", "Pooled", min_years=1,
    explanation=(
        "the monthly average plus or minus {k} times one spread worked out from all 36 earlier months (how far each "
        "month sat from its own three-year average). The spread is never taken as smaller than chance alone would "
        "give for counts of that size (the square root of the average), and it is widened a little because the "
        "average itself comes from only three years."),
    false_alarms="On a steady series, about 4 months in 100 fall outside the lines at k = 2, so a month outside "
                 "them is worth a look.",
)
def pooled(baseline: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Same-month mean; pooled within-month SD, floored at the Poisson SD, times sqrt(1 + 1/n)."""
    years, mean, deviations = _same_month(baseline)
    squares = np.nansum(deviations**2, axis=(1, 2))
    dof = np.sum(np.maximum(years - 1, 0), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled_sd = np.where(dof > 0, np.sqrt(squares / np.maximum(dof, 1)), np.nan)
        spread = np.fmax(pooled_sd[:, None], np.sqrt(np.maximum(mean, 0))) * np.sqrt(1 + 1 / years)
    return mean, np.where(years >= 1, spread, np.nan)


@limit_method(
    "classic", "Classic", min_years=CLASSIC_MIN_YEARS,
    explanation=(
        "as in the board's published reports, the monthly average plus or minus {k} times the standard deviation "
        "of the three same-month values. Three values give a very unsteady spread, so even a perfectly steady "
        "series crosses these lines often."),
    false_alarms="On a steady series about 22% of months fall outside at k = 2, 12% at k = 3.",
)
def classic(baseline: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Same-month mean; the sample SD of the same-month values (n - 1)."""
    years, mean, deviations = _same_month(baseline)
    with np.errstate(invalid="ignore", divide="ignore"):
        spread = np.sqrt(np.nansum(deviations**2, axis=1) / (years - 1))
    return mean, np.where(years >= CLASSIC_MIN_YEARS, spread, np.nan)


# Status codes: what the shared code works in (small integers, cheap to build and to store),
# turned into the words only where a caller wants words. STATUS_LABELS[code] is the status.
STATUS_LABELS = (WITHIN, NO_LIMITS, ABOVE, BELOW, NO_DATA)
WITHIN_CODE, NO_LIMITS_CODE, ABOVE_CODE, BELOW_CODE, NO_DATA_CODE = range(len(STATUS_LABELS))
_STATUS_WORDS = np.array(STATUS_LABELS, dtype=object)


@dataclass(frozen=True)
class Baseline:
    """What every method shares for one window: split once, not once per method."""

    baseline: np.ndarray  # (series, BASELINE_YEARS, 12), NaN where a month is not held
    current: np.ndarray  # (series, 12)
    years_with_data: np.ndarray  # (series, 12)
    same_month_mean: np.ndarray  # (series, 12)
    average: np.ndarray  # (series, 12): the 36 months' mean, repeated
    same_month: tuple[np.ndarray, np.ndarray, np.ndarray]  # `_same_month(baseline)`, for the methods


def split_window(window: np.ndarray) -> Baseline:
    """The method-independent part of `compute_limits` for a (series, 48) window."""
    window = np.atleast_2d(np.asarray(window, dtype=float))
    if window.shape[1] != (BASELINE_YEARS + 1) * MONTHS_PER_YEAR:
        raise ValueError(f"window needs {(BASELINE_YEARS + 1) * MONTHS_PER_YEAR} months, got {window.shape[1]}")
    n_series = window.shape[0]
    baseline = window[:, : BASELINE_YEARS * MONTHS_PER_YEAR].reshape(n_series, BASELINE_YEARS, MONTHS_PER_YEAR)
    same_month = _same_month(baseline)
    return Baseline(
        baseline=baseline,
        current=window[:, BASELINE_YEARS * MONTHS_PER_YEAR :],
        years_with_data=same_month[0],
        same_month_mean=same_month[1],
        average=np.repeat(_nanmean(baseline.reshape(n_series, -1), axis=1)[:, None], MONTHS_PER_YEAR, axis=1),
        same_month=same_month,
    )


def method_lines(parts: Baseline, method: str, k: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One method's upper and lower lines and status codes (int8, see STATUS_LABELS) for a split window."""
    chosen = get_method(method)
    _shared.same_month = (parts.baseline, parts.same_month)
    try:
        centre, spread = chosen.centre_and_spread(parts.baseline)
    finally:
        _shared.same_month = None
    upper = centre + k * spread
    lower = np.maximum(centre - k * spread, 0.0)
    current = parts.current
    codes = np.zeros(current.shape, dtype=np.int8)  # WITHIN_CODE
    codes[np.isnan(upper)] = NO_LIMITS_CODE
    with np.errstate(invalid="ignore"):
        codes[current > upper] = ABOVE_CODE
        codes[current < lower] = BELOW_CODE
    codes[np.isnan(current)] = NO_DATA_CODE
    return upper, lower, codes


def status_words(codes: np.ndarray) -> np.ndarray:
    """Status codes as the words (an object array of ABOVE, BELOW, ...)."""
    return _STATUS_WORDS[codes]


def compute_limits(
    window: np.ndarray,
    method: str = "pooled",
    k: float = 2.0,
    min_significant: int = 10,
) -> LimitResult:
    """Limits for many series at once.

    `window` has shape (series, 48): the three baseline financial years then the
    current one, NaN where a month has no data (missing is not zero). Months of the
    current year past the report month should be NaN too.
    """
    parts = split_window(window)
    upper, lower, codes = method_lines(parts, method, k)
    flagged = (codes == ABOVE_CODE) | (codes == BELOW_CODE)
    with np.errstate(invalid="ignore"):
        low_volume = flagged & (parts.current < min_significant)
    return LimitResult(
        count=parts.current,
        monthly_average_prev3=parts.same_month_mean,
        average=parts.average,
        upper=upper,
        lower=lower,
        status=status_words(codes),
        low_volume=low_volume,
        baseline_years=parts.years_with_data,
    )


def series_limits(
    counts: pd.Series,
    fy: int,
    method: str = "pooled",
    k: float = 2.0,
    min_significant: int = 10,
    report_month: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """One series' twelve months as a table (the export and chart format).

    `counts` is indexed by month start; months absent from the index (or NaN) are
    missing data. Counts after `report_month` are blanked: the report is "up to and
    including" that month, while the limits run for the whole year.
    """
    window = counts.reindex(window_months(fy)).to_numpy(dtype=float, copy=True)
    months = fy_months(fy)
    if report_month is not None:
        window[BASELINE_YEARS * MONTHS_PER_YEAR :][months > pd.Timestamp(report_month)] = np.nan
    result = compute_limits(window[None, :], method=method, k=k, min_significant=min_significant)
    return pd.DataFrame(
        {
            "month": months,
            "count": result.count[0],
            "monthly_average_prev3": result.monthly_average_prev3[0],
            "average": result.average[0],
            "upper": result.upper[0],
            "lower": result.lower[0],
            "status": result.status[0],
            "low_volume": result.low_volume[0],
            "baseline_years": result.baseline_years[0],
        }
    )


def baseline_note(baseline_years: np.ndarray | pd.Series, method: str) -> str:
    """Plain words for a chart when the baseline is short: what was used and why."""
    years = int(np.max(baseline_years)) if len(baseline_years) else 0
    if years == 0:
        return "No limits: there is no data in the three years before this one to compare against."
    if years < get_method(method).min_years:
        return (f"No limits: the {method} method needs at least {get_method(method).min_years} earlier years of the "
                "same month; fewer exist. Try the pooled method.")
    if years < BASELINE_YEARS:
        return (f"Limits use the {years} earlier year{'s' if years > 1 else ''} that exist, "
                f"not the usual {BASELINE_YEARS}: read them with more caution.")
    return ""


def _count_words(n: int) -> str:
    return {1: "one", 2: "two", 3: "three"}.get(n, str(n))


def _month_list(months) -> str:
    return ", ".join(pd.DatetimeIndex(months).strftime("%b %Y"))


def baseline_notes(months: pd.Series, baseline_years: np.ndarray, method: str) -> list[str]:
    """Plain words for each kind of short baseline in a chart, naming the months affected.

    Real downloads have gaps, so one chart can mix months with three, one or no earlier years.
    """
    months = pd.DatetimeIndex(months)
    years = np.asarray(baseline_years, dtype=int)
    min_years = get_method(method).min_years
    notes = []
    none = months[years < min_years]
    if len(none):
        why = (f"the {method} method needs the same month in at least {_count_words(min_years)} earlier years"
               if (years[years < min_years] > 0).any()
               else "the store holds none of those months in the three years before")
        notes.append(f"No limits for {_month_list(none)}: {why}.")
    for n in range(min_years, BASELINE_YEARS):
        short = months[years == n]
        if len(short):
            notes.append(f"Limits for {_month_list(short)} use only {n} earlier year{'s' if n > 1 else ''}, "
                         f"not the usual {BASELINE_YEARS}: read them with more caution.")
    return notes
