"""The MARAC, hate crime and fire importers read in batches (issue 9, bounded memory): the result never
depends on the batch size, an over-long line is a rejected row, and CR-only line ends are rows."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from conftest import copy_store
from queries import store_writer
from queries.importers import csv_stream, record_spool
from queries.importers import fire as irs
from queries.importers import hate as hate_importer
from queries.importers import marac as marac_importer
from queries.importers.common import ImportError_

FIXTURES = Path(__file__).parent / "fixtures"
AVON = FIXTURES / "fire" / "avon-fire-irs-incidents-2014-07.csv"
AVON_AREAS = FIXTURES / "fire" / "avon-areas.csv"
WHOLE_FILE = 1_000_000  # rows per batch: every fixture in one batch
ONE_ROW = 1  # a batch per row: every check and duplicate crosses batch boundaries


def stored(version: Path) -> pd.DataFrame:
    """A version's records, in a fixed order, as plain values (dtypes aside)."""
    records = pd.read_parquet(version / "records.parquet")
    records = records.astype({c: "object" for c in records.columns})
    return records.sort_values(sorted(records.columns), ignore_index=True, key=lambda c: c.astype(str))


def outcome_of(result) -> tuple:
    """Everything an import publishes: records, reconciliation and quarantine (file, line, reason, raw)."""
    quarantine = pd.read_csv(result.quarantine_file) if result.quarantine_file else None
    return stored(result.version), result.reconciliation, quarantine


def assert_same(one: tuple, other: tuple) -> None:
    pd.testing.assert_frame_equal(one[0], other[0])
    pd.testing.assert_frame_equal(one[1], other[1])
    if one[2] is None:
        assert other[2] is None
    else:
        pd.testing.assert_frame_equal(one[2], other[2])


@pytest.mark.parametrize("importer, files", [
    (marac_importer, ["marac/referrals.csv", "marac/referrals-bad-rows.csv"]),
    (hate_importer, ["hate/records.csv", "hate/records-by-month.csv", "hate/records-bad-rows.csv"]),
])
def test_a_file_read_in_many_batches_imports_exactly_as_read_at_once(tmp_path, importer, files):
    paths = [FIXTURES / f for f in files]
    whole = importer.import_files(paths, copy_store(tmp_path / "a"), replace_smaller=True, rows_per_batch=WHOLE_FILE)[0]
    rows = importer.import_files(paths, copy_store(tmp_path / "b"), replace_smaller=True, rows_per_batch=ONE_ROW)[0]
    assert_same(outcome_of(whole), outcome_of(rows))
    quarantine = outcome_of(rows)[2]
    # A duplicate a batch (and here a file) later still names where the first was read.
    assert quarantine["reason"].str.contains(r"duplicate .*\(first at .* line \d+\)", regex=True).any()


def test_a_fire_export_read_in_many_batches_imports_exactly_as_read_at_once(tmp_path):
    lines = AVON.read_bytes().decode("cp1252").split("\r\n")
    damaged = tmp_path / "avon-damaged.csv"  # a duplicate of line 2 at line 40, far from it
    damaged.write_bytes("\r\n".join(lines[:39] + [lines[1]] + lines[39:]).encode("cp1252"))
    whole = irs.run_import([damaged], copy_store(tmp_path / "a"), AVON_AREAS, rows_per_batch=WHOLE_FILE)
    rows = irs.run_import([damaged], copy_store(tmp_path / "b"), AVON_AREAS, rows_per_batch=7)
    pd.testing.assert_frame_equal(stored(whole.result.version), stored(rows.result.version))
    pd.testing.assert_frame_equal(whole.reconciliation, rows.reconciliation)
    pd.testing.assert_frame_equal(whole.rejected, rows.rejected)
    assert rows.rejected.set_index("line").loc[40, "reason"].endswith("(first read at avon-damaged.csv line 2)")
    assert rows.rejected.set_index("line").loc[40, "raw"] == lines[1]


def test_a_quote_never_closed_after_many_batches_still_names_its_line(tmp_data_dir, tmp_path):
    body = "record_id,date,kind,strand,area_code\n" + "".join(
        f"S{i},2025-04-0{1 + i % 9},Incident,Race,E05015507\n" for i in range(20)) + 'S99,"2025-04-01,Incident,Race,E05015507\n'
    path = tmp_path / "cut-short.csv"
    path.write_text(body)
    before = (tmp_data_dir / "manifest.json").read_bytes()
    with pytest.raises(ImportError_, match=r"cut-short.csv line 22: .*never closed"):
        hate_importer.import_files([path], tmp_data_dir, rows_per_batch=3)
    assert (tmp_data_dir / "manifest.json").read_bytes() == before


