"""axe-core scan of every tab, the board view, the map and the 404 page, in real headless Chromium.

axe-core is vendored (tests/vendor/axe-core, pinned by version and sha256; see its README).
A page fails on any serious or critical violation not excluded in tests/axe-exclusions.json.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from helpers import wait_for

pytestmark = pytest.mark.browser

AXE_DIR = Path(__file__).parent / "vendor" / "axe-core"
AXE_VERSION = "4.14.1"
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
EXCLUSIONS = Path(__file__).parent / "axe-exclusions.json"
FAILING_IMPACTS = ("serious", "critical")
AXE_TIMEOUT_SECONDS = 60

# (path, what must be drawn before scanning)
PAGES = [
    pytest.param("/", ".js-plotly-plot .scatterlayer .trace", id="crime"),
    pytest.param("/?area=Chesterfield&measure=Shoplifting&month=2026-10", "#crime-drill .ag-row", id="crime-csp"),
    pytest.param("/fire", ".js-plotly-plot .scatterlayer .trace", id="fire"),
    pytest.param("/marac", ".ag-row", id="marac"),
    pytest.param("/hate", ".js-plotly-plot .scatterlayer .trace", id="hate"),
    pytest.param("/asb", ".js-plotly-plot .scatterlayer .trace", id="asb"),
    pytest.param("/data", "table, .ag-row", id="data"),
    pytest.param("/?area=Chesterfield&measure=Shoplifting&present=1", ".js-plotly-plot .scatterlayer .trace", id="board-view"),
    pytest.param("/map?area=Chesterfield&measure=Shoplifting&month=2026-10", ".js-plotly-plot .choroplethmap, .js-plotly-plot canvas",
                 id="map"),
    pytest.param("/no-such-page", "#not-found-links a", id="not-found"),
]


def test_vendored_axe_is_the_pinned_release():
    source = (AXE_DIR / "axe.min.js").read_bytes()
    assert source.startswith(f"/*! axe v{AXE_VERSION}".encode())
    assert hashlib.sha256(source).hexdigest() == AXE_SHA256
    assert "Mozilla Public License" in (AXE_DIR / "LICENSE").read_text()


def _scan(browser) -> list[dict]:
    exclusions = json.loads(EXCLUSIONS.read_text())
    for entry in exclusions["exclude"] + exclusions["disabled_rules"]:
        assert entry.get("reason"), f"{EXCLUSIONS.name}: every exclusion needs a reason: {entry}"
    options = {
        "resultTypes": ["violations"],
        "rules": {entry["rule"]: {"enabled": False} for entry in exclusions["disabled_rules"]},
    }
    context = {"include": [["html"]], "exclude": [[entry["selector"]] for entry in exclusions["exclude"]]}
    browser.execute_script((AXE_DIR / "axe.min.js").read_text())
    browser.set_script_timeout(AXE_TIMEOUT_SECONDS)
    result = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(arguments[0], arguments[1]).then(r => done(r.violations)).catch(e => done('axe failed: ' + e));",
        context, options,
    )
    assert not isinstance(result, str), result
    return result


def _describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        targets = "; ".join(" ".join(map(str, node["target"])) for node in v["nodes"][:3])
        lines.append(f"{v['impact']} {v['id']} x{len(v['nodes'])}: {v['help']} -- e.g. {targets}")
    return "\n".join(lines)


@pytest.mark.parametrize("path, drawn", PAGES)
def test_no_serious_or_critical_axe_violations(live_server, browser, path, drawn):
    browser.get(live_server + path)
    wait_for(browser, drawn)
    wait_for(browser, "#page-heading", condition=lambda els: els and els[0].text.strip())
    violations = _scan(browser)
    failing = [v for v in violations if v["impact"] in FAILING_IMPACTS]
    assert not failing, f"axe-core {AXE_VERSION} on {path}:\n{_describe(failing)}"
