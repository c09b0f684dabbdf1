"""The extract-wide tables (issue 24): the row ledger, the rejected rows and the flags are
the whole extract's, written once into ``OUT/register/`` (never into a quarter's folder);
the gate publishes the ledger there once, and the book's data chapter shows it from that
published table."""

from __future__ import annotations

import pandas as pd

from seuranta import pipeline
from seuranta.core.params import load_params
from seuranta.publication import book, gate, published

PARAMS = load_params()


def _ledger() -> pd.DataFrame:
    return pd.DataFrame({
        "item": ["file", "read", "accepted", "rejected", "rejected", "flagged", "converted"],
        "reason": ["register/a.csv", "", "", "bad_client_id", "unknown_municipality",
                   "age_unusual_for_task", "register/a.csv: start_date"],
        "rows": [1000, 1000, 990, 7, 3, 4, 12]})


def _extract_tables() -> dict[str, pd.DataFrame]:
    return {"ledger": _ledger(),
            "rejected": pd.DataFrame({"source_file": ["register/a.csv"], "row_number": [5],
                                      "reason": ["bad_client_id"], "client_id": ["secret-id"]}),
            "flags": pd.DataFrame({"municipality_code": ["091"], "county_code": ["90"],
                                   "service_task": ["iakkaat"], "flag": ["age_unusual_for_task"],
                                   "rows": [4]})}


def test_the_extract_folder_holds_the_exact_tables_and_publishes_the_ledger_only(tmp_path):
    """``OUT/register``: the exact tables (internal) and the gate's ledger, whose rows are
    read / accepted / rejected / flagged only (the per-file rows and conversions are
    internal); no client id and no other table reaches ``published/``."""
    out = tmp_path / "out"
    folder = pipeline.write_extract(_extract_tables(), out, PARAMS)
    assert folder == out / "register"
    assert sorted(p.name for p in (folder / "tables").iterdir()) == [
        "flags.csv", "ledger.csv", "rejected.csv"]
    assert sorted(p.name for p in (folder / "published").iterdir()) == ["ledger.csv"]
    pub = published.read(published.extract_published_dir(out), "ledger").fillna("")
    assert pub.to_dict("list") == {
        "item": ["read", "accepted", "rejected", "rejected", "flagged"],
        "reason": ["", "", "bad_client_id", "unknown_municipality", "age_unusual_for_task"],
        "rows": [1000, 990, 7, 3, 4]}
    text = "".join(p.read_text(encoding="utf-8") for p in (folder / "published").iterdir())
    assert "secret-id" not in text and "register/a.csv" not in text
    assert not list(out.glob(".tmp-*"))


def test_the_data_chapter_shows_the_published_ledger_once(tmp_path):
    """The written data chapter's numbers (substitutions of book/aineisto.md) are the
    published ledger's, computed by hand: 1 000 read, 990 accepted, 10 rejected (1,0 %),
    rejected rows by reason and flagged rows in tables A2–A4."""
    out = tmp_path / "out"
    gate.publish_extract(_write(tmp_path / "tables"), published.extract_published_dir(out),
                         PARAMS)
    subs = book.row_ledger(out)
    assert (subs["rows_read"], subs["rows_accepted"], subs["rows_rejected"]) == (
        "1\u00a0000", "990", "10")
    assert subs["rows_rejected_share"].replace("\u00a0", " ") == "1,0 %"
    md = subs["row_ledger"]
    assert [line.replace("\\", "") for line in md.splitlines()
            if line.startswith(":::{table}")] == [
        ":::{table} Taulukko A2. Rivien kirjanpito",
        ":::{table} Taulukko A3. Hylätyt rivit syyn mukaan",
        ":::{table} Taulukko A4. Hyväksytyt mutta merkityt rivit"]
    assert "| 7 |" in md and "| 3 |" in md and "| 4 |" in md
    # without a published ledger the chapter says nothing it cannot show
    assert book.row_ledger(tmp_path / "empty")["row_ledger"] == ""


def _write(tables_dir):
    tables_dir.mkdir(parents=True)
    _ledger().to_csv(tables_dir / "ledger.csv", index=False)
    return tables_dir


def test_a_release_s_quarters_are_its_quarter_folders_only(tmp_path):
    """A kept release holds ``register/published/ledger.csv`` beside its quarters: the
    comparison of two releases (revisions) reads the quarters only."""
    from seuranta.publication import revisions
    for sub in ("2023Q3", "2023Q4", "register"):
        (tmp_path / sub / "published").mkdir(parents=True)
    assert revisions.release_quarters(tmp_path) == ["2023Q3", "2023Q4"]