def test_an_over_long_line_is_a_rejected_row_not_a_crash(tmp_data_dir, tmp_path):
    long_line = "S2,2025-04-02,Incident,Race," + "E" * (csv_stream.MAX_LINE_CHARS + 10)
    path = tmp_path / "long-line.csv"
    path.write_text("record_id,date,kind,strand,area_code\nS1,2025-04-01,Incident,Race,E05015507\n"
                    f"{long_line}\nS3,2025-04-03,Incident,Race,E05015507\n")
    result, _ = hate_importer.import_files([path], tmp_data_dir, replace_smaller=True)
    quarantine = pd.read_csv(result.quarantine_file)
    assert quarantine[["file", "line"]].values.tolist() == [[str(path), 3]]
    assert quarantine["reason"].iat[0] == "line longer than 65,536 characters (a row is a few hundred): not read"
    assert quarantine["raw"].iat[0].startswith("S2,2025-04-02") and f"({len(long_line) + 1:,} characters)" in quarantine["raw"].iat[0]
    totals = result.reconciliation[["rows_read", "loaded", "rejected"]].sum().tolist()
    assert totals == [3, 2, 1]


def test_a_file_that_is_one_huge_line_is_refused_naming_the_file(tmp_data_dir, tmp_path):
    path = tmp_path / "one-line.csv"
    path.write_text("referral_id,victim_id,referral_date,area_code,referring_agency\n" + "x" * 3_000_000)
    before = (tmp_data_dir / "manifest.json").read_bytes()
    with pytest.raises(ImportError_) as err:
        marac_importer.import_files([path], tmp_data_dir)
    assert f"{path}: none of its 1 row(s) could be imported" in str(err.value)
    assert "line 2: line longer than 65,536 characters" in str(err.value)
    assert (tmp_data_dir / "manifest.json").read_bytes() == before


def test_cr_only_line_ends_are_rows(tmp_path):
    text = (FIXTURES / "hate" / "records.csv").read_text()
    lf = tmp_path / "lf.csv"
    cr = tmp_path / "cr.csv"
    lf.write_text(text)
    cr.write_bytes(text.replace("\r\n", "\n").replace("\n", "\r").encode())
    with_lf = hate_importer.import_files([lf], copy_store(tmp_path / "a"))[0]
    with_cr = hate_importer.import_files([cr], copy_store(tmp_path / "b"))[0]
    pd.testing.assert_frame_equal(stored(with_lf.version), stored(with_cr.version))
    assert with_cr.reconciliation["rows_read"].sum() == 10


def test_a_quoted_line_break_keeps_the_next_rows_line_number(tmp_data_dir, tmp_path):
    path = tmp_path / "multi-line.csv"
    path.write_text('record_id,date,kind,strand,area_code,notes\nM1,2025-04-01,Incident,Race,E05015507,"two\nlines"\n'
                    "M2,2025-04-02,Incident,Football,E05015507,\nM3,2025-04-03,Incident,Race,E05015507,\n")
    result, _ = hate_importer.import_files([path], tmp_data_dir, rows_per_batch=1)
    quarantine = pd.read_csv(result.quarantine_file)
    assert quarantine[["line", "raw"]].values.tolist() == [[4, "M2,2025-04-02,Incident,Football,E05015507,"]]


def test_stored_pseudonyms_are_the_documented_hash(tmp_data_dir):
    result, _ = marac_importer.import_files([FIXTURES / "marac" / "referrals.csv"], tmp_data_dir)
    victims = set(pd.read_parquet(result.version / "records.parquet")["victim_id"])
    raw = pd.read_csv(FIXTURES / "marac" / "referrals.csv")["victim_id"]
    assert victims == {marac_importer.pseudonym(v) for v in raw}


