"""The national-scale benchmark's smoke run (seconds), so the script cannot rot: every way counts
the same rows the generator wrote, and the one-more-month import adds exactly that month."""
from __future__ import annotations

import importlib.util
import re

from conftest import REPO
from queries.store import Store

_spec = importlib.util.spec_from_file_location("benchmark_scale", REPO / "scripts" / "benchmark_scale.py")
benchmark_scale = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(benchmark_scale)


def test_the_smoke_run_imports_every_generated_row_and_reports_every_way(tmp_path):
    work, out = tmp_path / "work", tmp_path / "report.md"
    assert benchmark_scale.main(["--smoke", "--work", str(work), "--out", str(out)]) == 0
    report = out.read_text()
    history = sum(1 for p in (work / "history").rglob("*.csv") for _ in p.open()) - len(list((work / "history").rglob("*.csv")))
    new = sum(1 for p in (work / "new").rglob("*.csv") for _ in p.open()) - len(list((work / "new").rglob("*.csv")))
    rows = {m[1]: int(m[2].replace(",", "")) for m in re.finditer(r"^\| ([a-z ]+) \| ([\d,]+) \|", report, re.M)}
    assert rows == {"full import": history, "duckdb full": history, "one more month": new,
                    "duckdb one month": new, "pandas one month": new}
    for way in ("store (monthly table)", "pandas groupby over records", "duckdb over records Parquet"):
        assert f"| {way}" in report
    assert "| materialised, all at once:" in report  # all limits, beside the ways without the table
    assert re.search(r"^callbacks: every registered callback .* statuses \{'200': \d+\}\)", report, re.M)
    held = Store(work / "store").query("SELECT count(*) AS n FROM crime_records")["n"].iloc[0]
    assert held == history + new
    assert len(list((work / "history").iterdir())) == benchmark_scale.SMOKE["months"]
