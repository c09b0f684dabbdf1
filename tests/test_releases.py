"""Releases: kept unchanged under OUT/releases/<id>/ with a manifest of hashes."""

import datetime as dt
import json

import pytest

from seuranta.core.errors import InputError
from seuranta.core.provenance import file_sha256
from seuranta.publication import gate, releases


def _out(tmp_path, value="1"):
    for q in ("2023Q1", "2023Q2"):
        p = tmp_path / q / "published"
        p.mkdir(parents=True, exist_ok=True)
        (p / "municipal.csv").write_text(f"quarter,clients\n{q},{value}\n", encoding="utf-8")
        (tmp_path / q / "annex").mkdir(exist_ok=True)
        (tmp_path / q / "annex" / f"liite_{q}.xlsx").write_bytes(b"xlsx " + q.encode())
    return tmp_path


def test_release_id():
    assert releases.release_id("2023Q4", dt.date(2024, 2, 15)) == "2023Q4-20240215"
    assert releases.release_id("2023Q4", dt.date(2024, 2, 15),
                               {"publication": {"release_id": "r2"}}) == "r2"
    with pytest.raises(InputError, match="release_id"):
        releases.release_id("2023Q4", dt.date(2024, 2, 15),
                            {"publication": {"release_id": "../x"}})


def test_release_is_kept_and_immutable(tmp_path):
    out = _out(tmp_path)
    rel = releases.write_release(out, ["2023Q1", "2023Q2"], "2023Q2-20230801")
    man = json.loads((rel / "manifest.json").read_text(encoding="utf-8"))
    assert man["quarters"] == ["2023Q1", "2023Q2"]
    assert set(man["files"]) == {"2023Q1/published/municipal.csv", "2023Q1/annex/liite_2023Q1.xlsx",
                                 "2023Q2/published/municipal.csv", "2023Q2/annex/liite_2023Q2.xlsx"}
    for rel_path, h in man["files"].items():
        assert file_sha256(rel / rel_path) == h
    # the same published tables again (a workbook's time stamp may differ): nothing to do
    (out / "2023Q1" / "annex" / "liite_2023Q1.xlsx").write_bytes(b"xlsx again")
    assert releases.write_release(out, ["2023Q1", "2023Q2"], "2023Q2-20230801") == rel
    assert (rel / "2023Q1/annex/liite_2023Q1.xlsx").read_bytes() == b"xlsx 2023Q1"
    # changed content under the same id: refused, the kept release untouched
    _out(tmp_path, value="2")
    with pytest.raises(InputError, match="immutable"):
        releases.write_release(out, ["2023Q1", "2023Q2"], "2023Q2-20230801")
    assert "2023Q1,1" in (rel / "2023Q1/published/municipal.csv").read_text(encoding="utf-8")
    # the kept release is a prior publication of every later run, not of a re-run of itself
    dirs = gate.prior_dirs(out, "2023Q1")
    assert rel / "2023Q1" / "published" in dirs and out / "2023Q2" / "published" in dirs
    assert out / "2023Q1" / "published" not in dirs
    assert rel / "2023Q1" / "published" not in gate.prior_dirs(out, "2023Q1", rel.name)
