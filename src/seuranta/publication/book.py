"""Publication: builds the book (HTML) and PDFs from the executed notebooks
(:mod:`seuranta.publication.notebooks` executes them).

* ``build_book(out_dir, quarters, synthetic, params, pdf)`` stages ``OUT/book/`` (the top-level
  ``_config.yml``, the written chapters ``book/*.md``, every quarter's executed notebooks,
  generated quarter and county pages and a generated ``_toc.yml``), runs
  ``jupyter-book build -W`` for HTML and the LaTeX builder for one working paper per
  quarter, and compiles each with latexmk (xelatex) into ``OUT/pdf/<quarter>.pdf``; the
  county pages become ``OUT/pdf/hyvinvointialueet.pdf``.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import yaml

from seuranta.core import symbols
from seuranta.core.fmt import fi_number
from seuranta.core.params import PROJECT_DIR, as_params
from seuranta.core.quarters import Quarter
from seuranta.publication import bookfmt, portal, published
from seuranta.publication import bookfmt as bf
from seuranta.publication.bookfmt import quarter_name as qn
from seuranta.publication.notebooks import newest_costs_notebook, notebook_plan


def quarter_name(q: str) -> str:
    return qn(q)

log = logging.getLogger(__name__)

BOOK_SRC_DIR = PROJECT_DIR / "book"


# --------------------------------------------------------------------------- plan


# --------------------------------------------------------------------------- execution


# --------------------------------------------------------------------------- staging

def _capital(s: str) -> str:
    return s[:1].upper() + s[1:]


def _quarter_index_md(quarter: str, synthetic: bool, pdf: bool, params: Mapping) -> str:
    lines = [f"# Sosiaalihuollon asiakkaat {bookfmt.quarter_name(quarter)}", ""]
    notice = bookfmt.notice_md(synthetic, params)
    if notice:
        lines += [notice, ""]
    lines += [f"Tämä osa on sosiaalihuollon seurantarekisterin työpaperi "
              f"{bookfmt.quarter_in(quarter)}. Se kertoo, kuinka suuri osa väestöstä oli "
              f"sosiaalihuollon palvelutehtävien asiakkaina, miten arviot on laadittu ja "
              f"kuinka kattavia kuntien tiedot olivat.", ""]
    if pdf:
        lines += [f"Työpaperi PDF-muodossa: {{download}}`{quarter}.pdf <{quarter}.pdf>`.", ""]
    return "\n".join(lines)


def _county_pages(stage: Path, out_dir: Path, quarters: list[str], synthetic: bool,
                  params: Mapping) -> list[str]:
    """One page per county: its municipalities' shares per task and quarter, from the
    newest quarter's published tables (the gate's ``municipal.csv``: the same cells, the
    same suppression as the annexes)."""
    newest = max(quarters)
    series = published.read(published.published_dir(out_dir, newest), "municipal")
    series = series[series["quarter"].isin(quarters)]
    mnames = bf.municipality_names()
    min_count, _ = bf.disclosure_params(params)
    qs = sorted(quarters)
    (stage / "alueet").mkdir(parents=True, exist_ok=True)
    files = []
    counties = bf.reference.counties()
    index = ["# Hyvinvointialueet", "", bf.notice_md(synthetic, params),
             "Hyvinvointialueiden sivuilla on alueen kuntien asiakkaiden osuudet "
             "väestöpohjasta palvelutehtävittäin ja vuosineljänneksittäin. Osuus näytetään, "
             "kun kunnan tiedot arvioitiin kattaviksi.", ""]
    for c in counties.itertuples():
        code, name = c.county_code, c.county_name_fi
        d = series[series["county_code"] == code]
        lines = [f"# {name}", "", bf.notice_md(synthetic, params),
                 f"Kuntien asiakkaiden osuus palvelutehtävän väestöpohjasta, {name}. "
                 f"Osuus näytetään, kun kunnan tiedot arvioitiin kattaviksi; "
                 f"{symbols.NOT_AVAILABLE} = ei tietoja tai tiedot eivät ole kattavia; "
                 f"{symbols.SUPPRESSED} = salattu tietosuojan vuoksi (alle {min_count} "
                 f"asiakasta, tai luku, josta sellainen voitaisiin päätellä). "
                 f"Lähde-sarake kertoo uusimman vuosineljänneksen ({bf.quarter_name(newest)}) "
                 f"tietolähteen: SHA = Kanta-palveluiden sosiaalihuollon asiakastiedon "
                 f"arkisto, ET = erillistoimitus.", ""]
        for task in bf.reference.task_codes():
            t = d[d["service_task"] == task]
            rows = []
            for m in sorted(t["municipality_code"].unique(), key=lambda k: mnames[k]):
                r = t[t["municipality_code"] == m].set_index("quarter")
                row = [mnames[m]]
                for q in qs:
                    if q not in r.index:
                        row.append(symbols.NOT_AVAILABLE)
                        continue
                    sym = r.loc[q, "clients_symbol"] or r.loc[q, "share_pct_symbol"]
                    # the share from the published count, as the annex rounds it
                    row.append(sym or bf.fi_pct(100.0 * float(r.loc[q, "clients"])
                                                / float(r.loc[q, "population_base"]), 1))
                src = r.loc[newest, "sources"] if newest in r.index else ""
                row.append(src if isinstance(src, str) and src else symbols.NOT_AVAILABLE)
                rows.append(row)
            cols = ["Kunta"] + [_capital(bf.quarter_name(q)) for q in qs] + ["Lähde"]
            tab = bf.pd.DataFrame(rows, columns=cols)
            lines += [f"## {bf.task_name(task)}", "",
                      f"Osuus: {bf.BASE_ELATIVE[task]}.", "",
                      bf.md_table(tab, right=cols[1:-1]), ""]
        (stage / "alueet" / f"{code}.md").write_text("\n".join(lines), encoding="utf-8")
        files.append(f"alueet/{code}")
        index.append(f"- [{name}]({code}.md)")
    (stage / "alueet" / "index.md").write_text("\n".join(index) + "\n", encoding="utf-8")
    return files


def _titlepage_latex(notice: str) -> dict:
    notice_tex = (r"\par\vspace{2cm}\fbox{\parbox{0.8\linewidth}{\centering\large "
                  + notice + "}}\n") if notice else ""
    preamble = (r"""
