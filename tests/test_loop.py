"""The statistician's loop (issue 24): ``seuranta notebooks`` executes a quarter's notebooks
again from the tables of an earlier run, ``seuranta book --quarter`` builds that quarter's
preview; a failed notebook is kept and its one-line error names the cell."""

from __future__ import annotations

import shutil

import nbformat
import pytest

from seuranta import pipeline
from seuranta.cli import main as cli_main
from seuranta.core.errors import NotebookError
from seuranta.core.params import load_params
from seuranta.publication import notebooks

FAILING_TEMPLATE = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
    format_version: 0.13
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# Kokeilu, {quarter_name}

```{code-cell} ipython3
:tags: [parameters, remove-cell]

quarter = "2023Q1"
tables_dir = "build/2023Q1/tables"
synthetic = True
params_file = "parameters.yml"
```

```{code-cell} ipython3
shares = [1, 2]
```

```{code-cell} ipython3
ratio = shares[0] / (shares[1] - 2)   # deliberately failing
print("never reached")
```
"""


def test_a_failing_cell_is_named_and_its_notebook_kept(tmp_path):
    """A template (in a copy of the template folder, not the repository's) whose third
    cell divides by zero: the error names the notebook, the failing cell's index in the
    kept notebook and its first line, and the exception; the partly executed notebook is
    kept in the failed folder with the traceback in that cell, and nothing is left in the
    output folder."""
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "plan.yml").write_text("quarter:\n  - name: kokeilu\n    template: k.md\n",
                                        encoding="utf-8")
    (templates / "k.md").write_text(FAILING_TEMPLATE, encoding="utf-8")
    (tmp_path / "tables").mkdir()
    out_nb, failed = tmp_path / "notebooks", tmp_path / "failed"
    with pytest.raises(NotebookError) as e:
        notebooks.execute_notebooks("2023Q1", tmp_path / "tables", out_nb, True, load_params(),
                                    jobs=1, templates=templates, failed_dir=failed)
    msg = str(e.value)
    kept = failed / "kokeilu.ipynb"
    # cells of the kept notebook: title, parameters, injected parameters, shares, ratio
    assert msg == ("notebook kokeilu.ipynb (2023Q1) failed in cell 4 (ratio = shares[0] / "
                   "(shares[1] - 2)   # deliberately failing): ZeroDivisionError: division "
                   f"by zero (kept: {kept})"), msg
    assert "\n" not in msg
    assert e.value.kept == kept
    cells = nbformat.read(kept, as_version=4).cells
    assert cells[4].source.startswith("ratio = shares[0]")
    assert cells[4].outputs[0]["output_type"] == "error"
    assert cells[4].outputs[0]["ename"] == "ZeroDivisionError"
    assert cells[3].execution_count is not None          # the cells before it ran
    assert not list(out_nb.glob("*.ipynb"))             # no half-made notebook as output
    # --only: an unknown name is refused, naming the plan
    with pytest.raises(Exception, match=r"plan.yml: no notebook 'nimi' in the plan \(one of: "
                                        r"kokeilu\)"):
        notebooks.execute_notebooks("2023Q1", tmp_path / "tables", out_nb, True,
                                    load_params(), jobs=1, templates=templates, only="nimi")


def test_the_notebooks_command_needs_an_earlier_run(tmp_path, capsys):
    assert cli_main(["notebooks", "--quarter", "2023Q1", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "2023Q1/manifest.json: no run of 2023Q1" in err and "seuranta run" in err


SENTENCE = "Tämä virke lisättiin silmukan testissä mallipohjaan."


@pytest.fixture(scope="module")
def loop_folders(release, tmp_path_factory):
    """One copy of the newest quarter's earlier run and one of the templates, which the
    cases below edit in turn (one worker, in order: xdist_group "release"), as a
    statistician edits one chapter after another: the first case builds the quarter's
    preview, each later one builds it again incrementally (``book.build_preview``; that an
    incremental preview equals a fresh one is tests/test_book_preview.py's)."""
    root = tmp_path_factory.mktemp("loop")
    q = release["quarters"][-1]
    shutil.copytree(release["out"] / q, root / "out" / q)
    shutil.copytree(notebooks.NOTEBOOK_DIR, root / "templates")
    return root / "out", root / "templates"


@pytest.mark.slow
@pytest.mark.xdist_group("release")
@pytest.mark.parametrize("template,page,anchor", [
    ("yhteenveto.md", "yhteenveto", "\n## Keskeiset luvut\n"),
    # a task chapter: its prose is the template's, not Python's (issue 24)
    ("palvelutehtava.md", "tehtava_iakkaat", "\n## Kuntien väliset erot\n"),
    # the data chapter: its prose is the template's too
    ("aineisto_laatu.md", "aineisto_laatu", "\n## Tarkastuskierroksen korjaukset\n"),
], ids=["summary", "task", "data"])
def test_a_sentence_edited_in_a_template_reaches_the_quarters_html(release, loop_folders,
                                                                    template, page, anchor):
    """The loop: a sentence added to a COPY of a chapter's template, then
    ``seuranta notebooks --quarter Q --templates COPY --only PAGE`` and ``seuranta book
    --quarter Q --no-pdf`` on a copy of the quarter's earlier run: the sentence is in that
    quarter's HTML preview, and no table was written again (the statistics did not run)."""
    q = release["quarters"][-1]
    out, templates = loop_folders
    sentence = f"{SENTENCE} ({page})"   # each case's own, in the shared preview
    md = templates / template
    text = md.read_text(encoding="utf-8")
    assert anchor in text
    md.write_text(text.replace(anchor, f"\n{sentence}\n{anchor}", 1), encoding="utf-8")
    assert SENTENCE not in (release["html"] / q / f"{page}.html").read_text(encoding="utf-8")
    preview = out / "preview" / q / "book" / "_build" / "html" / q / f"{page}.html"
    assert not preview.exists() or sentence not in preview.read_text(encoding="utf-8")
    tables = {p: p.stat().st_mtime_ns for p in sorted((out / q).rglob("*.csv"))}
    assert any("/tables/" in str(p) for p in tables) and any("/published/" in str(p)
                                                             for p in tables)

    assert cli_main(["notebooks", "--quarter", q, "--out", str(out), "--templates",
                     str(templates), "--only", page]) == 0
    assert cli_main(["book", "--quarter", q, "--out", str(out), "--no-pdf"]) == 0

    html = out / "preview" / q / "book" / "_build" / "html"
    assert sentence in (html / q / f"{page}.html").read_text(encoding="utf-8")
    assert {p: p.stat().st_mtime_ns for p in sorted((out / q).rglob("*.csv"))} == tables
    assert not (out / "book").exists()      # a preview: the publication's book untouched
    assert not list(out.glob(".tmp-*")) and not list((out / q).glob(".notebooks-tmp-*"))
    assert pipeline.run_quarters(out) == [q]


def test_the_notebooks_command_replaces_a_notebook_only_when_it_ran(tmp_path):
    """``run_notebooks`` on an earlier run's folder: a failing template leaves the quarter's
    notebook as it was (nothing half-written) and keeps the failed one aside; once fixed,
    the notebook is replaced, the failed copy removed, and the tables are not touched."""
    q = "2023Q1"
    out = tmp_path / "out"
    (out / q / "tables").mkdir(parents=True)
    (out / q / "tables" / "counts.csv").write_text("a\n1\n", encoding="utf-8")
    (out / q / "manifest.json").write_text('{"quarter": "2023Q1", "synthetic": true}',
                                           encoding="utf-8")
    (out / q / "notebooks").mkdir()
    old = out / q / "notebooks" / "kokeilu.ipynb"
    old.write_text("OLD", encoding="utf-8")
    table_mtime = (out / q / "tables" / "counts.csv").stat().st_mtime_ns
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "plan.yml").write_text("quarter:\n  - name: kokeilu\n    template: k.md\n",
                                        encoding="utf-8")
    (templates / "k.md").write_text(FAILING_TEMPLATE, encoding="utf-8")
    params = load_params()

    with pytest.raises(NotebookError, match=r"kokeilu.ipynb \(2023Q1\) failed in cell 4"):
        pipeline.run_notebooks(q, out, params, templates=templates)
    failed = out / "failed-notebooks" / q / "kokeilu.ipynb"
    assert old.read_text(encoding="utf-8") == "OLD" and failed.is_file()
    assert not list((out / q).glob(".notebooks-tmp-*"))

    (templates / "k.md").write_text(FAILING_TEMPLATE.replace("(shares[1] - 2)", "shares[1]"),
                                    encoding="utf-8")
    assert pipeline.run_notebooks(q, out, params, templates=templates) == [old]
    cells = nbformat.read(old, as_version=4).cells
    assert cells[4].outputs[0]["text"] == "never reached\n"
    assert not failed.exists()
    assert (out / q / "tables" / "counts.csv").stat().st_mtime_ns == table_mtime
    assert not list((out / q).glob(".notebooks-tmp-*"))
