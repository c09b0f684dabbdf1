"""The PDFs' cache (issue 24): a working paper whose sources are those of a PDF made before
is copied from ``OUT/.cache/pdf``, not compiled again. Its key is the document's .tex, the
support files of the LaTeX folder, the pictures its .tex names, the tools' versions and
the environment; real latexmk (xelatex) on two small documents."""

from __future__ import annotations

import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from seuranta.publication import book  # noqa: E402

TEX = r"""\documentclass{article}
\usepackage{graphicx}
\begin{document}
%s
\end{document}
"""


def _picture(path: Path, colour: str) -> None:
    fig, ax = plt.subplots(figsize=(1, 1), dpi=20)
    ax.set_facecolor(colour)
    fig.savefig(path, format="png", metadata={"Software": None})
    plt.close(fig)


def _latex_folder(root: Path) -> Path:
    """What Sphinx's LaTeX builder leaves: two documents (the first shows a picture),
    pictures, a support file and its pickles."""
    root.mkdir(parents=True)
    (root / "seuranta-a.tex").write_text(TEX % r"Kuva: \includegraphics{{kuva-a}.png}",
                                         encoding="utf-8")
    (root / "seuranta-b.tex").write_text(TEX % "Ei kuvaa.", encoding="utf-8")
    _picture(root / "kuva-a.png", "red")
    _picture(root / "kuva-muu.png", "blue")
    (root / "tuki.sty").write_text("% support file\n", encoding="utf-8")
    # Sphinx's pickles, which hold the path of the (temporary) folder: not a source
    (root / ".doctrees").mkdir()
    (root / ".doctrees" / "environment.pickle").write_text(str(root), encoding="utf-8")
    return root


@pytest.fixture
def pdf_env(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    monkeypatch.setenv("FORCE_SOURCE_DATE", "1")


@pytest.mark.skipif(shutil.which("latexmk") is None, reason="needs latexmk and xelatex")
@pytest.mark.usefixtures("pdf_env")
def test_a_pdf_is_compiled_once_per_content_of_its_sources(tmp_path):
    cache = tmp_path / "cache"
    names = ["seuranta-a", "seuranta-b"]
    first = _latex_folder(tmp_path / "first")
    assert book.cached_latexmk(first, names, cache) == names
    made = {n: (first / f"{n}.pdf").read_bytes() for n in names}
    assert len(list(cache.glob("*.pdf"))) == 2

    # the same sources in a new folder (the next publish): both copied, none compiled
    again = _latex_folder(tmp_path / "again")
    assert book.cached_latexmk(again, names, cache) == []
    assert {n: (again / f"{n}.pdf").read_bytes() for n in names} == made

    # a picture the first document names changed: that document only
    third = _latex_folder(tmp_path / "third")
    _picture(third / "kuva-a.png", "green")
    assert book.cached_latexmk(third, names, cache) == ["seuranta-a"]
    assert (third / "seuranta-b.pdf").read_bytes() == made["seuranta-b"]
    # the cache keeps the PDFs of the latest build only
    assert len(list(cache.glob("*.pdf"))) == 2
    # without reuse (publish --no-cache) every PDF is compiled
    assert book.cached_latexmk(third, ["seuranta-b"], cache, reuse=False) == ["seuranta-b"]


@pytest.mark.usefixtures("pdf_env")
def test_what_the_key_of_a_pdf_holds(tmp_path, monkeypatch):
    """Without compiling: the key changes with the document's .tex, a support file, a
    picture it names, a tool's version and the environment; not with another document's
    .tex or a picture it does not name."""
    folder = _latex_folder(tmp_path / "l")
    tools = {"xelatex": "XeTeX 3.141592653-2.6-0.999994", "latexmk": "Latexmk 4.79"}

    def key():
        return book.pdf_key(folder, "seuranta-a", tools)
    base = key()
    (folder / "seuranta-b.tex").write_text(TEX % "Toinen teksti.", encoding="utf-8")
    _picture(folder / "kuva-muu.png", "black")
    assert key() == base
    (folder / "tuki.sty").write_text("% changed\n", encoding="utf-8")
    assert key() != base
    base = key()
    _picture(folder / "kuva-a.png", "black")
    assert key() != base
    base = key()
    (folder / "seuranta-a.tex").write_text(TEX % "Muutettu.", encoding="utf-8")
    assert key() != base
    base = key()
    tools["xelatex"] = "XeTeX 3.141592653-2.6-0.999995"
    assert key() != base
    base = key()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000001")
    assert key() != base


# --------------------------------------------------------------------------- issue 24 (s8n)

def test_a_paper_keeps_the_date_of_the_release_that_first_published_its_tables(tmp_path,
                                                                               monkeypatch):
    """``book.paper_dates``: a quarter whose published tables are byte for byte those of a
    kept release is dated by the oldest such release; a quarter new in this publication, or
    whose tables changed, by this publication's date. The date reaches the PDF's key
    (``SOURCE_DATE_EPOCH`` of the document in a reproducible build) and its title page."""
    import datetime as dt
    import json

    from seuranta.core.params import as_params, load_params
    from seuranta.core.provenance import file_sha256

    out = tmp_path / "out"
    for q, text in (("2023Q1", "a\n1\n"), ("2023Q2", "a\n2\n"), ("2023Q3", "a\n3\n")):
        (out / q / "published").mkdir(parents=True)
        (out / q / "published" / "municipal.csv").write_text(text, encoding="utf-8")

    def keep(rid, day, quarters, changed=()):
        r = out / "releases" / rid
        files = {}
        for q in quarters:
            f = out / q / "published" / "municipal.csv"
            files[f"{q}/published/municipal.csv"] = ("0" * 64 if q in changed
                                                     else file_sha256(f))
        r.mkdir(parents=True)
        (r / "manifest.json").write_text(json.dumps({"release_id": rid, "files": files,
                                                     "publication_date": day}))
    keep("r1", "2023-11-15", ["2023Q1", "2023Q2"], changed=["2023Q2"])
    keep("r2", "2024-02-15", ["2023Q1", "2023Q2"])
    p = load_params()
    params = as_params({**p, "publication": {**p["publication"], "date": "2024-05-15"}})
    dates = book.paper_dates(out, ["2023Q1", "2023Q2", "2023Q3"], params)
    assert dates == {"2023Q1": dt.date(2023, 11, 15),   # unchanged since r1
                     "2023Q2": dt.date(2024, 2, 15),    # changed in r2, the same since
                     "2023Q3": dt.date(2024, 5, 15)}    # new now
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    folder = _latex_folder(tmp_path / "latex")
    tools = {"xelatex": "x"}
    assert book.pdf_key(folder, "seuranta-a", tools, dates["2023Q1"]) == \
        book.pdf_key(folder, "seuranta-a", tools, dt.date(2023, 11, 15))
    assert book.pdf_key(folder, "seuranta-a", tools, dates["2023Q1"]) != \
        book.pdf_key(folder, "seuranta-a", tools, dates["2023Q3"])
    tex = folder / "seuranta-b.tex"
    tex.write_text(TEX.replace(r"\begin{document}", "\\date{15.5.2024}\n\\begin{document}")
                   % "x", encoding="utf-8")
    book.prepare_tex(tex, "2/2024", date=dates["2023Q1"])
    text = tex.read_text(encoding="utf-8")
    assert "\\date{15.11.2023}" in text and "15.5.2024" not in text
    assert "\\renewcommand{\\seurantapaiva}{15.11.2023}" in text
    assert "\\renewcommand{\\seurantavuosi}{2023}" in text
