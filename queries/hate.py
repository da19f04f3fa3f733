"""Hate crime measures: incidents and crimes kept apart, by monitored strand, with outcomes.

Hate *incidents* (any incident perceived by the victim or anyone else to be motivated by
hostility) and hate *crimes* (those that are crimes) are different measures and are never
added together: the page shows one or the other. Each record carries one monitored strand
(race, religion, sexual orientation, disability, transgender, other); a crime's outcome
uses the Home Office outcome framework, and a "positive outcome" is one where action was
taken against an offender (charge/summons, caution, taken into consideration, penalty
notice, cannabis/khat warning, community resolution, diversionary activity).

The board's year-to-date table compares April up to the report month with the same months
a year earlier, with "Vol. Change" and "% Change" formatted exactly as in its packs
("-20", "-26.0%"). Counts under ten carry the caution "small numbers, interpret with care".

Everything here is pure (no Dash): functions take the store and return DataFrames.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from queries import geography, limits, params
from queries.settings import DEFAULT_SMALL_NUMBER_CAUTION

DATASET = "hate"

CRIME = "Crime"
INCIDENT = "Incident"
KINDS = (CRIME, INCIDENT)
# URL / toggle values -> record kind.
KIND_PARAMS = {"crimes": CRIME, "incidents": INCIDENT}
KIND_MEASURE = {CRIME: "Hate crimes", INCIDENT: "Hate incidents"}
COUNT_LABEL = {CRIME: "Hate Crime Count (Current)", INCIDENT: "Hate Incident Count (Current)"}

# The monitored strands in the order the packs list them; "Other" last.
STRANDS = ["Race", "Religion", "Sexual orientation", "Disability", "Transgender", "Other"]
ALL_STRANDS = "All strands"
STRAND_CHOICES = [ALL_STRANDS] + STRANDS
STRAND_ALIASES = {
    "race": "Race",
    "racial": "Race",
    "race/ethnicity": "Race",
    "ethnicity": "Race",
    "religion": "Religion",
    "religious": "Religion",
    "faith": "Religion",
    "religion or belief": "Religion",
    "religion/belief": "Religion",
    "sexual orientation": "Sexual orientation",
    "homophobic": "Sexual orientation",
    "sexuality": "Sexual orientation",
    "disability": "Disability",
    "disablist": "Disability",
    "disabled": "Disability",
    "transgender": "Transgender",
    "transphobic": "Transgender",
    "gender identity": "Transgender",
    "trans": "Transgender",
    "other": "Other",
}

# Home Office outcome framework: code -> (name, positive?). Outcome 19 does not exist.
OUTCOMES = {
    1: ("Charged/Summonsed", True),
    2: ("Caution - youths", True),
    3: ("Caution - adults", True),
    4: ("Taken into consideration", True),
    5: ("Offender died", False),
    6: ("Penalty Notice for Disorder", True),
    7: ("Cannabis/Khat warning", True),
    8: ("Community Resolution", True),
    9: ("Prosecution not in the public interest (CPS)", False),
    10: ("Formal action not in the public interest (police)", False),
    11: ("Prosecution prevented - suspect under age", False),
    12: ("Prosecution prevented - suspect too ill", False),
    13: ("Prosecution prevented - victim or key witness dead or too ill", False),
    14: ("Evidential difficulties - victim does not support action (suspect not identified)", False),
    15: ("Evidential difficulties - suspect identified, victim supports action", False),
    16: ("Evidential difficulties - suspect identified, victim does not support action", False),
    17: ("Prosecution time limit expired", False),
    18: ("Investigation complete - no suspect identified", False),
    20: ("Action undertaken by another body or agency", False),
    21: ("Further investigation not in the public interest", False),
    22: ("Diversionary, educational or intervention activity", True),
}
# Everyday spellings seen in exports -> outcome code.
OUTCOME_ALIASES = {
    "charged": 1, "charge": 1, "summonsed": 1, "charge/summons": 1, "charged/summonsed": 1,
    "caution": 3, "adult caution": 3, "youth caution": 2, "tic": 4, "pnd": 6, "penalty notice": 6,
    "cannabis warning": 7, "community resolution": 8, "no suspect identified": 18,
    "evidential difficulties": 16, "diversionary activity": 22, "outcome 22": 22,
}
# Blank outcomes on a crime mean the investigation is still open.
PENDING_OUTCOMES = {"", "under investigation", "awaiting outcome", "pending", "open", "not yet known"}

POSITIVE = "positive outcome"
AWAITING = "awaiting outcome"
FORCE_ROW = "Force"  # the board's YTD table says "Force", not "Force Area"
CAUTION_BELOW = DEFAULT_SMALL_NUMBER_CAUTION
CAUTION_TEXT = "small numbers, interpret with care"


def measure_name(kind: str, strand: str | None = None, suffix: str | None = None) -> str:
    """'Hate crimes', 'Hate crimes - Race', 'Hate crimes - Race - positive outcome', ..."""
    parts = [KIND_MEASURE[kind]]
    if strand and strand != ALL_STRANDS:
        parts.append(strand)
    if suffix:
        parts.append(suffix)
    return " - ".join(parts)


# SELECT over `records` giving (measure, month, ward_code, location, force); see store.build_monthly.
# Built from named constants only.
MEASURE_SQL = f"""
        SELECT CASE kind WHEN '{INCIDENT}' THEN '{KIND_MEASURE[INCIDENT]}' ELSE '{KIND_MEASURE[CRIME]}' END AS measure,
               month, ward_code, location, force FROM records WHERE kind IN ('{INCIDENT}', '{CRIME}')
        UNION ALL
        SELECT CASE kind WHEN '{INCIDENT}' THEN '{KIND_MEASURE[INCIDENT]}' ELSE '{KIND_MEASURE[CRIME]}' END
                   || ' - ' || strand, month, ward_code, location, force FROM records WHERE kind IN ('{INCIDENT}', '{CRIME}')
        UNION ALL
        SELECT '{KIND_MEASURE[CRIME]} - {POSITIVE}', month, ward_code, location, force FROM records
            WHERE kind = '{CRIME}' AND positive_outcome
        UNION ALL
        SELECT '{KIND_MEASURE[CRIME]} - ' || strand || ' - {POSITIVE}', month, ward_code, location, force FROM records
            WHERE kind = '{CRIME}' AND positive_outcome
        UNION ALL
        SELECT '{KIND_MEASURE[CRIME]} - {AWAITING}', month, ward_code, location, force FROM records
            WHERE kind = '{CRIME}' AND outcome IS NULL
        UNION ALL
        SELECT '{KIND_MEASURE[CRIME]} - ' || strand || ' - {AWAITING}', month, ward_code, location, force FROM records
            WHERE kind = '{CRIME}' AND outcome IS NULL
    """


def canonical_strand(text: str) -> str | None:
    return STRAND_ALIASES.get(" ".join(text.strip().lower().split()))


def outcome_of(text: str) -> tuple[int | None, str | None, bool] | None:
    """(code, name, positive) for an outcome as exported; (None, None, False) if still open;
    None if not recognised. Accepts "1", "Outcome 1", "OC1", the framework's names and a few
    everyday spellings."""
    key = " ".join(text.strip().lower().split())
    if key in PENDING_OUTCOMES:
        return None, None, False
    for prefix in ("outcome type ", "outcome ", "oc"):
        if key.startswith(prefix) and key[len(prefix):].strip().isdigit():
            key = key[len(prefix):].strip()
    code = None
    if key.isdigit():
        code = int(key)
    elif key in OUTCOME_ALIASES:
        code = OUTCOME_ALIASES[key]
    else:
        code = next((c for c, (name, _) in OUTCOMES.items() if name.lower() == key), None)
    if code not in OUTCOMES:
        return None
    name, positive = OUTCOMES[code]
    return code, name, positive


# --------------------------------------------------------------------------- periods


def fy_label(fy: int) -> str:
    """The board's year label: 2013 -> "2013-'14"."""
    return f"{fy}-'{str(fy + 1)[-2:]}"


