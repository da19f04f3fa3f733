"""MARAC's board view (`/marac?present=1`), in-process: what it draws and who the server gives it to.

The chart holds only the protected release's figures (tests/test_marac_disclosure.py checks the
release itself); the board frame and stamp are the trend boards' own (tests/test_board.py). The
browser side (fits the screen, area changed in the view) is in tests/test_board_browser.py.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from dashboard import components
from queries import access_settings, marac, roles
from queries.settings import DEFAULT_SUPPRESS_BELOW
from queries.store import Store

STAMP = "Data as at 1 Nov 2026 09:00 UTC, latest month October 2026"
PROJECTOR_WIDTH = 1280
PHONE_WIDTH = 390


@pytest.fixture(scope="module")
def app(demo_dir, tmp_path_factory):
    """The real app on the demo store behind a trusted proxy that names each request's role
    (so one test can ask as public, board and analyst), with MARAC released as `import marac` does."""
    import sys

    from dashboard import create_app

    state_dir = tmp_path_factory.mktemp("state")
    marac.release(Store(demo_dir), DEFAULT_SUPPRESS_BELOW, state_dir=state_dir)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CSP_STATE_DIR", str(state_dir))
        patch.setenv("CSP_AUTH", "proxy")
        patch.setenv("CSP_TRUSTED_PROXIES", "127.0.0.1/32")
        dash_app = create_app(demo_dir)
        yield dash_app, sys.modules["dashboard.pages.marac"]


@pytest.fixture(scope="module")
def page(app):
    return app[1]


@pytest.fixture(scope="module")
def release(page, app):
    with app[0].server.test_request_context("/"):
        return page._release()


def points(trace) -> list[tuple]:
    """(x, y) of each point a trace draws (a gap, NaN or None, draws nothing)."""
    xs = [] if trace.x is None else list(trace.x)
    ys = [] if trace.y is None else list(trace.y)
    return [(x, y) for x, y in zip(xs, ys) if y is not None and np.isfinite(float(y))]


def traces(figure, name: str):
    return [t for t in figure.data if t.name == name]


@pytest.mark.parametrize("period", list(marac.PERIOD_TYPES))
@pytest.mark.parametrize("area", ["Force Area", "Derby City", "County Council Area"])
def test_the_board_chart_draws_only_the_released_figures_and_marks_the_suppressed_without_a_number(
        page, release, area, period):
    table = marac.chart_table(release, area, period)
    for measure, line in ((marac.CASES, marac.CASES), (page.REPEAT_RATE, "Repeat rate (%)")):
        figure = page.board_figure(table, f"{area} - {measure}", measure, STAMP, PROJECTOR_WIDTH)
        column = page.BOARD_COLUMNS[measure]
        shown = table[column].to_numpy(dtype=float)
        if measure == page.REPEAT_RATE:  # the undercounted early periods are their own (open) markers
            shown = np.where(table["history_incomplete"], np.nan, shown)
        drawn = np.asarray(traces(figure, line)[0].y, dtype=float)
        np.testing.assert_array_equal(drawn, shown)
        # Every number on the chart is a released one: nothing drawn for a suppressed period.
        hidden = set(table.loc[table[column].isna(), "period"])
        for trace in figure.data:
            for x, y in points(trace):
                if x in hidden:
                    assert trace.name.startswith("Local target"), (trace.name, x, y)
        stars = [a for a in figure.layout.annotations if marac.SUPPRESSED in a.text]
        assert {a.x for a in stars} == hidden and bool(traces(figure, page.SUPPRESSED_NAME)) == bool(hidden)
        # No limit lines, so no exceptions; the stamp is on the chart.
        assert not [a for a in figure.layout.annotations if "Above" in a.text or "Below" in a.text]
        assert [a for a in figure.layout.annotations if a.text == STAMP]


def test_the_board_chart_frames_its_axis_by_the_boards_rule_and_says_when_it_leaves_out_zero(page, release):
    table = marac.chart_table(release, "Derby City", marac.QUARTER)
    rate = page.board_figure(table, "Derby City - Repeat rate", page.REPEAT_RATE, STAMP, PROJECTOR_WIDTH)
    bottom, top, from_zero = components.axis_frame(np.r_[table["repeat_rate"], marac.REPEAT_TARGET_PCT])
    assert not from_zero and list(rate.layout.yaxis.range) == [bottom, top]
    assert any(components.NOT_FROM_ZERO in a.text for a in rate.layout.annotations)
    assert bottom < marac.REPEAT_TARGET_PCT < top  # the target is always in the frame
    cases = page.board_figure(table, "Derby City - Cases discussed", marac.CASES, STAMP, PROJECTOR_WIDTH)
    assert cases.layout.yaxis.range[0] == components.axis_frame(table["cases"].to_numpy(dtype=float))[0]
    assert any(components.NOT_FROM_ZERO in a.text for a in cases.layout.annotations) == (cases.layout.yaxis.range[0] > 0)


def test_the_board_chart_labels_at_most_thirteen_periods_on_a_projector_and_five_on_a_phone_and_always_the_latest(
        page, release):
    table = marac.chart_table(release, "Force Area", marac.QUARTER)
    assert len(table) > 13
    for width, most in ((PROJECTOR_WIDTH, 13), (PHONE_WIDTH, 5)):
        ticks = page.board_figure(table, "t", marac.CASES, STAMP, width).layout.xaxis.tickvals
        assert len(ticks) <= most and ticks[-1] == table["period"].iloc[-1]


def _pages_request(path: str, search: str) -> dict:
    return {"output": ".._pages_content.children..._pages_store.data..",
            "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
            "inputs": [{"id": "_pages_location", "property": "pathname", "value": path},
                       {"id": "_pages_location", "property": "search", "value": search}],
            "changedPropIds": ["_pages_location.pathname"]}


BOARD_VALUES = {"marac-board-area": "Derby City", "marac-board-measure": "Repeat rate", "marac-board-period": "quarter",
                "marac-board": True, "marac-tick": 1, "marac-screen": PROJECTOR_WIDTH}


def _callback_request(dependency: dict) -> dict:
    outputs = [{"id": o.rsplit(".", 1)[0], "property": o.rsplit(".", 1)[1]}
               for o in dependency["output"].strip(".").split("...")]
    def items(specs):
        return [{"id": s["id"], "property": s["property"], "value": BOARD_VALUES.get(s["id"])} for s in specs]
    return {"output": dependency["output"], "outputs": outputs if len(outputs) > 1 else outputs[0],
            "inputs": items(dependency["inputs"]), "state": items(dependency["state"]),
            "changedPropIds": [f"{dependency['inputs'][0]['id']}.{dependency['inputs'][0]['property']}"]}


def _as(client, role: str) -> dict:
    return {access_settings.PROXY_USER_HEADER: f"a-{role}", access_settings.PROXY_ROLE_HEADER: role}


def test_the_server_refuses_marac_board_view_and_each_of_its_callbacks_to_roles_not_allowed_marac(app):
    client = app[0].server.test_client()
    client.get("/")
    dependencies = client.get("/_dash-dependencies").get_json()
    board_ids = {"marac-board-area", "marac-chart", "marac-version", "marac-screen"}
    callbacks = [d for d in dependencies if not d.get("clientside_function")
                 and board_ids & ({i["id"] for i in d["inputs"] + d["state"]}
                                  | {o.rsplit(".", 1)[0] for o in d["output"].strip(".").split("...")})]
    outputs = " ".join(d["output"] for d in callbacks)
    assert "marac-chart.figure" in outputs and "marac-version.data" in outputs  # the chart and the minute's check

    def page(headers) -> str:
        response = client.post("/_dash-update-component", json=_pages_request("/marac", "?present=1"), headers=headers)
        assert response.status_code == 200
        return json.dumps(response.get_json())

    def answers(headers) -> list[int]:
        return [client.post("/_dash-update-component", json=_callback_request(d), headers=headers).status_code
                for d in callbacks]

    public, board = _as(client, roles.PUBLIC), _as(client, roles.BOARD)
    # The public never; a board member not in an open session (the default for the board role).
    for headers in (public, board):
        shown = page(headers)
        assert "role-refused" in shown and "board-view" not in shown and "Data as at" not in shown
        assert set(answers(headers)) == {403}
    refused = client.post("/_dash-update-component", json=_callback_request(callbacks[0]), headers=board)
    assert "closed session" in refused.get_data(as_text=True)
    # In a closed session the same member gets the board view and its answers.
    assert client.post("/session", data={"mode": "closed"}, headers=board).status_code in (200, 302, 303)
    shown = page(board)
    assert "board-view" in shown and "role-refused" not in shown and "MARAC: no Current Issues" in shown
    codes = dict(zip((d["output"] for d in callbacks), answers(board)))
    assert set(codes.values()) <= {200, 204, 403} and 200 in codes.values(), codes
    # Only the page's downloads stay refused (a board member may view MARAC, not export it).
    assert all("download" in output for output, code in codes.items() if code == 403), codes


def test_a_board_view_link_with_an_unknown_measure_shows_cases_and_says_so(app, page):
    with app[0].server.test_request_context("/", headers=_as(None, roles.ANALYST)):
        app[0].server.preprocess_request()
        layout = json.dumps(page.layout(present="1", measure="Stab wounds", area="Derby City").to_plotly_json(),
                            default=lambda c: c.to_plotly_json(), ensure_ascii=False)
    assert "Unknown measure 'Stab wounds'; showing Cases discussed" in layout
    assert "marac-board-prev" not in layout and page.NO_WALK in layout
