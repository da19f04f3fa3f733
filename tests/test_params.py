"""Every parameter's one rule: shapes, data choices, messages, and the README listing them all."""
from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd
import pytest

from queries import limits, params, settings

README = Path(__file__).resolve().parent.parent / "README.md"


@pytest.mark.parametrize("month", ["2015-04", "2026-10", "1990-01", "2100-12"])
def test_a_month_survives_format_then_parse(month):
    assert params.month_key(params.parse_month(month)) == month


@pytest.mark.parametrize("k", [0.5, 1, 2, 2.5, 5])
def test_k_survives_format_then_parse(k):
    assert params.parse_k(f"{k:g}") == k


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("month", "-1", "month '-1' is not a month like 2026-10"),
        ("month", "2026-13", "month '2026-13' is not a month like 2026-10"),
        ("month", "2026-00", "is not a month"),
        ("month", "1800-01", "month '1800-01' is outside 1990-2100"),
        ("month", ["2026-10"], "is not a month"),
        ("month", None, "is not a month"),
        ("k", "0", "The multiplier k '0' must be a number above 0 and at most 5"),
        ("k", "10", "must be a number above 0 and at most 5"),
        ("k", "-2", "must be a number above 0"),
        ("k", "nan", "must be a number above 0"),
        ("k", "inf", "must be a number above 0"),
        ("k", True, "must be a number above 0"),
        ("k", {"a": 1}, "must be a number above 0"),
        ("fy", "twenty", "financial year 'twenty' is not a year"),
        ("fy", 2015.5, "is not a year"),
        ("fy", "3000", "financial year 3000 is outside 1990-2100"),
        ("method", "xmr", "unknown limit method 'xmr'; choose one of: pooled, classic"),
        ("method", ["pooled"], "unknown limit method"),
        ("area", "x" * 500, "is not a name"),
        ("area", 7, "'7' is not a name"),
        ("kind", "both", "unknown kind 'both'; choose from: crimes, incidents"),
        ("strand", "Nope", "unknown strand 'Nope'"),
        ("quarter", "2015-Q5", "is not like 2015-Q2"),
    ],
)
def test_bad_values_are_refused_with_a_message_naming_the_parameter(name, raw, message):
    import queries.fire  # noqa: F401  registers quarter
    import queries.hate  # noqa: F401  registers kind and strand

    with pytest.raises(params.ParamError, match=re.escape(message)):
        params.check(name, raw)


def test_data_choices_list_what_the_store_holds(demo_store, demo_config):
    ctx = params.Context(demo_store, "crime", demo_config)
    with pytest.raises(params.ParamError, match=r"unknown area 'Atlantis'; choose from: Amber Valley, Bolsover, Chesterfield"):
        params.check("area", "Atlantis", ctx)
    with pytest.raises(params.ParamError, match=r"unknown month '2031-07'; choose from: 2020-04"):
        params.check("month", "2031-07", ctx)
    assert params.check("month", "2026-10", ctx) == pd.Timestamp("2026-10-01")


def test_one_rule_for_k_everywhere_engine_included():
    assert params.MAX_K == 5
    with pytest.raises(settings.SettingsError, match="CSP_LIMIT_K='0'"):
        settings.load_settings({"CSP_LIMIT_K": "0"})
    for raw in ("0", "5.01", "nan"):
        with pytest.raises(ValueError):
            params.parse_k(raw)
    assert math.isclose(params.parse_k("5"), 5.0)


def test_a_loose_value_falls_back_to_the_default_and_says_so(demo_store, demo_config):
    view = params.resolve_view(demo_store, "crime", {"month": "-1", "k": "0", "area": "<b>", "method": "xmr"},
                               demo_config)
    assert (params.month_key(view.month), view.k, view.area, view.method) == ("2026-10", 2.0, "Force Area", "pooled")
    text = " ".join(view.warnings)
    assert "Month '-1' is not a month like 2026-10. Showing 2026-10." in text
    assert "The multiplier k '0' must be a number above 0 and at most 5. Showing 2.0." in text
    assert "Unknown area '<b>'" in text and "Unknown limit method 'xmr'" in text


def test_a_financial_year_alone_opens_its_latest_month_held(demo_store, demo_config):
    view = params.resolve_view(demo_store, "crime", {"fy": "2023"}, demo_config)
    assert params.month_key(view.month) == "2024-03" and view.fy == 2023 and not view.warnings


def test_the_view_round_trips_through_its_own_link(demo_store, demo_config):
    from urllib.parse import parse_qsl

    view = params.resolve_view(demo_store, "crime", {"area": "Chesterfield", "measure": "Shoplifting",
                                                     "month": "2025-06", "k": "3", "method": "classic",
                                                     "neighbourhood": "Chesterfield Town Centre"}, demo_config)
    again = params.resolve_view(demo_store, "crime", dict(parse_qsl(view.query_string()[1:])), demo_config)
    assert again == view and not again.warnings


def test_every_url_parameter_is_documented_in_the_readme():
    import queries.fire  # noqa: F401
    import queries.hate  # noqa: F401

    documented = set(re.findall(r"^\| `([a-z]+)` \|", README.read_text().split("## URL parameters")[1], flags=re.M))
    assert set(params.PARAMS) <= documented, set(params.PARAMS) - documented


def test_limit_method_choices_come_from_the_registry():
    assert params.PARAMS["method"].help == "Limit method: " + ", ".join(limits.METHODS) + "."