def ytd_months(report_month: pd.Timestamp) -> tuple[pd.DatetimeIndex, pd.DatetimeIndex]:
    """April of the report month's financial year up to it, and the same months a year earlier."""
    report_month = pd.Timestamp(report_month)
    fy = limits.fy_of(report_month)
    current = limits.fy_months(fy)
    current = current[current <= report_month]
    return current, current - pd.DateOffset(years=1)


def _area_counts(store, measure: str, first: pd.Timestamp, last: pd.Timestamp) -> pd.DataFrame:
    """Counts by area (CSP, or outside / no known area) and month between two months, for the store's force."""
    frame = store.query(
        """SELECT coalesce(csp, CASE location WHEN ? THEN ? ELSE ? END) AS area, parent, month,
                  sum(count)::BIGINT AS count
           FROM monthly WHERE dataset = ? AND force = ? AND measure = ? AND month BETWEEN ? AND ? GROUP BY ALL""",
        [geography.OUTSIDE_AREA, geography.OUTSIDE, geography.UNALLOCATED, DATASET,
         geography.areas(store.data_dir).force.slug, measure, first.date(), last.date()],
    )
    frame["month"] = pd.to_datetime(frame["month"])
    return frame


def _missing(store, months: pd.DatetimeIndex) -> int:
    held = pd.to_datetime(store.query("SELECT DISTINCT month FROM coverage WHERE dataset = ?", [DATASET])["month"])
    return int((~months.isin(held)).sum())


