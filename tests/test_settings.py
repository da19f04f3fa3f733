"""Settings: documented in the README, read from the environment, bad values refused by name."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from queries import settings

README = Path(__file__).resolve().parent.parent / "README.md"


def test_every_setting_is_documented_in_the_readme_and_nothing_else_is():
    documented = set(re.findall(r"^\| `(CSP_[A-Z_]+)` \|", README.read_text(), flags=re.M))
    assert documented == set(settings.ENV_VARS)


def test_readme_defaults_match_the_code():
    rows = dict(re.findall(r"^\| `(CSP_[A-Z_]+)` \| `?([^|`]*?)`? \|", README.read_text(), flags=re.M))
    defaults = settings.load_settings({})
    assert rows["CSP_LIMIT_METHOD"] == defaults.limit_method
    assert float(rows["CSP_LIMIT_K"]) == defaults.k
    assert int(rows["CSP_MIN_SIGNIFICANT"]) == defaults.min_significant
    assert int(rows["CSP_SUPPRESS_BELOW"]) == defaults.suppress_below
    assert int(rows["CSP_PORT"]) == defaults.port
    assert rows["CSP_HOST"] == defaults.host


def test_environment_overrides_defaults():
    config = settings.load_settings({"CSP_LIMIT_METHOD": "classic", "CSP_LIMIT_K": "1", "CSP_DATA_DIR": "/x",
                                     "CSP_PORT": "9000", "CSP_MIN_SIGNIFICANT": "5", "CSP_DEBUG": "1"})
    assert (config.limit_method, config.k, str(config.data_dir), config.port, config.min_significant, config.debug) == (
        "classic", 1.0, "/x", 9000, 5, True)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CSP_LIMIT_METHOD": "xmr"}, "CSP_LIMIT_METHOD='xmr': unknown limit method 'xmr'; choose one of: pooled, classic"),
        ({"CSP_LIMIT_K": "two"}, "CSP_LIMIT_K='two': The multiplier k 'two' must be a number above 0 and at most 5"),
        ({"CSP_LIMIT_K": "0"}, "CSP_LIMIT_K='0': The multiplier k '0' must be a number above 0 and at most 5"),
        ({"CSP_LIMIT_K": "10"}, "CSP_LIMIT_K='10': The multiplier k '10' must be"),
        ({"CSP_LIMIT_K": "nan"}, "CSP_LIMIT_K='nan': The multiplier k 'nan' must be"),
        ({"CSP_PORT": "70000"}, "CSP_PORT=70000 is outside"),
        ({"CSP_MIN_SIGNIFICANT": "-1"}, "must not be negative"),
    ],
)
def test_bad_values_are_refused_naming_the_variable(env, message):
    with pytest.raises(settings.SettingsError, match=re.escape(message)):
        settings.load_settings(env)


def test_state_dir_defaults_beside_the_store_and_refuses_inside_it(tmp_path):
    config = settings.load_settings({"CSP_DATA_DIR": str(tmp_path / "store")})
    assert config.state_dir == tmp_path / "store-state"
    with pytest.raises(settings.SettingsError, match="CSP_STATE_DIR=.* is inside the store"):
        settings.load_settings({"CSP_DATA_DIR": str(tmp_path / "store"), "CSP_STATE_DIR": str(tmp_path / "store" / "s")})
