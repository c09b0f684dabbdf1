"""Every artefact of a published release obeys the publication's own rules: no point
estimate or interval where the publication rule gives a range or no estimate, no figure of
the comparison method, no precision beyond the declared one (shares one decimal,
estimates multiples of ``estimate.rounding``). Read back from the session's one small
release (tests/conftest.py: HTML with tables and alt texts, PDFs via pdftotext, annexes via
openpyxl, open data CSV and JSON-stat, the Swedish and the comparison pages); what is
withheld is taken from the internal tables, independently of the gate
(tests/artefact_scan.py).

The same scan of the same release built at commit 22c0e24 (before the rule was a gate
step): 177 withheld values searched in 213 files; found 4 730 times (163 in 36 HTML pages and
PDFs, 237 annex cells in "Arviot koko maa" and "Ikäryhmät", 3 923 open-data cells, 407 on the
county comparison pages and in the Swedish summary) and 8 153 figures beyond the declared
precision (522 in texts and sort keys, 7 631 in the open data).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from artefact_scan import internal_rows, scan_release, withheld

from seuranta.core import reference
from seuranta.publication import annex, chapters, compare, landing, rule
from seuranta.publication import bookfmt as bf

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("release")]


def test_the_demo_release_exercises_every_outcome_of_the_rule(release):
    """The artefact test below means something only if the release has national and
    county estimates published as a point, as a range and not at all."""
    method, _ = rule.settings(release["params"])
    est = internal_rows(release["out"], "estimates")
    kinds = set(est.loc[est["method"] == method, "publish_as"])
    assert kinds == {"point", "range", "none"}, kinds
    ce = internal_rows(release["out"], "county_estimates")
    assert set(ce["publish_as"]) == {"point", "range", "none"}


def test_no_withheld_estimate_and_no_excess_precision_in_any_artefact(release):
    method, step = rule.settings(release["params"])
    out = release["out"]
    w = withheld(out, method, step)
    rep = scan_release(out, method, step)
    print(f"\nwithheld rows {len(w.rows)}; withheld values searched {rep.searched} in "
          f"{rep.files} files; found {len(rep.found)}; precision breaches "
          f"{len(rep.precision)}")
    assert rep.searched >= 50 and rep.files >= 100
    assert rep.found == [], rep.found[:20]
    assert rep.precision == [], rep.precision[:20]


def _copy_published(out: Path, target: Path) -> Path:
    """A release folder with the published tables only: each quarter's tables/ is empty."""
    for q in sorted(p.name for p in out.glob("20[0-9][0-9]Q[1-4]")):
        shutil.copytree(out / q / "published", target / q / "published")
        (target / q / "tables").mkdir()
    return target


def test_every_writer_runs_from_the_published_tables_alone(release, tmp_path):
    """With the exact tables gone, every chapter, the annex, the comparison pages, the
    landing page and the Swedish summary give exactly what they gave in the release: they
    read nothing but the gate's published tables."""
    params = release["params"]
    out = release["out"]
    bare = _copy_published(out, tmp_path / "bare")
    q = max(release["quarters"])
    for root in (out, bare):
        assert (root / q / "published" / "municipal.csv").is_file()
    tasks = reference.task_codes() + ["lastensuojelulaki"]

    def chapters_of(root):
        td = root / q / "tables"
        res = [chapters.summary_chapter(td, q, params), chapters.multi_chapter(td, q, synthetic=True),
               chapters.data_chapter(td, q)]
        res += [chapters.task_chapter(td, q, t, params, synthetic=True) for t in tasks]
        got = [(c.facts, c.tables, {k: v[1] for k, v in c.figures.items()}) for c in res]
        plt = bf.setup_matplotlib()
        for c in res:
            for fig, _ in c.figures.values():
                plt.close(fig)
        return got

    assert chapters_of(bare) == chapters_of(out)
    a = annex.write_annexes(q, bare / q / "tables", tmp_path / "annex", True, params)[0]
    assert a.is_file()
    for root in (out, bare):
        pdir = root / q / "published"
        cf, nf = compare.county_frame(pdir, q), compare.national_frame(pdir, q)
        assert compare.county_table_md(cf, nf, "08")
    assert landing.swedish_md({q: bare / q / "published"}, True) == \
        landing.swedish_md({q: out / q / "published"}, True)


def test_a_writer_reading_the_exact_tables_is_caught(release, tmp_path, monkeypatch):
    """The safeguard catches the fault: a chapter made to read an exact table fails on the
    release without tables/."""
    bare = _copy_published(release["out"], tmp_path / "bare")
    q = max(release["quarters"])
    orig = chapters.published_tables

    def sneaky(tables_dir):
        pub = dict(orig(tables_dir))
        pub["municipal"] = bf.pd.read_csv(Path(tables_dir) / "counts.csv")   # exact table
        return pub
    monkeypatch.setattr(chapters, "published_tables", sneaky)
    with pytest.raises(FileNotFoundError):
        chapters.data_chapter(bare / q / "tables", q)