def _by_area(frame: pd.DataFrame, window: pd.DatetimeIndex, own: geography.ForceAreas) -> pd.Series:
    """Counts per reconciling row (CSPs, each county, the unitaries, outside, no known area, Force)."""
    part = frame[frame["month"].isin(window)]
    by_area = part.groupby("area")["count"].sum()
    for county in own.county_names:
        by_area.loc[county] = part.loc[part["parent"] == county, "count"].sum()
    by_area.loc[FORCE_ROW] = part["count"].sum()
    return by_area


# --------------------------------------------------------------------------- tables


def ytd_table(store, kind: str, report_month: pd.Timestamp, strand: str | None = None) -> pd.DataFrame:
    """The board's year-to-date table: one row per area, numbers (format with `format_ytd`).

    Rows: the force's top areas (Derbyshire: the 8 CSPs, County Council Area, Derby City), then records outside the force area
    and with no known area when there are any (so the rows reconcile), then Force.
    Columns: Area, "<prev> YTD", "<current> YTD", "Vol. Change", "% Change" (% one decimal;
    NaN when the previous figure is 0 or a month is missing). A year to date missing any
    month is NaN, not a partial sum; `attrs["note"]` explains gaps.
    """
    current, previous = ytd_months(report_month)
    measure = measure_name(kind, strand)
    frame = _area_counts(store, measure, previous[0], current[-1])
    own = geography.areas(store.data_dir)
    now, then = _by_area(frame, current, own), _by_area(frame, previous, own)
    fy = limits.fy_of(current[0])
    extra = [a for a in (geography.OUTSIDE, geography.UNALLOCATED) if now.get(a, 0) or then.get(a, 0)]
    rows = own.top_areas[:-1] + extra + [FORCE_ROW]
    label_then, label_now = f"{fy_label(fy - 1)} YTD", f"{fy_label(fy)} YTD"
    missing_now, missing_then = _missing(store, current), _missing(store, previous)
    complete = missing_now == 0 and missing_then == 0
    # A window missing a month is not a count (missing is not zero): its column is blank.
    table = pd.DataFrame({
        "Area": rows,
        label_then: then.reindex(rows).fillna(0).astype(int).to_numpy() if not missing_then else np.nan,
        label_now: now.reindex(rows).fillna(0).astype(int).to_numpy() if not missing_now else np.nan,
    })
    table["Vol. Change"] = (table[label_now] - table[label_then]) if complete else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(table[label_then] > 0, 100 * table["Vol. Change"] / table[label_then], np.nan)
    table["% Change"] = np.round(pct, 1) if complete else np.nan
    table.attrs["note"] = (
        f"April to {current[-1]:%B} {current[-1].year} against April to {previous[-1]:%B} {previous[-1].year}."
        if complete
        else f"Incomplete: the store lacks {missing_now} month(s) of this year to date and {missing_then} of the "
        "year before, so no change is shown."
    )
    return table


def format_count(value) -> str:
    """A count with thousands separators; "n/a" for a window the store does not fully hold."""
    return "n/a" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{int(value):,}"


def format_change(value) -> str:
    """Vol. Change as printed in the packs: "-20", "21", "-4" (n/a when not comparable)."""
    return "n/a" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{int(value):,}"


