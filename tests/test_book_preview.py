"""A quarter's preview (issue 24: chapter edit → that quarter's HTML ≤ 20 s): only what the
quarter's pages need is staged (no county or comparison page, no open data), and the
staging and Sphinx's folder are kept between previews, so an edit is built incrementally;
the incremental HTML must equal a fresh preview of the same sources, file for file."""

from __future__ import annotations

import filecmp
import json
import os
import shutil
from pathlib import Path

import nbformat
import pytest

from seuranta import pipeline
from seuranta.publication import book

SENTENCE = "Tämä virke lisättiin esikatselun testissä."
TITLE = "Esikatselun testin otsikko"


def _files(folder: Path) -> dict[str, Path]:
    return {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*"))
            if p.is_file()}


def _same_tree(a: Path, b: Path) -> list[str]:
    """The relative paths whose bytes differ or that only one of the folders has."""
    fa, fb = _files(a), _files(b)
    return sorted({*fa} ^ {*fb}) + [r for r in sorted({*fa} & {*fb})
                                    if not filecmp.cmp(fa[r], fb[r], shallow=False)]


def _edit_markdown(nb_path: Path, old: str, new: str) -> None:
    """The executed notebook with ``old`` replaced by ``new`` in its first Markdown cell
    that has it (as a template edit and a notebook run would leave it)."""
    nb = nbformat.read(nb_path, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "markdown" and old in c.source)
    cell.source = cell.source.replace(old, new, 1)
    nbformat.write(nb, nb_path)


def _preview(out: Path, q: str, params) -> Path:
    return pipeline.build_book_only(out, params, quarter=q, pdf=False)


@pytest.mark.slow
@pytest.mark.xdist_group("release")
def test_an_incremental_preview_equals_a_fresh_one(release, tmp_path):
    """One quarter's run copied from the test release; its preview built, then (1) a
    sentence added to the summary's notebook: the preview is built again, and only the
    edited page and the pages that list it are written again; (2) the summary's title
    changed (every page's navigation names it): every page is written again and the HTML
    equals a fresh preview of the same OUT, file for file; (3) a notebook removed: its
    page is gone from the HTML, as from a fresh build's."""
    q = release["quarters"][-1]
    params = release["params"]
    out = tmp_path / "out"
    shutil.copytree(release["out"] / q, out / q)
    html = _preview(out, q, params)
    staged = _files(html.parent.parent)
    # what the quarter's pages need, nothing of the whole publication's
    assert f"{q}/yhteenveto.ipynb" in staged and "book/menetelmat.md" in staged
    assert not any(r.startswith(("alueet/", "vertailu/", "_extra/", "kustannukset/"))
                   for r in staged)
    assert not (out / "preview" / q / "avoindata").exists()
    pages = {r: p.stat().st_mtime_ns for r, p in _files(html).items() if r.endswith(".html")}

    nb = out / q / "notebooks" / "yhteenveto.ipynb"
    cells = [c.source for c in nbformat.read(nb, as_version=4).cells if c.cell_type == "markdown"]
    title = next(s for s in cells if s.startswith("# "))
    paragraph = next(s for s in cells if not s.startswith("#") and "{glue" in s)
    _edit_markdown(nb, paragraph, f"{paragraph} {SENTENCE}")
    html = _preview(out, q, params)
    assert SENTENCE in (html / q / "yhteenveto.html").read_text(encoding="utf-8")
    rewritten = {r for r, p in _files(html).items()
                 if r in pages and p.stat().st_mtime_ns != pages[r]}
    assert f"{q}/yhteenveto.html" in rewritten
    kept = [r for r in pages if r.startswith(f"{q}/tehtava_")]
    assert kept and not rewritten & set(kept), sorted(rewritten)   # not read, not written

    _edit_markdown(nb, title, f"# {TITLE}")
    html = _preview(out, q, params)
    fresh_out = tmp_path / "fresh"
    shutil.copytree(out / q, fresh_out / q)
    fresh = _preview(fresh_out, q, params)
    assert TITLE in (html / q / kept[0].split("/")[-1]).read_text(encoding="utf-8")
    assert _same_tree(html, fresh) == []

    (out / q / "notebooks" / "monipalvelu.ipynb").unlink()
    html = _preview(out, q, params)
    assert not (html / q / "monipalvelu.html").exists()
    assert "monipalvelu" not in (html / q / "index.html").read_text(encoding="utf-8")
    listed = json.loads((html.parent / book.PREVIEW_FILES).read_text(encoding="utf-8"))
    assert f"{q}/monipalvelu.ipynb" not in listed


def test_sync_tree_writes_only_what_changed(tmp_path):
    """The preview's staging: a file of the same bytes keeps its modification time (Sphinx
    does not read it again), a changed one is written, one gone is removed, and the
    folder named in ``keep`` is left alone."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    for root in (src, dst):
        (root / "a").mkdir(parents=True)
        (root / "a" / "same.md").write_text("sama", encoding="utf-8")
    (src / "a" / "new.md").write_text("uusi", encoding="utf-8")
    (dst / "a" / "new.md").write_text("vanha", encoding="utf-8")
    (dst / "old").mkdir()
    (dst / "old" / "gone.md").write_text("pois", encoding="utf-8")
    (dst / "_build").mkdir()
    (dst / "_build" / "env.pickle").write_bytes(b"x")
    old_ns = 1_000_000_000
    for f in _files(dst).values():
        os.utime(f, ns=(old_ns, old_ns))
    changed = book.sync_tree(src, dst, keep=("_build",))
    assert sorted(changed) == ["a/new.md", "old/gone.md"]
    assert (dst / "a" / "same.md").stat().st_mtime_ns == old_ns
    assert (dst / "a" / "new.md").read_text(encoding="utf-8") == "uusi"
    assert (dst / "a" / "new.md").stat().st_mtime_ns > old_ns
    assert not (dst / "old").exists()
    assert (dst / "_build" / "env.pickle").read_bytes() == b"x"
