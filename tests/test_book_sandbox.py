"""The book build cannot reach outside its staging folder nor let a remote resource in
(issue 20): the Sphinx hook of seuranta.publication.book, tested by bypassing the escaping,
i.e. writing the hostile MyST straight into a staged page."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from seuranta.core.params import PROJECT_DIR

SECRET = "SALAISUUS-0123456789abcdef"

CONF = """
extensions = ["myst_parser"{extra}]
myst_enable_extensions = ["colon_fence", "deflist", "dollarmath", "substitution"]
exclude_patterns = ["_build"]
"""


def _docutils_relative(target: Path) -> str:
    from docutils.parsers.rst.directives.misc import Include
    return os.path.relpath(target, Include.standard_include_path)


#: case → page text (``{secret}``: the secret file outside the staging folder).
CASES = {
    "download_outside": "{{download}}`avain <../secret.txt>`",
    "download_remote": "{{download}}`x <https://evil.example/x.txt>`",
    "include_outside": "```{{include}} ../secret.md\n```",
    "include_standard_path": "```{{include}} <{std}>\n```",
    "literalinclude_outside": "```{{literalinclude}} ../secret.txt\n```",
    "image_outside": "![kuva](../secret.png)",
    "figure_outside": "```{{figure}} ../secret.png\n```",
    "image_remote": "![kuva](https://evil.example/x.png)",
    "image_protocol_relative": "![kuva](//evil.example/x.png)",
    "raw_html_remote_img": "Teksti <img src=\"https://evil.example/x.png\"> tässä.",
    "raw_html_onerror": "<img src=x onerror=alert(1)>\n",
    "raw_html_stylesheet": "<link rel=\"stylesheet\" href=\"https://evil.example/x.css\">\n",
    "raw_file": "```{{raw}} html\n:file: ../secret.txt\n```",
    "raw_url": "```{{raw}} html\n:url: https://evil.example/x.html\n```",
    "csv_table_file": "```{{csv-table}}\n:file: ../secret.txt\n```",
    "csv_table_url": "```{{csv-table}}\n:url: https://evil.example/x.csv\n```",
}


def _build(tmp: Path, page: str, sandbox: bool = True) -> tuple[subprocess.CompletedProcess, Path]:
    (tmp / "secret.txt").write_text(SECRET + "\n")
    (tmp / "secret.md").write_text(SECRET + "\n")
    (tmp / "secret.png").write_bytes(b"\x89PNG\r\n\x1a\n" + SECRET.encode())
    src = tmp / "book"
    src.mkdir()
    (src / "conf.py").write_text(CONF.format(
        extra=', "seuranta.publication.book"' if sandbox else ""))
    (src / "own.txt").write_text("oma tiedosto\n")
    (src / "index.md").write_text("# Sivu\n\nOma: {download}`own.txt`\n\n"
                                  + page.format(std=_docutils_relative(tmp / "secret.md"))
                                  + "\n")
    out = tmp / "html"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    r = subprocess.run([sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", str(src),
                        str(out)], capture_output=True, text=True, env=env, timeout=300)
    return r, out


def _leaked(out: Path) -> list[Path]:
    return [p for p in out.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]


def test_own_files_still_build(tmp_path):
    """The sandbox lets the book's own files in (downloads inside the staging folder)."""
    r, out = _build(tmp_path, "Tavallinen kappale.")
    assert r.returncode == 0, r.stderr
    assert [p.name for p in (out / "_downloads").rglob("*") if p.is_file()] == ["own.txt"]


#: The refusal that `make test-fast` keeps (one Sphinx build each: the other cases run in
#: `make test`, issue 24).
FAST_CASE = "download_outside"


@pytest.mark.parametrize("case", [c if c == FAST_CASE else pytest.param(c, marks=pytest.mark.slow)
                                  for c in sorted(CASES)])
def test_sandbox_refuses(case, tmp_path):
    r, out = _build(tmp_path, CASES[case])
    assert r.returncode != 0, f"built: {r.stderr}"
    err = r.stderr + r.stdout
    # the hook's error (or, inside literalinclude, which turns errors into warnings, its
    # message as a warning that -W makes fatal; the file is not read either way)
    assert ("seuranta: the book build refused a page" in err
            or "lies outside the book's staging folder" in err), err[-3000:]
    assert "Traceback" not in r.stderr
    assert not out.exists() or not _leaked(out)


@pytest.mark.parametrize("case", [c if c == FAST_CASE else pytest.param(c, marks=pytest.mark.slow)
                                  for c in ["download_outside", "include_outside", "raw_file"]])
def test_without_the_sandbox_the_secret_leaks(case, tmp_path):
    """The same pages without the hook: the secret does reach the HTML (so the test above
    would fail if the hook were removed)."""
    r, out = _build(tmp_path, CASES[case], sandbox=False)
    assert r.returncode == 0, r.stderr
    assert _leaked(out)


@pytest.mark.slow   # a jupyter-book build of the project's configuration
@pytest.mark.skipif(shutil.which("jupyter-book") is None
                    and not (Path(sys.executable).parent / "jupyter-book").exists(),
                    reason="jupyter-book needed")
def test_the_real_book_config_has_the_sandbox(tmp_path):
    """The project's own _config.yml loads the hook: a staged page with a raw {download} of
    the data folder's review key makes `jupyter-book build` fail, and no key is copied."""
    from seuranta.publication import book
    data = tmp_path / "data"
    data.mkdir()
    (data / ".review_key").write_text(SECRET + "\n")
    stage = tmp_path / "out" / "book"
    stage.mkdir(parents=True)
    shutil.copy2(PROJECT_DIR / "_config.yml", stage / "_config.yml")
    (stage / "_toc.yml").write_text("format: jb-book\nroot: index\n")
    (stage / "index.md").write_text("# Julkaisu\n\nPerustelu: "
                                    "{download}`avain <../../data/.review_key>`\n")
    r = subprocess.run([book._jupyter_book(), "build", "-W", "-q", str(stage)],
                       capture_output=True, text=True, timeout=600,
                       env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert r.returncode != 0
    assert "outside the book's staging folder" in r.stdout + r.stderr
    built = stage / "_build"
    assert not built.exists() or not _leaked(built)