def format_pct(value) -> str:
    """% Change as printed in the packs: one decimal and a % sign, "-26.0%", "30.9%", "-0.5%"."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "n/a"
    value = round(float(value), 1)
    return f"{0.0 if value == 0 else value:.1f}%"


def format_ytd(table: pd.DataFrame) -> pd.DataFrame:
    """The YTD table as text, exactly as the board prints it."""
    out = table.copy()
    for column in out.columns[1:3]:
        out[column] = [format_count(v) for v in out[column]]
    out["Vol. Change"] = [format_change(v) for v in table["Vol. Change"]]
    out["% Change"] = [format_pct(v) for v in table["% Change"]]
    return out


def needs_caution(values) -> bool:
    """True when any shown count is under ten (zeros included)."""
    values = pd.to_numeric(pd.Series(list(values), dtype=object), errors="coerce").dropna()
    return bool((values < CAUTION_BELOW).any())


def caution_column(table: pd.DataFrame, count_columns: list[str]) -> list[str]:
    """The caution text on each row with a count under ten, else ""."""
    return [CAUTION_TEXT if needs_caution(row) else "" for row in table[count_columns].itertuples(index=False)]


def strand_shares(store, kind: str, report_month: pd.Timestamp, area: str = geography.FORCE) -> pd.DataFrame:
    """Each strand's count and share (one decimal) year to date, this year and last."""
    current, previous = ytd_months(report_month)
    condition, params = geography.area_condition(area, data_dir=store.data_dir)
    frame = store.query(
        f"""SELECT measure, month, sum(count)::BIGINT AS count FROM monthly
            WHERE dataset = ? AND measure IN ({', '.join('?' * len(STRANDS))}) AND month BETWEEN ? AND ? AND {condition}
            GROUP BY ALL""",
        [DATASET, *[measure_name(kind, s) for s in STRANDS], previous[0].date(), current[-1].date(), *params],
    )
    frame["month"] = pd.to_datetime(frame["month"])
    fy = limits.fy_of(current[0])
    rows = []
    for window, label in ((previous, fy_label(fy - 1)), (current, fy_label(fy))):
        counts = frame[frame["month"].isin(window)].groupby("measure")["count"].sum()
        complete = _missing(store, window) == 0  # missing months are not zeros
        rows.append((label, [int(counts.get(measure_name(kind, s), 0)) if complete else np.nan for s in STRANDS]))
    (label_then, then), (label_now, now) = rows
    total_then, total_now = np.nansum(then), np.nansum(now)
    table = pd.DataFrame({
        "Strand": STRANDS,
        f"{label_then} YTD": then,
        f"{label_then} share (%)": [round(100 * v / total_then, 1) if total_then and v == v else np.nan for v in then],
        f"{label_now} YTD": now,
        f"{label_now} share (%)": [round(100 * v / total_now, 1) if total_now and v == v else np.nan for v in now],
    })
    table["Caution"] = caution_column(table, [f"{label_then} YTD", f"{label_now} YTD"])
    return table


def outcome_table(store, report_month: pd.Timestamp, strand: str | None = None) -> pd.DataFrame:
    """Hate crimes year to date by area: positive outcomes, rate (%), and the share still awaiting one.

    Recent crimes are often still under investigation, so the rate for the latest months
    is a floor, not a final figure; the awaiting column says how many are open.
    """
    current, _ = ytd_months(report_month)
    first, last = current[0], current[-1]
    parts = {}
    own = geography.areas(store.data_dir)
    for key, suffix in (("crimes", None), ("positive", POSITIVE), ("awaiting", AWAITING)):
        frame = _area_counts(store, measure_name(CRIME, strand, suffix), first, last)
        parts[key] = _by_area(frame, current, own)
    rows = own.top_areas[:-1] + [
        a for a in (geography.OUTSIDE, geography.UNALLOCATED) if parts["crimes"].get(a, 0)] + [FORCE_ROW]
    crimes = parts["crimes"].reindex(rows).fillna(0).astype(int)
    positive = parts["positive"].reindex(rows).fillna(0).astype(int)
    awaiting = parts["awaiting"].reindex(rows).fillna(0).astype(int)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(crimes > 0, np.round(100 * positive / crimes, 1), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        open_share = np.where(crimes > 0, np.round(100 * awaiting / crimes, 1), np.nan)
    table = pd.DataFrame({
        "Area": rows,
        "Hate crimes YTD": crimes.to_numpy(),
        "Positive outcomes": positive.to_numpy(),
        "Positive outcome rate (%)": rate,
        "Awaiting outcome (%)": open_share,
    })
    table["Caution"] = caution_column(table, ["Hate crimes YTD", "Positive outcomes"])
    table.attrs["note"] = (
        f"Hate crimes recorded April to {last:%B %Y}. Positive outcome: charge/summons, caution, taken into "
        "consideration, penalty notice, cannabis/khat warning, community resolution or diversionary activity "
        "(Home Office outcomes 1-4, 6-8 and 22). Crimes still awaiting an outcome count in the total, so recent "
        "rates rise as investigations close."
    )
    return table


# --------------------------------------------------------------------------- parameters


def _choice(raw: object, valid: list[str], what: str) -> str:
    if not isinstance(raw, str) or raw not in valid:
        raise ValueError(f"unknown {what} '{params.clip(raw)}'; choose from: {', '.join(valid)}")
    return raw


params.register(params.Param("kind", "Hate crimes or hate incidents (kept apart): crimes or incidents.",
                             parse=lambda raw: _choice(raw, list(KIND_PARAMS), "kind"), what="kind"))
params.register(params.Param("strand", "Monitored strand, or all strands.",
                             parse=lambda raw: _choice(raw, STRAND_CHOICES, "strand"), what="strand"))