def test_the_decoding_pass_names_the_line_of_a_bad_byte_past_its_first_block(tmp_data_dir, tmp_path):
    path = tmp_path / "late-bad-byte.csv"
    row = b"R%07d,V1,2025-01-01,E05015507,Police\n"
    rows = b"".join(row % i for i in range(csv_stream.DECODE_BLOCK // 30))
    path.write_bytes(b"referral_id,victim_id,referral_date,area_code,referring_agency\n" + rows + b"R9,V\xff,2025-01-01,E05015507,Police\n")
    bad_line = rows.count(b"\n") + 2
    with pytest.raises(ImportError_, match=rf"late-bad-byte.csv line {bad_line}: not utf-8 \(byte ff"):
        marac_importer.import_files([path], tmp_data_dir)


# --------------------------------------------------------------------------- the spool (record_spool)


@pytest.mark.parametrize("importer, files", [
    (marac_importer, ["marac/referrals.csv", "marac/referrals-bad-rows.csv"]),
    (hate_importer, ["hate/records.csv", "hate/records-by-month.csv", "hate/records-bad-rows.csv"]),
])
def test_records_spooled_one_part_per_record_import_exactly_as_spooled_at_once(tmp_path, monkeypatch, importer, files):
    paths = [FIXTURES / f for f in files]
    whole = importer.import_files(paths, copy_store(tmp_path / "a"), replace_smaller=True, rows_per_batch=WHOLE_FILE)[0]
    # Every record its own spooled part: duplicates, held ids and each month's file cross parts.
    monkeypatch.setattr(record_spool, "SPOOL_ROWS_PER_PART", 1)
    parts = importer.import_files(paths, copy_store(tmp_path / "b"), replace_smaller=True, rows_per_batch=ONE_ROW)[0]
    assert_same(outcome_of(whole), outcome_of(parts))


def test_a_fire_export_spooled_one_part_per_record_imports_exactly_as_spooled_at_once(tmp_path, monkeypatch):
    whole = irs.run_import([AVON], copy_store(tmp_path / "a"), AVON_AREAS, rows_per_batch=WHOLE_FILE)
    monkeypatch.setattr(record_spool, "SPOOL_ROWS_PER_PART", 1)
    parts = irs.run_import([AVON], copy_store(tmp_path / "b"), AVON_AREAS, rows_per_batch=7)
    pd.testing.assert_frame_equal(stored(whole.result.version), stored(parts.result.version))
    pd.testing.assert_frame_equal(whole.reconciliation, parts.reconciliation)
    pd.testing.assert_frame_equal(whole.rejected, parts.rejected)


def test_each_imported_month_is_one_file_of_its_records_in_file_order(tmp_data_dir, monkeypatch):
    monkeypatch.setattr(record_spool, "SPOOL_ROWS_PER_PART", 2)
    result, _ = hate_importer.import_files([FIXTURES / "hate" / "records-by-month.csv"], tmp_data_dir,
                                           replace_smaller=True, rows_per_batch=1)
    partitions = store_writer.month_partitions(result.version / "records.parquet")
    imported = {store_writer.partition_key(f, m) for f, m in result.pairs}
    assert imported and imported <= set(partitions)
    for key in imported:
        files = list(partitions[key].glob("*.parquet"))
        assert len(files) == 1, key
        ids = pd.read_parquet(files[0])["record_id"].tolist()
        source = pd.read_csv(FIXTURES / "hate" / "records-by-month.csv", dtype=str)["record_id"].tolist()
        assert ids == sorted(ids, key=source.index)


def test_no_spool_is_left_after_an_import_that_succeeds_or_fails(tmp_data_dir, tmp_path):
    marac_importer.import_files([FIXTURES / "marac" / "referrals.csv"], tmp_data_dir)
    cut = tmp_path / "cut.csv"
    cut.write_text((FIXTURES / "marac" / "referrals.csv").read_text() + 'R999,"V1,2025-01-01,E05015507,Police\n')
    with pytest.raises(ImportError_, match="never closed"):
        marac_importer.import_files([FIXTURES / "marac" / "referrals.csv", cut], tmp_data_dir, rows_per_batch=2)
    irs.run_import([AVON], tmp_data_dir, AVON_AREAS)
    assert not list(tmp_data_dir.glob(f"*/{store_writer.SPOOL_PREFIX}*"))


def test_a_killed_record_imports_spool_is_removed_by_the_next_import(tmp_data_dir):
    stale = tmp_data_dir / "hate" / f"{store_writer.SPOOL_PREFIX}deadbeef0000"
    (stale / record_spool.RAW / "ym=2025-01").mkdir(parents=True)
    (stale / record_spool.RAW / "ym=2025-01" / "part-000000.parquet").write_bytes(b"half")
    hate_importer.import_files([FIXTURES / "hate" / "records.csv"], tmp_data_dir)
    assert not stale.exists()



def test_rejected_rows_wait_on_disk_with_only_their_counts_and_first_rows_in_memory(tmp_path):
    rows = record_spool.RejectedRows(tmp_path, tmp_path, "file", kept=2)
    march, april = pd.Timestamp("2025-03-01").date(), pd.Timestamp("2025-04-01").date()
    batches = [pd.DataFrame({"file": ["a.csv"] * 3, "line": [9, 4, 7], "reason": ["x", "y", "z"],
                             "raw": ["r9", "r4", "r7"], "month": [march, None, april]}),
               pd.DataFrame({"file": ["a.csv", "b.csv"], "line": [2, 5], "reason": ["w", "v"], "raw": ["r2", "r5"],
                             "month": [march, march]})]
    for batch in batches:
        rows.add(batch)
    assert rows.counts == {("a.csv", march): 2, ("a.csv", None): 1, ("a.csv", april): 1, ("b.csv", march): 1}
    assert rows.total("a.csv") == 4 and rows.total("b.csv") == 1
    assert rows.first["a.csv"]["line"].tolist() == [2, 4]  # the lowest lines, whatever batch they came in
    back = rows.rows("a.csv")
    assert back["line"].tolist() == [9, 4, 7, 2] and back["raw"].tolist() == ["r9", "r4", "r7", "r2"]
    assert [None if pd.isna(m) else m for m in back["month"]] == [march, None, april, march]
