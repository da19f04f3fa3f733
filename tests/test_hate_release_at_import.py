"""Issue 10: the public hate-crime release is audited through its ledger when hate data is
imported (as MARAC's is), not in the first public web request; the view reads it back."""
from __future__ import annotations

from pathlib import Path

from queries import cli, hate_ledger, hate_release
from queries.init_store import init_store
from queries.settings import DEFAULT_SUPPRESS_BELOW
from queries.store import Store

HATE_RECORDS = Path(__file__).parent / "fixtures" / "hate" / "records.csv"


def test_importing_hate_puts_its_public_release_in_the_ledger_and_the_view_reads_it_back(tmp_path, monkeypatch, capsys):
    data_dir, state = tmp_path / "store", tmp_path / "state"
    init_store(data_dir, ["derbyshire"])
    monkeypatch.setenv("CSP_STATE_DIR", str(state))
    assert cli.main(["import", "hate", str(HATE_RECORDS), "--data-dir", str(data_dir)]) == 0
    assert "public hate-crime figures" in capsys.readouterr().out
    version = str(Store(data_dir).datasets["hate"])
    assert [v for v, _ in hate_ledger.entries(state)] == [version]
    # The page's call (a fresh process has no cache) finds the version released: nothing appended.
    hate_release._CACHE.clear()
    hate_release.release(Store(data_dir), DEFAULT_SUPPRESS_BELOW, state_dir=state)
    assert [v for v, _ in hate_ledger.entries(state)] == [version]
