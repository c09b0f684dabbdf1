"""A run with a non-default parameters file: every output follows that file.

One quarter of a small demo is run with ``min_count: 8``, ``symbol: "§"`` and
``low_ratio: 0.9`` (defaults 5, ".." and 0.6). The quality table, the executed notebooks
(the book's text) and the published tables they narrate, the Excel annex and the methods chapter's
substitutions must all use these values: before the parameters object, the notebooks
re-read the project's default file, so the book suppressed with 5 while the annex used 8.
"""

from __future__ import annotations

import json

import openpyxl
import pandas as pd
import pytest
import yaml

from seuranta import pipeline
from seuranta.core import symbols
from seuranta.core.params import DEFAULT_PARAMS, load_params
from seuranta.demo import generator as demo
from seuranta.publication import book

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("params_flow")]  # one fixture build

QUARTER = "2023Q4"
MIN_COUNT, LOW_RATIO = 8, 0.9


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("paramsflow")
    data, out = root / "data", root / "build"
    demo.generate(data, scale=0.02, seed=11)
    raw = yaml.safe_load(DEFAULT_PARAMS.read_text(encoding="utf-8"))
    raw["disclosure"].update(min_count=MIN_COUNT)
    raw["quality"]["low_ratio"] = LOW_RATIO
    f = root / "other.yml"
    f.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    params = load_params(f)
    qdir = pipeline.run_quarter(QUARTER, data, out, params)
    return {"out": out, "qdir": qdir, "params": params, "file": f}


def test_quality_table_applies_the_files_low_ratio(run):
    q = pd.read_csv(run["qdir"] / "tables" / "quality.csv", dtype=str, keep_default_na=False)
    low = q[q["reasons"].str.contains("share_low_comparable")]
    ratio = low["share_pct"].astype(float) / low["comparison_median_pct"].astype(float)
    assert (ratio < LOW_RATIO).all()
    # at least one municipality flagged only because of the file's (larger) threshold
    assert (ratio >= 0.6).any(), ratio.describe()


def test_book_text_uses_the_files_disclosure(run):
    """The notebooks are given the run's file (by name), and the published tables they narrate (the
    gate's) suppress with its threshold: no shown count 1 … MIN_COUNT − 1, some 5 … 7 hidden."""
    nbs = sorted((run["qdir"] / "notebooks").glob("*.ipynb"))
    assert nbs
    for nb in nbs:
        src = json.loads(nb.read_text(encoding="utf-8"))
        injected = "".join("".join(c["source"]) for c in src["cells"]
                           if "injected-parameters" in c["metadata"].get("tags", []))
        # by name: a published notebook holds no path of the machine (issue 23)
        assert f'params_file = "{run["file"].name}"' in injected, nb.name
        assert str(run["file"].resolve().parent) not in injected, nb.name
    m = pd.read_csv(run["qdir"] / "published" / "municipal.csv", dtype=str,
                    keep_default_na=False)
    exact = pd.read_csv(run["qdir"] / "tables" / "counts.csv", dtype=str, keep_default_na=False)
    shown = pd.to_numeric(m.loc[m["clients_symbol"] == "", "clients"])
    assert not ((shown > 0) & (shown < MIN_COUNT)).any()
    key = ["quarter", "municipality_code", "service_task"]
    both = m.merge(exact[exact["source"] == "ALL"][key + ["clients"]], on=key,
                   suffixes=("", "_exact"))
    n = pd.to_numeric(both["clients_exact"])
    assert ((n >= 5) & (n < MIN_COUNT) & (both["clients_symbol"] != "")).any()


def test_annex_uses_the_files_disclosure(run):
    (xlsx,) = (run["qdir"] / "annex").glob("*.xlsx")
    wb = openpyxl.load_workbook(xlsx)
    notes = [" ".join(str(v) for v in row if v is not None)
             for row in wb["Tietoja"].iter_rows(values_only=True)]
    assert any(f"1–{MIN_COUNT - 1}" in r for r in notes)
    assert not any("1–4" in r for r in notes)


def test_methods_page_and_county_pages_use_the_file(run, undrawn_charts, monkeypatch):
    # the pages' substitutions: no chart is read (conftest's undrawn_charts), nor any
    # county's comparison page (vertailu/, portal._county_page): each staged as its title
    # line only (issue 24: six of the staging's seven CPU-s; the staged _config.yml and
    # _toc.yml are byte for byte those of a staging with the pages made)
    from seuranta.publication import portal

    monkeypatch.setattr(portal, "_county_page",
                        lambda pdirs, quarter, code, name, *args, **kwargs: f"# {name}\n")
    stage = book.stage_book(run["out"], [QUARTER], True, run["params"], pdf=False)
    cfg = yaml.safe_load((stage / "_config.yml").read_text(encoding="utf-8"))
    subs = cfg["parse"]["myst_substitutions"]
    assert subs["min_count"] == str(MIN_COUNT) and subs["symbol"] == symbols.SUPPRESSED
    assert subs["low_ratio"] == "0,9"
