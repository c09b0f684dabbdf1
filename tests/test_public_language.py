"""No developer language in the publication's text (issue 25, defect 7): no command
("make publish", "seuranta run --quarter …"), no file of the code ("parameters.yml",
"*.py"), no notebook variable and no study jargon ("siemenluku", "Oraakkeli") reaches a
reader. The fast test scans every source of public text (the book's pages, the generated
methods tables, the notebooks' Markdown outside code cells, the chapters' sentence
templates and the Finnish labels); the slow one scans the built HTML's article text."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from seuranta.core import labels_fi, symbols
from seuranta.publication import chapters

ROOT = Path(__file__).resolve().parents[1]

#: Developer terms, as regular expressions (case-insensitive).
DEV_TERMS = [r"\bmake\s+[a-z]", r"\bseuranta\s+(run|publish|verify|verify-release|demo-data|"
             r"feedback|costs|counts|review|audit|reference)\b", r"parameters\.ya?ml",
             r"\bsiemenluku", r"\boraakkeli", r"--(quarter|data|out|params|scale)\b",
             r"\btables_dir\b", r"\bparams_file\b", r"SOURCE_DATE_EPOCH", r"\b\w+\.py\b",
             r"\bsrc/", r"\bbook/\w+\.md\b", r"\brequirements\.txt\b"]
PATTERN = re.compile("|".join(f"(?:{t})" for t in DEV_TERMS), re.IGNORECASE)


def _outside_code_cells(md: str) -> str:
    return re.sub(r"```\{code-cell\}.*?```", "", md, flags=re.S)


def _sources() -> dict[str, str]:
    out = {}
    for p in sorted((ROOT / "book").rglob("*.md")):
        out[str(p.relative_to(ROOT))] = p.read_text(encoding="utf-8")
    for p in sorted((ROOT / "notebooks").glob("*.md")):
        out[str(p.relative_to(ROOT))] = _outside_code_cells(p.read_text(encoding="utf-8"))
    out["chapters.TEXT"] = "\n".join(chapters.TEXT.values())
    out["chapters.NOTE_FI"] = "\n".join([*chapters.NOTE_FI.values(),
                                         *chapters.NOTE_FI_ALL.values()])
    labels = [v for v in vars(labels_fi).values() if isinstance(v, dict)]
    out["labels_fi"] = "\n".join(str(x) for d in labels for x in d.values())
    out["symbols"] = "\n".join(fi for fi, _ in symbols.SYMBOLS.values())
    return out


def test_the_pattern_catches_the_reported_terms():
    for bad in ("(make coverage)", "seuranta run --quarter 2023Q4", "tiedostossa parameters.yml",
                "siemenluku 22000", "Oraakkeli", "komennolla `seuranta verify-release`"):
        assert PATTERN.search(bad), bad
    for ok in ("Sosiaalihuollon seurantarekisteri", "seuranta on", "manifest.json",
               "Lastensuojelun palvelutehtävä"):
        assert not PATTERN.search(ok), ok


def test_no_developer_terms_in_the_sources_of_public_text():
    found = {name: sorted({m.group(0) for m in PATTERN.finditer(text)})
             for name, text in _sources().items()}
    assert {k: v for k, v in found.items() if v} == {}


def _article_text(page: str) -> str:
    m = re.search(r"<article[^>]*>(.*)</article>", page, re.S)
    body = m.group(1) if m else page
    body = re.sub(r"<(script|style)\b.*?</\1>", "", body, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


@pytest.mark.slow
@pytest.mark.xdist_group("release")
def test_no_developer_terms_in_the_built_book(release):
    pages = sorted(Path(release["html"]).rglob("*.html"))
    assert len(pages) > 50
    found = {}
    for p in pages:
        words = {m.group(0) for m in PATTERN.finditer(_article_text(p.read_text(encoding="utf-8")))}
        if words:
            found[str(p.relative_to(release["html"]))] = sorted(words)
    assert found == {}
