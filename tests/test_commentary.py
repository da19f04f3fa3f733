"""Commentary and CSP Activity in SQLite: history, optimistic locking, approval, hostile input."""
from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

import pytest

from queries.commentary import ACTIVITY, COMMENTARY, Commentary, CommentaryError, Conflict, Key

FORCE = "derbyshire"
KEY = Key("Erewash", "Violence without Injury", "2025-09", COMMENTARY, FORCE)


def test_a_save_is_durable_with_author_time_and_history(tmp_path):
    Commentary(tmp_path, FORCE).save(KEY, "  Rise linked to two licensed premises.  ", "A. Analyst", base_version=0)
    store = Commentary(tmp_path, FORCE)  # a fresh connection, as another worker would open
    entry = store.get(KEY)
    assert (entry.version, entry.text, entry.author) == (1, "Rise linked to two licensed premises.", "A. Analyst")
    assert entry.saved_at.endswith("+00:00")
    store.save(KEY, "Rise linked to two licensed premises in Long Eaton.", "B. Analyst", base_version=1)
    assert [(e.version, e.action, e.author) for e in store.history(KEY)] == [(1, "saved", "A. Analyst"), (2, "saved", "B. Analyst")]


def test_a_second_save_from_the_same_version_is_refused_showing_both_texts(tmp_path):
    store = Commentary(tmp_path, FORCE)
    store.save(KEY, "first draft", "A", base_version=0)
    store.save(KEY, "A's edit", "A", base_version=1)
    with pytest.raises(Conflict) as refused:
        store.save(KEY, "B's edit", "B", base_version=1)  # B loaded version 1 before A saved version 2
    assert refused.value.mine == "B's edit" and refused.value.theirs.text == "A's edit"
    assert "A's edit" in str(refused.value) and "B's edit" in str(refused.value)
    assert store.get(KEY).text == "A's edit", "nothing lost, nothing overwritten"


def test_only_approved_text_reaches_the_report_and_stays_fixed_until_reapproved(tmp_path):
    store = Commentary(tmp_path, FORCE)
    store.save(KEY, "draft one", "A", base_version=0)
    assert store.approved_for_month("2025-09", FORCE) == {}
    store.approve(KEY, "Lead Analyst", version=1)
    store.save(KEY, "draft two, not yet approved", "A", base_version=1)
    assert store.approved_for_month("2025-09", FORCE) == {("Erewash", "Violence without Injury", COMMENTARY): ("draft one", "Lead Analyst")}
    assert not store.get(KEY).approved_is_current
    with pytest.raises(Conflict):
        store.approve(KEY, "Lead Analyst", version=1)  # approving a version that is no longer the one on screen
    assert [e.action for e in store.history(KEY)] == ["saved", "approved", "saved"]


def test_csp_activity_is_kept_per_area_and_month(tmp_path):
    store = Commentary(tmp_path, FORCE)
    activity = Key("Erewash", "", "2025-09", ACTIVITY, FORCE)
    store.save(activity, "Operation Lantern: licensed premises visits.", "A", base_version=0)
    store.approve(activity, "A", version=1)
    assert store.approved_for_month("2025-09", FORCE)[("Erewash", "", ACTIVITY)][0].startswith("Operation Lantern")
    assert store.approved_for_month("2025-10", FORCE) == {}


@pytest.mark.parametrize("key, author, text, message", [
    (Key("Erewash", "x", "2025-9", COMMENTARY, FORCE), "A", "t", "YYYY-MM"),
    (Key("Erewash", "x", "2025-09", "gossip", FORCE), "A", "t", "choose one of commentary, activity"),
    (Key("", "x", "2025-09", COMMENTARY, FORCE), "A", "t", "area is required"),
    (Key("Erewash\x00", "x", "2025-09", COMMENTARY, FORCE), "A", "t", "not a valid name"),
    (KEY, "  ", "t", "author is required"),
    (KEY, "A", "x" * 10_001, "at most 10,000 characters"),
])
def test_bad_input_is_refused_naming_the_field(tmp_path, key, author, text, message):
    with pytest.raises(CommentaryError, match=message):
        Commentary(tmp_path, FORCE).save(key, text, author, base_version=0)


def _save_from_version_0(args):
    state_dir, who = args
    try:
        Commentary(state_dir, FORCE).save(KEY, f"text by {who}", who, base_version=0)
        return "saved"
    except Conflict:
        return "refused"


def test_simultaneous_first_saves_from_several_processes_keep_exactly_one(tmp_path):
    Commentary(tmp_path, FORCE)
    with ProcessPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(_save_from_version_0, [(tmp_path, f"worker {i}") for i in range(6)]))
    assert sorted(outcomes) == ["refused"] * 5 + ["saved"]
    assert len(Commentary(tmp_path, FORCE).history(KEY)) == 1
