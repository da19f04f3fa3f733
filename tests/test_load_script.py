"""The many-users load script's smoke run against the suite's real gunicorn, so it cannot rot:
it finds the Crime tab's card callbacks, every simulated request answers 200 with content,
and every user's actions are counted."""
from __future__ import annotations

import importlib.util

from conftest import REPO

_spec = importlib.util.spec_from_file_location("load_test", REPO / "scripts" / "load_test.py")
load_test = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(load_test)


def test_a_short_load_answers_every_request_of_every_user(live_server):
    result = load_test.run(live_server, users=3, every=1.0, seconds=2.0)
    kinds = set(result["timings"])
    assert kinds == {"page HTML", "crime-chart", "crime-summary", "crime-rolling"}
    counts = {len(v) for v in result["timings"].values()}
    assert len(counts) == 1 and counts.pop() >= 3  # each action made every request, each user acted
    assert not any(result["errors"].values())