\makeatletter
\newcommand{\seurantatitlepage}{%
\begin{titlepage}\centering
\vspace*{2.5cm}{\large Sosiaalihuollon seurantarekisteri\par}\vspace{1.5cm}
{\Huge\bfseries\@title\par}\vspace{1cm}
{\Large Työpaperi\par}\vspace{0.5cm}{\large\@date\par}
""" + notice_tex + r"""\vfill{\small Lähde: Sosiaalihuollon seurantarekisteri.\par}
\end{titlepage}}
\makeatother
\setcounter{tocdepth}{1}
""")
    return {"maketitle": r"\seurantatitlepage", "preamble": preamble}


def method_substitutions(params: Mapping) -> dict[str, str]:
    """Values of the run's parameters for the written methods chapter ({{ name }} in
    book/*.md)."""

    p = as_params(params)
    q, e, d = p["quality"], p["estimate"], p["disclosure"]

    def num(x):
        return fi_number(x, 0 if float(x) == int(float(x)) else len(str(x).split(".")[-1]))

    method = {"ratio": "suhdemenetelmä", "model": "mallipohjainen arvio"}
    variance = {"jackknife": "jackknife-menetelmällä (kunta kerrallaan pois jättäen)",
                "linearised": "linearisoimalla (kuten R:n survey::svyratio)"}
    return {
        "min_count": num(d["min_count"]), "symbol": str(d["symbol"]),
        "rounding": num(e["rounding"]), "z": num(e["z"]),
        "min_municipalities": num(e["min_municipalities"]),
        "published_method": method[e["published_method"]],
        "ratio_variance": variance[e["ratio_variance"]],
        "ramp_min_ratio": num(q["ramp_min_ratio"]),
        "low_ratio": num(q["low_ratio"]), "high_ratio": num(q["high_ratio"]),
        "comparison_z": num(q["comparison_z"]),
        **{f"rule_{k}": num(v) for k, v in e["publication_rule"].items()},
    }


def disclosure_loss_md(out_dir: Path, quarter: str) -> str:
    """The information-loss table of the methods chapter (the gate's ``loss.csv`` of the
    newest quarter): suppressed municipal cells per task, before and after the gate."""
    loss = published.read(published.published_dir(out_dir, quarter), "loss", required=False)
    if loss is None or loss.empty:
        return "Salauksen vaikutusta ei ole laskettu."
    tab = bf.pd.DataFrame({
        "Palvelutehtävä": [bf.task_name(t) for t in loss["service_task"]],
        "Kattavia kuntia": [fi_number(v) for v in loss["cells"]],
        "Alle raja-arvon": [fi_number(v) for v in loss["primary"]],
        "Salattu ennen": [fi_number(v) for v in loss["suppressed_before"]],
        "Salattu nyt": [fi_number(v) for v in loss["suppressed_after"]],
        "Osuus ennen": [bf.fi_pct(v, 1) for v in loss["share_before_pct"]],
        "Osuus nyt": [bf.fi_pct(v, 1) for v in loss["share_after_pct"]],
    })
    return (f"**Salattujen kuntalukujen osuus {bf.quarter_in(quarter)}**\n\n"
            + bf.md_table(tab) + "\nEnnen = kukin taulukko salattiin erikseen (vain "
            "kattavien kuntien yhteissumma); nyt = kaikki yhdisteltävissä olevat taulukot ja "
            "aiemmat julkaisut yhdessä.\n")


def stage_book(out_dir: Path, quarters: list[str], synthetic: bool, params: Mapping,
               pdf: bool = True) -> Path:
    """Assemble ``OUT/book/`` from the sources and the executed notebooks."""
    out_dir = Path(out_dir)
    quarters = sorted(str(Quarter.parse(q)) for q in quarters)
    stage = out_dir / "book"
    if stage.exists():
        shutil.rmtree(stage)
    (stage / "book").mkdir(parents=True)
    for p in sorted(BOOK_SRC_DIR.glob("*.md")):
        shutil.copy2(p, stage / "book" / p.name)
    if (BOOK_SRC_DIR / "_generated").is_dir():     # tables the chapters include (make coverage)
        shutil.copytree(BOOK_SRC_DIR / "_generated", stage / "book" / "_generated")

    quarter_parts = []
    for q in reversed(quarters):
        nb_dir = out_dir / q / "notebooks"
        names = [n for n, _, _ in notebook_plan(q) if (nb_dir / f"{n}.ipynb").is_file()]
        if not names:
            raise FileNotFoundError(f"no executed notebooks for {q} in {nb_dir}")
        (stage / q).mkdir()
        for n in names:
            shutil.copy2(nb_dir / f"{n}.ipynb", stage / q / f"{n}.ipynb")
        (stage / q / "index.md").write_text(_quarter_index_md(q, synthetic, pdf, params),
                                            encoding="utf-8")
        quarter_parts.append({
            "caption": _capital(bf.quarter_name(q)),
            "chapters": [{"file": f"{q}/index",
                          "sections": [{"file": f"{q}/{n}"} for n in names]}]})
    county_files = _county_pages(stage, out_dir, quarters, synthetic, params)
    costs_parts = []
    costs_nb = newest_costs_notebook(out_dir)
    if costs_nb is not None:
        (stage / "kustannukset").mkdir()
        shutil.copy2(costs_nb, stage / "kustannukset" / "costs.ipynb")
        costs_parts = [{"caption": "Sote-tietopaketit",
                        "chapters": [{"file": "kustannukset/costs"}]}]

    toc = yaml.safe_load((PROJECT_DIR / "_toc.yml").read_text(encoding="utf-8"))
    toc["parts"] = quarter_parts + [{
        "caption": "Hyvinvointialueet",
        "chapters": [{"file": "alueet/index",
                      "sections": [{"file": f} for f in county_files]}]}] + costs_parts + \
        toc.get("parts", [])
    (stage / "_toc.yml").write_text(yaml.safe_dump(toc, allow_unicode=True, sort_keys=False),
                                    encoding="utf-8")

    cfg = yaml.safe_load((PROJECT_DIR / "_config.yml").read_text(encoding="utf-8"))
    notice_text = bf.notice_text(synthetic, params)
    sph = cfg.setdefault("sphinx", {}).setdefault("config", {})
    today = dt.date.today()
    sph["today"] = f"{today.day}.{today.month}.{today.year}"
    if synthetic:
        cfg.setdefault("html", {})["announcement"] = notice_text
    sph.setdefault("latex_elements", {}).update(_titlepage_latex(notice_text))
    subs = method_substitutions(params)
    subs["disclosure_loss"] = disclosure_loss_md(out_dir, max(quarters))
    cfg.setdefault("parse", {})["myst_substitutions"] = subs
    (stage / "_config.yml").write_text(yaml.safe_dump(cfg, allow_unicode=True,
                                                      sort_keys=False), encoding="utf-8")
    # Reader's entry points (publication.portal, issue 16): landing page, Swedish summary,
    # comparison pages, open data; adds its parts to the staged _toc.yml and _config.yml.
    portal.stage_pages(stage, out_dir, quarters, synthetic, params)
    return stage


# --------------------------------------------------------------------------- building

def _jupyter_book() -> str:
    exe = Path(sys.executable).parent / "jupyter-book"
    return str(exe) if exe.exists() else "jupyter-book"


def _run(cmd: list[str], cwd: Path | None = None, log_file: Path | None = None) -> None:
    t0 = time.monotonic()
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if log_file is not None:   # (named log_file: ``log`` is the module's logger)
        log_file.write_text(r.stdout + "\n--- stderr ---\n" + r.stderr, encoding="utf-8")
    if r.returncode != 0:
        lines = (r.stdout + r.stderr).strip().splitlines()
        warn = [ln for ln in lines if "WARNING" in ln or "ERROR" in ln or "Error" in ln]
        tail = "\n".join(warn[:20] or lines[-30:])
        raise RuntimeError(f"{' '.join(cmd[:3])} failed (exit {r.returncode}):\n{tail}")
    log.info("  %s %s: %.0f s", Path(cmd[0]).name, " ".join(cmd[1:3]), time.monotonic() - t0)


#: File name of the county drill-down pages as one PDF (OUT/pdf/).
COUNTY_PDF = "hyvinvointialueet.pdf"


def build_pdfs(stage: Path, quarters: list[str], pdf_dir: Path) -> list[Path]:
    """LaTeX builder once for all quarters, then latexmk (xelatex) per quarter; the
    county pages (if staged) become one more PDF, ``pdf_dir / COUNTY_PDF``.

    jupyter-book 1.0 cannot pass several ``latex_documents`` through its own build
    command, so the Sphinx configuration it derives from ``_config.yml`` is written out
    (``jupyter-book config sphinx``) and the LaTeX builder is run by sphinx-build.
    """
    _run([_jupyter_book(), "config", "sphinx", str(stage)])
    conf = stage / "conf.py"
    author = "Sosiaalihuollon seurantarekisteri"
    docs = [(f"{q}/index", f"seuranta-{q}.tex",
             f"Sosiaalihuollon asiakkaat {quarter_name(q)}", author, "manual", True)
            for q in reversed(quarters)]
    counties = (stage / "alueet" / "index.md").is_file()
    if counties:   # the county drill-down pages as one more PDF
        docs.append(("alueet/index", "seuranta-alueet.tex",
                     "Hyvinvointialueet: kuntien asiakasosuudet vuosineljänneksittäin",
                     author, "manual", True))
    with open(conf, "a", encoding="utf-8") as f:
        f.write(f"\n# One working paper per quarter (added by seuranta.publication.book)\n"
                f"latex_documents = {docs!r}\n")
    try:
        _run([str(Path(sys.executable).parent / "sphinx-build"), "-W", "--keep-going",
              "-q", "-b", "latex", str(stage), str(stage / "_build" / "latex")])
    finally:
        conf.unlink(missing_ok=True)
    latex_dir = stage / "_build" / "latex"
    pdf_dir.mkdir(parents=True, exist_ok=True)
    out = []
    for q in quarters:
        tex = f"seuranta-{q}.tex"
        _run(["latexmk", "-xelatex", "-interaction=nonstopmode", "-halt-on-error", tex],
             cwd=latex_dir)
        target = pdf_dir / f"{q}.pdf"
        shutil.copy2(latex_dir / f"seuranta-{q}.pdf", target)
        out.append(target)
    if counties:
        _run(["latexmk", "-xelatex", "-interaction=nonstopmode", "-halt-on-error",
              "seuranta-alueet.tex"], cwd=latex_dir)
        shutil.copy2(latex_dir / "seuranta-alueet.pdf", pdf_dir / COUNTY_PDF)
    return out


def build_book(out_dir: Path, quarters: list[str], synthetic: bool, params: Mapping,
               pdf: bool = True) -> Path:
    """Stage and build the book: HTML in OUT/book/_build/html, PDFs in OUT/pdf/<Q>.pdf.

    Returns the HTML folder. The PDFs are built first so that each quarter's page can
    offer its working paper for download.
    """
    out_dir = Path(out_dir)
    quarters = sorted(str(Quarter.parse(q)) for q in quarters)
    stage = stage_book(out_dir, quarters, synthetic, params, pdf=False)
    if pdf:
        pdfs = build_pdfs(stage, quarters, out_dir / "pdf")
        for q, p in zip(quarters, pdfs):
            shutil.copy2(p, stage / q / f"{q}.pdf")
            (stage / q / "index.md").write_text(_quarter_index_md(q, synthetic, True, params),
                                                encoding="utf-8")
        county_pdf = out_dir / "pdf" / COUNTY_PDF
        if county_pdf.is_file() and (stage / "alueet" / "index.md").is_file():
            shutil.copy2(county_pdf, stage / "alueet" / COUNTY_PDF)
            with open(stage / "alueet" / "index.md", "a", encoding="utf-8") as f:
                f.write(f"\nKaikki alueet PDF-muodossa: "
                        f"{{download}}`{COUNTY_PDF} <{COUNTY_PDF}>`.\n")
    _run([_jupyter_book(), "build", "-W", "--keep-going", "-q", str(stage)])
    return stage / "_build" / "html"


# --------------------------------------------------------------------------- Sphinx hook

def _dedupe_scripts(app, pagename, templatename, context, doctree):
    """Drop repeated <script> entries (sphinx-thebe registers its inline config twice under
    jupyter-book 1.0, which makes the browser report a SyntaxError on every page)."""
    files = context.get("script_files")
    if not files:
        return
    seen, out = set(), []
    for js in files:
        attrs = getattr(js, "attributes", {}) or {}
        # The same inline script is registered once with filename None and once with ''.
        key = (getattr(js, "filename", str(js)) or "",
               tuple(sorted((k, str(v)) for k, v in attrs.items())))
        if key in seen:
            continue
        seen.add(key)
        out.append(js)
    context["script_files"] = out


def setup(app):
    """Sphinx extension entry point (``sphinx.extra_extensions`` in _config.yml)."""
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
