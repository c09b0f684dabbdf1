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

import base64
import concurrent.futures as cf
import datetime as dt
import hashlib
import html as _html
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import yaml

from seuranta.core import escape, symbols
from seuranta.core.cache import digest as cache_digest
from seuranta.core.escape import myst
from seuranta.core.fmt import fi_number
from seuranta.core.labels_fi import ESTIMATION_METHOD_FI, ESTIMATION_METHOD_HOW_FI
from seuranta.core.params import PROJECT_DIR, as_params
from seuranta.core.provenance import file_sha256, tool_versions
from seuranta.core.quarters import Quarter, today
from seuranta.core.reproducible import source_date_epoch
from seuranta.inputs.datafolder import data_metadata
from seuranta.publication import bookfmt, portal, published, releases
from seuranta.publication import bookfmt as bf
from seuranta.publication.bookfmt import caption_tables
from seuranta.publication.bookfmt import quarter_name as qn
from seuranta.publication.landing import contact_text
from seuranta.publication.notebooks import newest_costs_notebook, notebook_plan
from seuranta.register import validate
from seuranta.statistics import model as mdl


def quarter_name(q: str) -> str:
    return qn(q)

log = logging.getLogger(__name__)

BOOK_SRC_DIR = PROJECT_DIR / "book"


# --------------------------------------------------------------------------- plan


# --------------------------------------------------------------------------- execution


# --------------------------------------------------------------------------- staging

def _capital(s: str) -> str:
    return s[:1].upper() + s[1:]


def publication_info(params: Mapping) -> dict:
    """Title-page facts of the working papers from ``parameters.yml``'s publication section:
    author (organisation), authors, contact (and its named person), series and its ISSN,
    numbers per quarter, date, book URL."""
    p = as_params(params)["publication"]
    date = p.get("date")
    date = dt.date.fromisoformat(str(date)) if date else today()
    return {
        "author": str(p["author"]),
        "authors": [str(a) for a in p["authors"]],
        "contact": str(p["contact"]),
        "contact_name": str(p["contact_name"]),
        "issn": str(p["issn"]) if p["issn"] else "",
        "series": str(p["series"]),
        "numbers": {str(k): str(v) for k, v in p["series_numbers"].items()},
        "date": date,
        "date_fi": f"{date.day}.{date.month}.{date.year}",
        "book_url": str(p["book_url"]).rstrip("/") + "/",
    }


def paper_dates(out_dir: Path, quarters: list[str], params: Mapping) -> dict[str, dt.date]:
    """Each quarter's working paper's date: the publication date of the oldest kept release
    (``OUT/releases/``) that published the quarter's tables exactly as they are now (every
    ``<Q>/published/*.csv`` with the same SHA-256 in its manifest), else this publication's
    date (``publication.date``: the quarter is new, or its tables changed). A paper whose
    quarter did not change thus keeps its date from one release to the next, and with it
    its bytes (title page, citation, the PDF's ``SOURCE_DATE_EPOCH``); a re-run from a
    release's seal finds the same kept releases (its priors)."""
    own = publication_info(params)["date"]
    kept = []
    for r in releases.kept_releases(out_dir):
        if not (r / releases.MANIFEST).is_file():   # not a sealed release: no date of its own
            continue
        man = releases.read_manifest(r)
        if man.get("publication_date"):
            kept.append((dt.date.fromisoformat(str(man["publication_date"])),
                         man.get("files") or {}))
    out = {}
    for q in quarters:
        prefix = f"{q}/{published.PUBLISHED}/"
        now = {prefix + p.name: file_sha256(p)
               for p in sorted((Path(out_dir) / q / published.PUBLISHED).glob("*.csv"))}
        same = [day for day, files in kept if now and now == {
            k: v for k, v in files.items() if k.startswith(prefix) and k.endswith(".csv")}]
        out[q] = min([own, *same])
    return out


def paper_title(quarter: str) -> str:
    return f"Sosiaalihuollon asiakkaat {bookfmt.quarter_name(quarter)}"


def citation(quarter: str, info: dict, date: dt.date | None = None) -> str:
    """Citation advice of a quarter's working paper (Finnish; ``date``: the paper's own,
    :func:`paper_dates`, else the publication's)."""
    number = info["numbers"].get(quarter)
    series = f"{info['series']} {number}" if number else info["series"]
    date = date or info["date"]
    return (f"{info['author']} ({date.year}). {paper_title(quarter)}. {series}. "
            f"Julkaistu {date.day}.{date.month}.{date.year}. {info['book_url']}")


def annex_name(quarter: str) -> str:
    return f"liite_{quarter}.xlsx"


def _quarter_index_md(quarter: str, synthetic: bool, pdf: bool, params: Mapping,
                      annex: bool = False, date: dt.date | None = None) -> str:
    info = publication_info(params)
    date = date or info["date"]   # the paper's own (paper_dates)
    lines = [f"# {paper_title(quarter)}", ""]
    notice = bookfmt.notice_md(synthetic, params)
    if notice:
        lines += [notice, ""]
    lines += [f"Tämä osa on sosiaalihuollon seurantarekisterin työpaperi "
              f"{bookfmt.quarter_in(quarter)}. Se kertoo, kuinka suuri osa väestöstä oli "
              f"sosiaalihuollon palvelutehtävien asiakkaina, miten arviot on laadittu ja "
              f"kuinka kattavia kuntien tiedot olivat.", ""]
    downloads = []   # the copies of the page "Lataukset": each file once in the HTML
    if pdf:
        downloads.append(f"- Työpaperi PDF-muodossa: {{download}}`{quarter}.pdf "
                         f"<../{DOWNLOADS}/{quarter}.pdf>`")
    if annex:
        downloads.append(f"- Liitetaulukot (Excel): {{download}}`{annex_name(quarter)} "
                         f"<../{DOWNLOADS}/{annex_name(quarter)}>`")
    if downloads:
        lines += ["## Lataukset", "", *downloads,
                  "- Kaikki julkaisun tiedostot: [Lataukset](../lataukset.md)", ""]
    number = info["numbers"].get(quarter)
    lines += ["## Julkaisun tiedot", "",
              f"- Sarja: {myst(info['series'])}" + (f" {myst(number)}" if number else ""),
              *([f"- ISSN: {myst(info['issn'])}"] if info["issn"] else []),
              f"- Julkaisija: {myst(info['author'])}",
              f"- Julkaisupäivä: {date.day}.{date.month}.{date.year}"]
    if info["authors"]:
        lines.append(f"- Tekijät: {myst(', '.join(info['authors']))}")
    if info["contact"] or info["contact_name"]:
        lines.append(f"- Yhteystiedot: {myst(contact_text(info))}")
    lines += ["", f"Suositeltava viittaus: {myst(citation(quarter, info, date))}", ""]
    return "\n".join(lines)


def _symbols_md() -> str:
    """The one page that explains the symbols of every table, PDF and annex."""
    rows = [[f"`{s}`" if s == "." else s, fi] for s, (fi, _sv) in symbols.SYMBOLS.items()]
    tab = bf.pd.DataFrame(rows, columns=["Symboli", "Merkitys"])
    return ("# Symbolit\n\nJulkaisun taulukoissa, PDF-työpapereissa ja Excel-liitteissä "
            "käytetään samoja Suomen virallisen tilaston käytännön mukaisia symboleita. "
            "Solussa, jossa ei ole lukua, on jokin näistä symboleista.\n\n"
            + bf.table_block("Taulukko S1. Taulukoiden symbolit", tab, right=[],
                             markup=("Symboli",))
            + "\nNolla (0) on luku: asiakkaita ei ollut. "
              "Arviot asiakasmääristä on pyöristetty sataan, niiden luottamusvälit ja "
              "vaihteluvälit ulospäin sataan. Osuudet esitetään prosentteina yhden desimaalin "
              "tarkkuudella kaikkialla: kirjassa, PDF-työpapereissa, Excel-liitteissä ja "
              "avoimessa datassa. Kun julkaisusääntö sallii vain vaihteluvälin, pistearvion, "
              "luottamusvälin ja osuuden paikalla on symboli . ja arvio on vaihteluväli; kun "
              "arviota ei julkaista, kaikkien lukujen paikalla on . ja syy kerrotaan.\n")


#: The staged folder of the page "Lataukset": every downloadable file of the book, which
#: the quarter and county pages link to as well (Sphinx copies a file once per source path).
DOWNLOADS = "lataukset"


def _downloads_md(stage: Path, out_dir: Path, quarters: list[str], info: dict,
                  pdf_dir: Path | None = None, costs: bool = True) -> str:
    """The page "Lataukset": every file of the release, copied into the staged book
    (the PDFs from ``pdf_dir``, default OUT/pdf; the costs chapter's unless ``costs`` is
    false: a quarter's preview)."""
    pdf_dir = Path(pdf_dir) if pdf_dir is not None else out_dir / "pdf"
    (stage / DOWNLOADS).mkdir(exist_ok=True)
    rows = []

    def offer(src: Path, what: str, when: str) -> None:
        if src.is_file():
            shutil.copy2(src, stage / DOWNLOADS / src.name)
            size = src.stat().st_size
            rows.append([what, when, f"{{download}}`{src.name} <{DOWNLOADS}/{src.name}>`",
                         f"{fi_number(max(size // 1024, 1))} kt"])

    for q in reversed(quarters):
        name = bookfmt.quarter_name(q)
        offer(pdf_dir / f"{q}.pdf", "Työpaperi (PDF)", name)
        offer(out_dir / q / "annex" / annex_name(q), "Liitetaulukot (Excel)", name)
    offer(pdf_dir / COUNTY_PDF, "Hyvinvointialueiden kuntataulukot (PDF)",
          f"{bookfmt.quarter_name(quarters[0])} – {bookfmt.quarter_name(quarters[-1])}")
    costs_nb = newest_costs_notebook(out_dir) if costs else None   # this publication's year
    if costs_nb:
        year = f"vuosi {costs_nb.parent.parent.name}"
        offer(pdf_dir / COSTS_PDF, "Sote-tietopakettien kustannukset (PDF)", year)
        for xlsx in sorted(costs_nb.parent.parent.glob("annex/*.xlsx")):
            offer(xlsx, "Sote-tietopakettien kustannukset (Excel)", year)
    lines = ["# Lataukset", "", f"Julkaisun kaikki tiedostot ({info['date_fi']}). Excel-liitteissä "
             "on ensimmäisenä Tietoja-välilehti, joka selittää taulukot ja symbolit.", ""]
    if rows:
        tab = bf.pd.DataFrame(rows, columns=["Tiedosto", "Ajankohta", "Lataa", "Koko"])
        lines.append(bf.table_block("Taulukko L1. Julkaisun tiedostot", tab, right=["Koko"],
                                    markup=("Lataa",)))
    else:
        lines.append("Tähän julkaisuun ei ole ladattavia tiedostoja.")
    return "\n".join(lines) + "\n"


#: What a county's page of ``alueet/`` (and of hyvinvointialueet.pdf) is, beside the county's
#: name in its title (the comparison page of ``vertailu/`` is another).
COUNTY_TABLES_TITLE_FI = "kuntien osuudet"


def _county_pages(stage: Path, out_dir: Path, quarters: list[str], synthetic: bool,
                  params: Mapping) -> list[str]:
    """One page per county: its municipalities' shares per task and quarter, from the
    newest quarter's published tables (the gate's ``municipal.csv``: the same cells, the
    same suppression as the annexes)."""
    newest = max(quarters)
    series = published.read(published.published_dir(out_dir, newest), "municipal")
    series = series[series["quarter"].isin(quarters)]
    mnames = bf.municipality_names()
    qs = sorted(quarters)
    (stage / "alueet").mkdir(parents=True, exist_ok=True)
    files = []
    counties = bf.reference.counties()
    task_names = {task: bf.task_name(task) for task in bf.reference.task_codes()}
    index = ["# Hyvinvointialueet", "", bf.notice_md(synthetic, params),
             "Hyvinvointialueiden sivuilla on alueen kuntien asiakkaiden osuudet "
             "väestöpohjasta palvelutehtävittäin ja vuosineljänneksittäin, uusin "
             "vuosineljännes ensin. Osuus näytetään, kun kunnan tiedot arvioitiin kattaviksi; "
             "muuten solussa on symboli . (tietoa ei ole tai tiedot eivät ole kattavia).", ""]
    qs_new_first = list(reversed(qs))
    for c in counties.itertuples():
        code, name = c.county_code, c.county_name_fi
        d = series[series["county_code"] == code]
        lines = [f"# {myst(name)}: {COUNTY_TABLES_TITLE_FI}", "", bf.notice_md(synthetic, params),
                 f"Kuntien asiakkaiden osuus palvelutehtävän väestöpohjasta, {myst(name)}, uusin "
                 f"vuosineljännes ensin. Osuus näytetään, kun kunnan tiedot arvioitiin "
                 f"kattaviksi. Lähde-sarake kertoo uusimman vuosineljänneksen "
                 f"({bf.quarter_name(newest)}) tietolähteen: SHA = Kanta-palveluiden "
                 f"sosiaalihuollon asiakastiedon arkisto, ET = erillistoimitus.", ""]
        cells = {(r["service_task"], r["municipality_code"], r["quarter"]): r
                 for r in d[["service_task", "municipality_code", "quarter", "clients_symbol",
                             "share_pct_symbol", "share_pct", "sources"]].to_dict("records")}
        for task in bf.reference.task_codes():
            rows = []
            for m in sorted({k[1] for k in cells if k[0] == task}, key=lambda k: mnames[k]):
                row = [mnames[m]]
                for q in qs_new_first:
                    r = cells.get((task, m, q))
                    if r is None:
                        row.append(symbols.NOT_AVAILABLE)
                        continue
                    sym = r["clients_symbol"] or r["share_pct_symbol"]
                    row.append(sym or bf.fi_share(float(r["share_pct"])))
                src = cells[(task, m, newest)]["sources"] if (task, m, newest) in cells else ""
                row.append(src if isinstance(src, str) and src else "ei tietoja")
                rows.append(row)
            cols = ["Kunta"] + [bf.quarter_short(q) for q in qs_new_first] + ["Lähde"]
            tab = bf.pd.DataFrame(rows, columns=cols)
            lines += [f"## {task_names[task]}", "",
                      bf.table_block(f"{task_names[task]}: asiakkaiden osuus "
                                     f"{bf.BASE_ELATIVE[task]} kunnittain, {name}", tab,
                                     right=cols[1:-1],
                                     note="Sarakkeet: vuosineljännekset (I/2023 = "
                                          "tammi–maaliskuu 2023). " + bf.symbol_note()), ""]
        (stage / "alueet" / f"{code}.md").write_text("\n".join(lines), encoding="utf-8")
        files.append(f"alueet/{code}")
        index.append(f"- [{myst(name)}]({code}.md)")
    (stage / "alueet" / "index.md").write_text("\n".join(index) + "\n", encoding="utf-8")
    return files


_tex = escape.latex   # parameter text on the title page (notice, author, series, contact)

#: The PDF's headings kept with what follows them (issue 25: headings stranded at the foot
#: of a page above white space). TeX never breaks between a heading and the paragraph or
#: image after it; the breaks that stranded them were explicit: the ``\needspace`` before
#: a table (a forced break when the table did not fit) and longtable's own forced break
#: when its head and first row do not fit. So: a heading starts a new page unless it and
#: the next lines fit (room for a table's caption, head and first rows), and a table right
#: after a heading asks for no room of its own (``\if@nobreak``: nothing but a heading
#: since). needspace.sty's own ``\penalty-100`` is not used: a break that cheap before a
#: heading won over the later ones and left pages half empty; ``\penalty0`` still lets a
#: page that is already full (a longtable's tail) go out before the room is measured. The
#: running footer names the chapter (or its section), not the table of contents
#: ("Sisällys") on the pages before the first chapter.
KEEP_HEADINGS_LATEX = r"""\makeatletter
\g@addto@macro\sphinxattablestart{\if@nobreak\else\needspace{8\baselineskip}\fi}
\newcommand{\seuranta@needspace}[1]{\par\if@nobreak\else\penalty\z@
  \begingroup\dimen@#1\relax\dimen@ii\pagegoal\advance\dimen@ii-\pagetotal
  \ifdim\dimen@>\dimen@ii\ifdim\dimen@ii>\z@\vfil\fi\break\fi\endgroup\fi}
\let\seuranta@section\section
\renewcommand{\section}{\seuranta@needspace{12\baselineskip}\seuranta@section}
\let\seuranta@subsection\subsection
\renewcommand{\subsection}{\seuranta@needspace{10\baselineskip}\seuranta@subsection}
\let\seuranta@subsubsection\subsubsection
\renewcommand{\subsubsection}{\seuranta@needspace{8\baselineskip}\seuranta@subsubsection}
\newcommand{\seuranta@footmark}{\sbox\z@{\rightmark}\ifdim\wd\z@=\z@\leftmark\else\rightmark\fi}
\fancypagestyle{normal}{\fancyhf{}
  \fancyfoot[RO]{{\py@HeaderFamily\thepage}}
  \fancyfoot[LO]{{\py@HeaderFamily\nouppercase{\seuranta@footmark}}}
  \fancyhead[RO]{{\py@HeaderFamily \@title\sphinxheadercomma\py@release}}
  \renewcommand{\headrulewidth}{0.4pt}\renewcommand{\footrulewidth}{0.4pt}}
\g@addto@macro\sphinxtableofcontents{\markboth{}{}}
\makeatother"""


def _titlepage_latex(notice: str, info: dict) -> dict:
    """Title page (series and number, authors, contact, date, citation advice), PDF
    metadata (title, author, language) and no hyphenation of names."""
    notice_tex = (r"\par\vspace{1cm}\fbox{\parbox{0.8\linewidth}{\centering "
                  + _tex(notice) + "}}\n") if notice else ""
    authors = _tex(", ".join(info["authors"])) if info["authors"] else ""
    contact = _tex(contact_text(info))
    issn = _tex(info["issn"])
    preamble = (r"""
\makeatletter
\providecommand{\seurantanumero}{}
\providecommand{\seurantapaiva}{}
\providecommand{\seurantavuosi}{}
\newcommand{\seurantatitlepage}{%
\begin{titlepage}\centering
\vspace*{1.5cm}{\large """ + _tex(info["author"]) + r"""\par}\vspace{0.3cm}
{\large """ + _tex(info["series"]) + r""" \seurantanumero\par}
""" + (r"{\normalsize ISSN " + issn + r"\par}" if issn else "") + r"""\vspace{1.5cm}
{\Huge\bfseries\@title\par}\vspace{1cm}
{\large Julkaisupäivä \seurantapaiva\par}\vspace{0.5cm}
""" + (r"{\large Tekijät: " + authors + r"\par}" if authors else "") + r"""
""" + (r"{\large Yhteystiedot: " + contact + r"\par}" if contact else "") + r"""
""" + notice_tex + r"""\vfill
\begin{flushleft}\small
\textbf{Suositeltava viittaus:} """ + _tex(info["author"])
        + r""" (\seurantavuosi). \@title. """ + _tex(info["series"]) + r""" \seurantanumero. """
        + _tex(info["book_url"]) + r"""\par
\medskip Lähde: Sosiaalihuollon seurantarekisteri, """ + _tex(info["author"]) + r""".\par
\end{flushleft}
\end{titlepage}}
\AtBeginDocument{\hypersetup{pdftitle={\@title},pdfauthor={""" + _tex(info["author"])
        + r"""},pdflang={fi-FI},pdfsubject={Sosiaalihuollon asiakkaat}}}
\makeatother
\usepackage[labelformat=empty,labelsep=none,justification=raggedright,singlelinecheck=false,font=bf]{caption}
\usepackage{needspace}
""" + KEEP_HEADINGS_LATEX + r"""
\hyphenpenalty=10000
\exhyphenpenalty=10000
\makeatletter\g@addto@macro\sphinxatlongtablestart{\hyphenpenalty=50\exhyphenpenalty=50}\makeatother
\setcounter{tocdepth}{1}
""")
    return {"maketitle": r"\seurantatitlepage", "preamble": preamble}


#: English strings of Sphinx's LaTeX templates and their Finnish wording.
LATEX_FI = {
    # a long table's header on its next pages (prepare_tex drops Sphinx's "Table 5 –"
    # before it: the book's tables carry their own numbers, "Taulukko AL3.")
    "continued from previous page": "Jatkoa edelliseltä sivulta",
    "Continued from previous page": "Jatkoa edelliseltä sivulta",
    "continues on next page": "jatkuu seuraavalla sivulla",
    "Continued on next page": "Jatkuu seuraavalla sivulla",
}


#: The end of a long table's continuation foot ("jatkuu seuraavalla sivulla") in Sphinx's
#: LaTeX, and the same with room for the depth of the page's last row: longtable keeps
#: the foot's height free on each page, but the rows above it may end with a depth of up to
#: ``\maxdepth`` (5 pt) below the text area, and the foot then went that far below the
#: text area's bottom (issue 25: a long table's foot outside the text area).
LONGTABLE_FOOT_END = "\\\\\n\\endfoot"
LONGTABLE_FOOT_END_WITH_ROOM = "\\\\\n\\noalign{\\vskip\\maxdepth}\n\\endfoot"


def prepare_tex(path: Path, number: str = "", landscape: bool = False,
                date: dt.date | None = None) -> None:
    """Finish a generated .tex before compiling: the series number and the date of this
    paper (``date``: a quarter's, :func:`paper_dates`, or the publication's; the preamble
    names no date, so that a paper carries only its own), Finnish table-continuation
    strings, and landscape pages for wide tables."""
    tex = path.read_text(encoding="utf-8")
    # the continuation line of a long table names Sphinx's own table number ("Table 2 –"),
    # whatever language Sphinx already translated the rest into: the book's tables carry
    # their own numbers in the caption, so the line is the Finnish phrase alone
    tex = tex.replace(r"\tablename\ \thetable{} \textendash{} ", "")
    for en, fi in LATEX_FI.items():
        tex = tex.replace(en, fi)
    tex = tex.replace(LONGTABLE_FOOT_END, LONGTABLE_FOOT_END_WITH_ROOM)
    extra = r"\renewcommand{\seurantanumero}{" + _tex(number) + "}\n"
    if date is not None:   # Sphinx's \date (the publication's ``today``) too
        day = f"{date.day}.{date.month}.{date.year}"
        extra += (r"\renewcommand{\seurantapaiva}{" + day + "}\n"
                  + r"\renewcommand{\seurantavuosi}{" + str(date.year) + "}\n")
        tex = re.sub(r"^\\date\{[^}\n]*\}$", lambda _m: r"\date{" + day + "}", tex, count=1,
                     flags=re.M)
    if landscape:
        extra += r"\geometry{landscape}" + "\n"
    tex = tex.replace(r"\begin{document}", extra + r"\begin{document}", 1)
    path.write_text(tex, encoding="utf-8")


def data_statement(meta: dict, dated: bool = True) -> str:
    """One sentence on the data's size: national-size demo, a scaled-down demo, or a real
    extract (from the data folder's metadata.json; with its extract date when ``dated``)."""
    if not meta.get("synthetic"):
        date = meta.get("extract_date") if dated else None
        return ("Aineisto on sosiaalihuollon seurantarekisterin poiminta"
                + (f" {dt.date.fromisoformat(str(date)).strftime('%-d.%-m.%Y')}." if date
                   else "."))
    scale = float(meta.get("scale", 1.0))
    if scale >= 1:
        return ("Harjoitusaineisto on koko maan kokoinen: väestöpohjat ovat kuntien "
                "todellisia väkilukuja 31.12.2022, ja asiakkaiden ja asiakkuusjaksojen määrät "
                "vastaavat kooltaan koko maata.")
    return (f"Harjoitusaineisto on pienennetty: sen väestö on {bf.fi_pct(100 * scale, 1)} "
            "kuntien todellisesta väestöstä, joten väestöpohjat ja asiakasmäärät ovat "
            "samassa suhteessa todellisia pienempiä.")


def _data_meta(out_dir: Path, quarters: list[str]) -> dict:
    """The data folder's metadata.json, found through the newest quarter's manifest."""
    manifest = Path(out_dir) / max(quarters) / "manifest.json"
    try:
        data_dir = Path(json.loads(manifest.read_text(encoding="utf-8"))["data_dir"])
        return data_metadata(data_dir)
    except (OSError, KeyError, ValueError):
        return {}


def method_substitutions(params: Mapping) -> dict[str, str]:
    """Values of the run's parameters for the written methods chapter ({{ name }} in
    book/*.md)."""

    p = as_params(params)
    q, e, d = p["quality"], p["estimate"], p["disclosure"]

    def num(x):
        return fi_number(x, 0 if float(x) == int(float(x)) else len(str(x).split(".")[-1]))

    variance = {"jackknife": "jackknife-menetelmällä (kunta kerrallaan pois jättäen)",
                "linearised": "linearisoimalla (kuten R:n survey::svyratio)"}
    return {
        "min_count": num(d["min_count"]), "symbol": symbols.SUPPRESSED,
        "rounding": num(e["rounding"]), "z": num(e["z"]),
        "min_municipalities": num(e["min_municipalities"]),
        "published_method": ESTIMATION_METHOD_FI[e["published_method"]],
        "published_method_how": ESTIMATION_METHOD_HOW_FI[e["published_method"]],
        "ratio_variance": variance[e["ratio_variance"]],
        "ramp_min_ratio": num(q["ramp_min_ratio"]), "drop_ratio": num(q["drop_ratio"]),
        "low_ratio": num(q["low_ratio"]), "high_ratio": num(q["high_ratio"]),
        "comparison_z": num(q["comparison_z"]), "robust_z_max": num(q["robust_z_max"]),
        "zero_expected_max": num(float(q["comparison_z"]) ** 2),
        "model_check_fdr": num(100 * float(q["model_check_fdr"])),
        "coef_prior_sd": num(mdl.COEF_PRIOR_SD), "county_sd_prior_max": num(mdl.SD_PRIOR_MAX),
        **{f"rule_{k}": num(v) for k, v in e["publication_rule"].items()},
    }


def row_ledger(out_dir: Path) -> dict[str, str]:
    """The extract's row ledger for the written data chapter (substitutions of
    book/aineisto.md, whose text is there): ``rows_read``, ``rows_accepted``,
    ``rows_rejected``, ``rows_rejected_share`` and ``row_ledger`` (the tables: rows, the
    rejected rows by reason, the flagged ones), from the extract-wide published table
    (``OUT/register/published/ledger.csv``). It describes the whole extract, not one
    quarter, so the book shows it once and each quarter's data chapter points to it."""
    ledger = published.read(published.extract_published_dir(out_dir), "ledger",
                            required=False)
    if ledger is None:
        na = symbols.NOT_AVAILABLE
        return {"rows_read": na, "rows_accepted": na, "rows_rejected": na,
                "rows_rejected_share": na, "row_ledger": ""}

    def rows_of(item):
        return int(ledger.loc[ledger["item"] == item, "rows"].sum())
    n_read, n_acc, n_rej = rows_of("read"), rows_of("accepted"), rows_of("rejected")
    blocks = [("Rivien kirjanpito", bf.pd.DataFrame({
        "Rivit": ["Luetut", "Hyväksytyt", "Hylätyt"],
        "Lukumäärä": [fi_number(v) for v in (n_read, n_acc, n_rej)]}), "")]
    rules = validate.rules_table()
    rule_fi = dict(zip(rules["code"], rules["description_fi"]))
    rej = ledger[(ledger["item"] == "rejected") & (ledger["rows"] > 0)]
    if len(rej):
        blocks.append(("Hylätyt rivit syyn mukaan", bf.pd.DataFrame({
            "Hylkäyksen syy": [rule_fi.get(r, "muu syy") for r in rej["reason"]],
            "Rivejä": [fi_number(v) for v in rej["rows"]]}), ""))
    flag_fi = dict(validate.FLAGS)
    fl = ledger[(ledger["item"] == "flagged") & (ledger["rows"] > 0)]
    if len(fl):
        blocks.append(("Hyväksytyt mutta merkityt rivit", bf.pd.DataFrame({
            "Merkintä": [flag_fi.get(r, "muu merkintä") for r in fl["reason"]],
            "Rivejä": [fi_number(v) for v in fl["rows"]]}),
            "Merkityt rivit ovat mukana laskennassa; merkintä ohjaa tarkastamaan ne."))
    # numbered after the chapter's own Taulukko A1, in the order shown
    md = "\n".join(bf.table_block(f"Taulukko A{i}. {caption}", df, note=note)
                    for i, (caption, df, note) in enumerate(blocks, start=2))
    return {"rows_read": fi_number(n_read), "rows_accepted": fi_number(n_acc),
            "rows_rejected": fi_number(n_rej),
            "rows_rejected_share": bf.fi_share(100 * n_rej / n_read if n_read else 0),
            "row_ledger": md}


#: Captions of the tables in generated Markdown that the written chapters include.
GENERATED_CAPTIONS = {
    "coverage_fi.md": ["Taulukko M2. Luottamusvälien kattavuus ja arvioiden virhe asetelmittain",
                       "Taulukko M3. Julkaistu menetelmä tavoitteisiin verrattuna",
                       "Taulukko M4. Mallitarkistuksen pois jättämät tiedot asetelmittain"],
}


#: The stylesheet of the book (tables usable on a phone: frozen first column).
BOOK_CSS = """
table.table td:first-child, table.table th:first-child {
  position: sticky; left: 0; z-index: 1; background: var(--pst-color-background); }
table.table caption { caption-side: top; text-align: left; font-weight: 600; }
.pst-scrollable-table-container, .table-wrapper { overflow-x: auto; }
"""

#: Written chapters that every quarter's PDF working paper carries as appendices.
PDF_APPENDICES = ["book/kasitteet", "book/menetelmat", "book/laatuseloste", "book/aineisto",
                  "symbolit", "book/toistettavuus"]
#: Pages (HTML file names in the built book) whose main content is not in Finnish: their
#: article element gets this language (WCAG 3.1.2; the interface around it stays Finnish).
PAGE_LANG = {"svenska.html": "sv", "english.html": "en"}


def _stage_written(stage: Path) -> None:
    """The written chapters (``book/*.md`` and the tables they include), the page of
    symbols and the theme's overridden components, staged into ``stage``."""
    (stage / "book").mkdir(parents=True)
    for p in sorted(BOOK_SRC_DIR.glob("*.md")):
        shutil.copy2(p, stage / "book" / p.name)
    if (BOOK_SRC_DIR / "_generated").is_dir():     # tables the chapters include (make coverage)
        shutil.copytree(BOOK_SRC_DIR / "_generated", stage / "book" / "_generated")
        for md in (stage / "book" / "_generated").glob("*.md"):
            md.write_text(caption_tables(md.read_text(encoding="utf-8"),
                                         GENERATED_CAPTIONS.get(md.name, [])),
                          encoding="utf-8")
    (stage / "symbolit.md").write_text(_symbols_md(), encoding="utf-8")
    # the theme's components that axe found inaccessible, overridden (book/_templates/)
    shutil.copytree(BOOK_SRC_DIR / "_templates", stage / "_templates")


def _stage_quarter(stage: Path, out_dir: Path, q: str, synthetic: bool, params: Mapping,
                   pdf: bool, date: dt.date | None = None) -> dict:
    """A quarter's executed notebooks and its page, staged; returns its part of the
    table of contents."""
    nb_dir = out_dir / q / "notebooks"
    names = [n for n, _, _ in notebook_plan(q) if (nb_dir / f"{n}.ipynb").is_file()]
    if not names:
        raise FileNotFoundError(f"no executed notebooks for {q} in {nb_dir}")
    (stage / q).mkdir()
    for n in names:
        shutil.copy2(nb_dir / f"{n}.ipynb", stage / q / f"{n}.ipynb")
    annex = out_dir / q / "annex" / annex_name(q)
    (stage / q / "index.md").write_text(
        _quarter_index_md(q, synthetic, pdf, params, annex.is_file(), date), encoding="utf-8")
    return {"caption": _capital(bf.quarter_name(q)),
            "chapters": [{"file": f"{q}/index",
                          "sections": [{"file": f"{q}/{n}"} for n in names]}]}


def _write_toc(stage: Path, before: list[dict], after: list[dict]) -> None:
    """The staged ``_toc.yml``: the written chapters' (the project's ``_toc.yml``, with
    the page of symbols) between the generated parts ``before`` and ``after`` them."""
    toc = yaml.safe_load((PROJECT_DIR / "_toc.yml").read_text(encoding="utf-8"))
    written = toc.get("parts", [])
    for part in written:
        if part.get("caption") == "Menetelmät ja laatu":
            part["chapters"].append({"file": "symbolit"})
    toc["parts"] = before + written + after
    (stage / "_toc.yml").write_text(yaml.safe_dump(toc, allow_unicode=True, sort_keys=False),
                                    encoding="utf-8")


def _write_config(stage: Path, out_dir: Path, quarters: list[str], synthetic: bool,
                  params: Mapping) -> None:
    """The staged ``_config.yml`` (the project's, with the title page, the notice, the
    stylesheet and the written chapters' substitutions) and the book's stylesheet."""
    info = publication_info(params)
    cfg = yaml.safe_load((PROJECT_DIR / "_config.yml").read_text(encoding="utf-8"))
    cfg["author"] = info["author"]
    cfg["copyright"] = str(info["date"].year)
    notice_text = bf.notice_text(synthetic, params)
    sph = cfg.setdefault("sphinx", {}).setdefault("config", {})
    sph["today"] = info["date_fi"]
    if synthetic:
        cfg.setdefault("html", {})["announcement"] = escape.html(notice_text)   # raw HTML
    sph.setdefault("latex_elements", {}).update(_titlepage_latex(notice_text, info))
    sph["latex_appendices"] = PDF_APPENDICES
    (stage / "_static").mkdir(exist_ok=True)
    (stage / "_static" / "seuranta.css").write_text(BOOK_CSS + MATH_CSS, encoding="utf-8")
    sph["html_static_path"] = ["_static"]
    sph["templates_path"] = ["_templates"]
    sph["html_css_files"] = ["seuranta.css"]
    subs = method_substitutions(params)
    # Release-wide values (the newest extract's date, its row ledger, the release id) are
    # shown on the book's pages only ({only} html in book/*.md): the written chapters are
    # also every quarter's PDF appendices, and a paper whose quarter did not change stays
    # byte-identical from one release to the next (its PDF is reused, cached_latexmk)
    meta = _data_meta(out_dir, quarters)
    subs["data_statement"] = data_statement(meta)          # johdanto (HTML only)
    subs["data_size"] = data_statement(meta, dated=False)  # aineisto (also the PDFs)
    subs.update(row_ledger(out_dir))   # the extract's rows, once (aineisto.md, HTML only)
    subs["release_id"] = portal.current_release_id(out_dir, max(quarters), params)  # toistettavuus
    cfg.setdefault("parse", {})["myst_substitutions"] = subs
    (stage / "_config.yml").write_text(yaml.safe_dump(cfg, allow_unicode=True,
                                                      sort_keys=False), encoding="utf-8")


def stage_book(out_dir: Path, quarters: list[str], synthetic: bool, params: Mapping,
               pdf: bool = True, into: Path | None = None) -> Path:
    """Assemble ``OUT/book/`` from the sources and the executed notebooks (``into/book/``
    when ``into`` is given, with the PDFs of ``into/pdf/`` and the open data written under
    ``into/``: see :func:`build_book`)."""
    out_dir = Path(out_dir)
    into = Path(into) if into is not None else out_dir
    info = publication_info(params)
    quarters = sorted(str(Quarter.parse(q)) for q in quarters)
    stage = into / "book"
    if stage.exists():
        shutil.rmtree(stage)
    _stage_written(stage)
    dates = paper_dates(out_dir, quarters, params)
    quarter_parts = [_stage_quarter(stage, out_dir, q, synthetic, params, pdf, dates[q])
                     for q in reversed(quarters)]
    county_files = _county_pages(stage, out_dir, quarters, synthetic, params)
    costs_parts = []
    costs_nb = newest_costs_notebook(out_dir)
    if costs_nb is not None:
        (stage / "kustannukset").mkdir()
        shutil.copy2(costs_nb, stage / f"{COSTS_DOC}.ipynb")
        (stage / "kustannukset" / "year.txt").write_text(costs_nb.parent.parent.name,
                                                          encoding="utf-8")
        costs_parts = [{"caption": "Sote-tietopaketit",
                        "chapters": [{"file": "kustannukset/costs"}]}]
    (stage / "lataukset.md").write_text(_downloads_md(stage, out_dir, quarters, info,
                                                      into / "pdf"), encoding="utf-8")
    _write_toc(stage, quarter_parts + [{
        "caption": "Hyvinvointialueet",
        "chapters": [{"file": "alueet/index",
                      "sections": [{"file": f} for f in county_files]}]}] + costs_parts,
        [{"caption": "Lataukset", "chapters": [{"file": "lataukset"}]}])
    _write_config(stage, out_dir, quarters, synthetic, params)
    # Reader's entry points (publication.portal, issue 16): landing page, Swedish summary,
    # comparison pages, open data; adds its parts to the staged _toc.yml and _config.yml.
    portal.stage_pages(stage, out_dir, quarters, synthetic, params, open_data_root=into)
    return stage


def stage_preview(out_dir: Path, quarter: str, synthetic: bool, params: Mapping,
                  stage: Path, pdf_dir: Path | None = None) -> Path:
    """A quarter's preview staged into ``stage`` (a new folder): what that quarter's pages
    need and nothing else — its executed notebooks and page, the written chapters and the
    page of symbols they link to, and a page "Lataukset" of the quarter's own files (its
    annex; its working paper when ``pdf_dir`` holds it). No county or comparison page, no
    open data, no costs chapter: those are the whole publication's (:func:`stage_book`)."""
    out_dir, stage = Path(out_dir), Path(stage)
    q = str(Quarter.parse(quarter))
    pdf = pdf_dir is not None and (Path(pdf_dir) / f"{q}.pdf").is_file()
    _stage_written(stage)
    part = _stage_quarter(stage, out_dir, q, synthetic, params, pdf,
                          paper_dates(out_dir, [q], params)[q])
    (stage / "lataukset.md").write_text(
        _downloads_md(stage, out_dir, [q], publication_info(params), pdf_dir, costs=False),
        encoding="utf-8")
    _write_toc(stage, [part], [{"caption": "Lataukset", "chapters": [{"file": "lataukset"}]}])
    _write_config(stage, out_dir, [q], synthetic, params)
    return stage


def sync_tree(src: Path, dst: Path, keep: tuple[str, ...] = ()) -> list[str]:
    """``dst`` made equal to ``src`` file by file, writing only the files whose content
    differs (a file left as it was keeps its modification time, so that Sphinx's
    incremental build reads again only what changed) and removing what ``src`` lacks, but
    the top-level entries named in ``keep`` (the build's own folder); returns the
    relative paths written or removed."""
    src, dst = Path(src), Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    changed = []
    wanted = set()
    for f in sorted(p for p in src.rglob("*") if p.is_file()):
        rel = f.relative_to(src)
        wanted.add(rel)
        target = dst / rel
        if target.is_file() and target.read_bytes() == f.read_bytes():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, target)   # a new modification time: Sphinx reads it again
        changed.append(rel.as_posix())
    for f in sorted(dst.rglob("*"), reverse=True):   # files before their folders
        rel = f.relative_to(dst)
        if rel.parts[0] in keep:
            continue
        if f.is_file() and rel not in wanted:
            f.unlink()
            changed.append(rel.as_posix())
        elif f.is_dir() and not any(f.iterdir()):
            f.rmdir()
    return changed


# --------------------------------------------------------------------------- building

def _jupyter_book() -> str:
    exe = Path(sys.executable).parent / "jupyter-book"
    return str(exe) if exe.exists() else "jupyter-book"


def _run(cmd: list[str], cwd: Path | None = None, log_file: Path | None = None,
         env: Mapping[str, str] | None = None) -> None:
    t0 = time.monotonic()
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
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
#: File name of the Sote-tietopaketit chapter as a working paper of its own (OUT/pdf/).
COSTS_PDF = "kustannukset.pdf"
#: The staged costs chapter (its notebook, ``kustannukset/costs.ipynb``).
COSTS_DOC = "kustannukset/costs"


def costs_paper_title(stage: Path) -> str:
    """Title of the costs working paper: the chapter's heading with its cost year."""
    year = _costs_year(stage)
    return "Sote-tietopakettien kustannukset" + (f" {year}" if year else "")


def _costs_year(stage: Path) -> str:
    p = Path(stage) / "kustannukset" / "year.txt"
    return p.read_text(encoding="utf-8").strip() if p.is_file() else ""


def build_pdfs(stage: Path, quarters: list[str], pdf_dir: Path,
               params: Mapping, cache_dir: Path | None = None,
               reuse: bool = True, dates: Mapping[str, dt.date] | None = None) -> list[Path]:
    """LaTeX builder once for all quarters (:func:`latex_sources`; ``dates``: each
    quarter's paper's date, :func:`paper_dates`), then latexmk (xelatex) per quarter; the
    county pages (if staged) become one more PDF, ``pdf_dir / COUNTY_PDF`` (landscape).
    With ``cache_dir``, a PDF whose sources are those of a PDF made before is copied from
    there instead of compiled (:func:`cached_latexmk`; ``reuse`` false: none is)."""
    latex_dir, docs = latex_sources(stage, quarters, params, dates)
    pdf_dir.mkdir(parents=True, exist_ok=True)
    jobs = {f"seuranta-{q}": pdf_dir / f"{q}.pdf" for q in quarters}
    if "seuranta-alueet" in docs:
        jobs["seuranta-alueet"] = pdf_dir / COUNTY_PDF
    if "seuranta-kustannukset" in docs:
        jobs["seuranta-kustannukset"] = pdf_dir / COSTS_PDF
    if cache_dir is None:
        latexmk(latex_dir, list(jobs), docs)
    else:
        cached_latexmk(latex_dir, list(jobs), cache_dir, reuse, docs)
    for name, target in jobs.items():
        shutil.copy2(latex_dir / f"{name}.pdf", target)
    return [jobs[f"seuranta-{q}"] for q in quarters]


def latex_sources(stage: Path, quarters: list[str], params: Mapping,
                  dates: Mapping[str, dt.date] | None = None
                  ) -> tuple[Path, dict[str, dt.date]]:
    """The LaTeX sources of every working paper of the staged book, ready for latexmk:
    Sphinx's LaTeX folder (``stage/_build/latex``) and each document's date by its name
    (``<name>.tex``: ``seuranta-<Q>`` per quarter, dated ``dates[Q]`` or else the
    publication's date; ``seuranta-alueet`` for the county pages and
    ``seuranta-kustannukset`` for the costs chapter when staged, both of the publication).

    jupyter-book 1.0 cannot pass several ``latex_documents`` through its own build
    command, so the Sphinx configuration it derives from ``_config.yml`` is written out
    (``jupyter-book config sphinx``) and the LaTeX builder is run by sphinx-build.
    """
    info = publication_info(params)
    _run([_jupyter_book(), "config", "sphinx", str(stage)])
    conf = stage / "conf.py"
    author = info["author"]
    docs = [(f"{q}/index", f"seuranta-{q}.tex", paper_title(q), author, "manual", True)
            for q in reversed(quarters)]
    counties = (stage / "alueet" / "index.md").is_file()
    if counties:   # the county drill-down pages as one more PDF
        docs.append(("alueet/index", "seuranta-alueet.tex",
                     "Hyvinvointialueet: kuntien asiakasosuudet vuosineljänneksittäin",
                     author, "manual", True))
    costs = (stage / f"{COSTS_DOC}.ipynb").is_file()
    if costs:      # the Sote-tietopaketit chapter as a working paper of its own (the
        # chapter itself, not a toctree: toctree_only False)
        docs.append((COSTS_DOC, "seuranta-kustannukset.tex", costs_paper_title(stage),
                     author, "manual", False))
    with open(conf, "a", encoding="utf-8") as f:
        f.write(f"\n# One working paper per quarter (added by seuranta.publication.book)\n"
                f"latex_documents = {docs!r}\n")
    try:
        _run([str(Path(sys.executable).parent / "sphinx-build"), "-W", "--keep-going",
              "-q", "-b", "latex", str(stage), str(stage / "_build" / "latex")])
    finally:
        conf.unlink(missing_ok=True)
    latex_dir = stage / "_build" / "latex"
    docs = {f"seuranta-{q}": (dates or {}).get(q, info["date"]) for q in quarters}
    for q in quarters:
        prepare_tex(latex_dir / f"seuranta-{q}.tex", info["numbers"].get(q, ""),
                    date=docs[f"seuranta-{q}"])
    if counties:
        docs["seuranta-alueet"] = info["date"]
        prepare_tex(latex_dir / "seuranta-alueet.tex", "", landscape=True, date=info["date"])
    if costs:
        docs["seuranta-kustannukset"] = info["date"]
        prepare_tex(latex_dir / "seuranta-kustannukset.tex", "", date=info["date"])
    return latex_dir, docs


#: How many latexmk runs go side by side (each is one xelatex process at a time).
LATEX_JOBS = 2


def latexmk(latex_dir: Path, names: list[str],
            dates: Mapping[str, dt.date] | None = None) -> None:
    """``latexmk -xelatex`` of every ``<name>.tex`` of ``latex_dir``, :data:`LATEX_JOBS` at
    a time (each document has its own auxiliary files, and a PDF depends only on its own
    sources and ``SOURCE_DATE_EPOCH``, so the order does not change a byte); the first
    failure (in the order of ``names``) is raised once all have finished. ``dates``: a
    document's own date, its ``SOURCE_DATE_EPOCH`` in a reproducible build
    (:func:`pdf_environment`)."""
    def one(name: str) -> None:
        _run(["latexmk", "-xelatex", "-interaction=nonstopmode", "-halt-on-error",
              f"{name}.tex"], cwd=latex_dir,
             env={**os.environ, **{k: v for k, v in pdf_environment((dates or {}).get(name)).items()
                                   if v is not None}})
    with cf.ThreadPoolExecutor(max_workers=max(1, min(LATEX_JOBS, len(names)))) as pool:
        futures = [pool.submit(one, n) for n in names]
    for f in futures:
        f.result()


#: Files of Sphinx's LaTeX folder that are pictures: a document's key holds those its
#: .tex names (each document's own), not the others'.
_GRAPHICS = {".png", ".jpg", ".jpeg", ".pdf", ".svg", ".eps", ".gif"}
#: The environment a PDF depends on besides its sources (xelatex's dates and the like:
#: ``seuranta.core.reproducible.build_environment``).
_PDF_ENVIRONMENT = ("SOURCE_DATE_EPOCH", "FORCE_SOURCE_DATE", "TZ", "LC_ALL", "LANG")


def pdf_environment(date: dt.date | None = None) -> dict[str, str | None]:
    """The environment of :data:`_PDF_ENVIRONMENT` a document is compiled in: this
    process's, with ``SOURCE_DATE_EPOCH`` at the document's own ``date`` in a reproducible
    build (one that sets it, :func:`seuranta.core.reproducible.fixed_environment`)."""
    env = {k: os.environ.get(k) for k in _PDF_ENVIRONMENT}
    if date is not None and env["SOURCE_DATE_EPOCH"] is not None:
        env["SOURCE_DATE_EPOCH"] = str(source_date_epoch(date))
    return env


def pdf_key(latex_dir: Path, name: str, tools: Mapping, date: dt.date | None = None) -> str:
    """What ``<name>.pdf`` is made from: its .tex, every support file of the LaTeX folder
    (style, class, index style and latexmk files: all that is neither a document's .tex
    nor a picture), the pictures its .tex names, the versions of the tools that compile it
    and the environment they run in (:func:`pdf_environment` of the document's ``date``).
    Sphinx writes all of them into the folder itself;
    its sub-folders are not read (``.doctrees/``: Sphinx's pickles, which hold the
    temporary build folder's path and would make every key new)."""
    latex_dir = Path(latex_dir)
    tex = (latex_dir / f"{name}.tex").read_text(encoding="utf-8")
    files = {}
    for f in sorted(p for p in latex_dir.iterdir() if p.is_file()):
        if f.suffix == ".tex" and f.name != f"{name}.tex":
            continue
        if f.suffix.lower() in _GRAPHICS and f.stem not in tex:
            continue
        files[f.name] = hashlib.sha256(f.read_bytes()).hexdigest()
    return cache_digest({"files": files, "tools": dict(tools),
                         "environment": pdf_environment(date)})


def cached_latexmk(latex_dir: Path, names: list[str], cache_dir: Path,
                   reuse: bool = True, dates: Mapping[str, dt.date] | None = None
                   ) -> list[str]:
    """:func:`latexmk` of the documents whose PDF ``cache_dir`` does not hold yet (by
    :func:`pdf_key`; every document when ``reuse`` is false); the others' PDFs copied from
    there. Each PDF made is stored (written
    aside, then renamed: a killed run leaves no half PDF under a key), and the entries no
    document of this build used are removed (the cache holds the latest book's PDFs).
    ``dates``: each document's own date (:func:`latexmk`). Returns the names compiled."""
    latex_dir, cache_dir = Path(latex_dir), Path(cache_dir)
    tools = tool_versions(pdf=True)
    keys = {n: pdf_key(latex_dir, n, tools, (dates or {}).get(n)) for n in names}
    todo = [n for n in names if not reuse or not (cache_dir / f"{keys[n]}.pdf").is_file()]
    latexmk(latex_dir, todo, dates)
    cache_dir.mkdir(parents=True, exist_ok=True)
    for n in names:
        entry = cache_dir / f"{keys[n]}.pdf"
        if n in todo:
            tmp = entry.with_name(f".tmp-{os.getpid()}-{entry.name}")   # clean_stale's
            shutil.copyfile(latex_dir / f"{n}.pdf", tmp)
            os.replace(tmp, entry)
        else:
            shutil.copyfile(entry, latex_dir / f"{n}.pdf")
    used = {f"{k}.pdf" for k in keys.values()}
    for f in sorted(cache_dir.glob("*.pdf")):
        if f.name not in used:
            f.unlink()
    log.info("  PDFs: %d compiled, %d from the cache", len(todo), len(names) - len(todo))
    return todo


def build_book(out_dir: Path, quarters: list[str], synthetic: bool, params: Mapping,
               pdf: bool = True, into: Path | None = None,
               pdf_cache: Path | None = None, reuse_pdfs: bool = True) -> Path:
    """Stage and build the book: HTML in OUT/book/_build/html, PDFs in OUT/pdf/<Q>.pdf,
    the open data in OUT/avoindata/<release id>/ (all three under ``into`` instead of OUT
    when given: the publication builds into a temporary folder and swaps them in when
    complete, ``pipeline.build_book_phase``).

    Returns the HTML folder. The book is staged once. With PDFs, the HTML and the PDFs are
    built side by side, each from its own copy of the staging (the LaTeX build's copy is
    removed afterwards); once the PDFs exist, the pages that offer them for download are
    written (:func:`offer_pdfs`: they need the PDFs' sizes) and Sphinx's incremental build
    reads those pages again and writes what changed — the same HTML as one build of the
    final staging (:func:`_as_fresh`, :func:`_rewrite_all_when_navigation_changed`).
    ``pdf_cache``: the folder of :func:`cached_latexmk` (none: every PDF compiled and
    none stored; ``reuse_pdfs`` false: every PDF compiled and stored).
    """
    out_dir = Path(out_dir)
    into = Path(into) if into is not None else out_dir
    quarters = sorted(str(Quarter.parse(q)) for q in quarters)
    stage = stage_book(out_dir, quarters, synthetic, params, pdf=False, into=into)
    html_build = [_jupyter_book(), "build", "-W", "--keep-going", "-q", str(stage)]
    if not pdf:
        _run(html_build)
        return stage / "_build" / "html"
    latex_stage = into / LATEX_STAGE
    shutil.copytree(stage, latex_stage)
    try:
        with cf.ThreadPoolExecutor(max_workers=2) as pool:
            html = pool.submit(_run, html_build)
            pdfs = pool.submit(build_pdfs, latex_stage, quarters, into / "pdf", params,
                               pdf_cache, reuse_pdfs, paper_dates(out_dir, quarters, params))
        pdfs.result()
        html.result()
    finally:
        shutil.rmtree(latex_stage, ignore_errors=True)
    offer_pdfs(stage, out_dir, quarters, synthetic, params, into / "pdf")
    _run(html_build)   # incremental: the pages that offer the PDFs
    return stage / "_build" / "html"


#: The copy of the staged book that the LaTeX build reads (beside the book in the build's
#: folder; removed once the PDFs are made).
LATEX_STAGE = "book-latex"


#: The staged files of the preview that Sphinx's folder was built from (in that folder).
PREVIEW_FILES = "seuranta-staged.json"


def build_preview(out_dir: Path, quarter: str, synthetic: bool, params: Mapping,
                  target: Path, pdf: bool = False) -> Path:
    """A quarter's preview (:func:`stage_preview`) built into ``target``: the staging in
    ``target/book`` is kept between previews and rewritten only where a file's content
    changed (:func:`sync_tree`), so Sphinx's incremental build (its environment in
    ``target/book/_build``) reads again only the pages that changed; the pages it does not
    read again are written again when a title or heading of the book changed
    (:func:`_rewrite_all_when_navigation_changed`). With ``pdf``, the quarter's working
    paper is built first into ``target/pdf`` and offered on its pages. A failed build
    removes Sphinx's folder, so that the next preview reads every page again (a warning
    of a page it would not read again would otherwise go unreported). Returns the HTML
    folder."""
    target = Path(target)
    q = str(Quarter.parse(quarter))
    stage = target / "book"
    target.mkdir(parents=True, exist_ok=True)

    def staged(pdf_dir: Path | None) -> list[str]:
        tmp = Path(tempfile.mkdtemp(prefix=".stage-", dir=target))
        try:
            stage_preview(out_dir, q, synthetic, params, tmp / "book", pdf_dir)
            sync_tree(tmp / "book", stage, keep=("_build",))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        files = sorted(p.relative_to(stage).as_posix() for p in stage.rglob("*")
                       if p.is_file() and p.relative_to(stage).parts[0] != "_build")
        listed = stage / "_build" / PREVIEW_FILES
        if not listed.is_file() or json.loads(listed.read_text(encoding="utf-8")) != files:
            # a file added or gone: Sphinx would keep the HTML of a page gone (and the
            # files it copied), so the build starts afresh
            shutil.rmtree(stage / "_build", ignore_errors=True)
        return files

    for p in sorted(target.iterdir()):   # what an earlier preview made and this one does not
        if p.name not in ("book", "pdf") and not p.name.startswith(".stage-"):
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    try:
        files = staged(None)
        if pdf:
            build_pdfs(stage, [q], target / "pdf", params,
                       dates=paper_dates(out_dir, [q], params))
            files = staged(target / "pdf")
        else:
            shutil.rmtree(target / "pdf", ignore_errors=True)
        _run([_jupyter_book(), "build", "-W", "--keep-going", "-q", str(stage)])
    except BaseException:
        shutil.rmtree(stage / "_build", ignore_errors=True)
        raise
    (stage / "_build" / PREVIEW_FILES).write_text(json.dumps(files), encoding="utf-8")
    return stage / "_build" / "html"


def offer_pdfs(stage: Path, out_dir: Path, quarters: list[str], synthetic: bool,
               params: Mapping, pdf_dir: Path) -> None:
    """The staged book, once its PDFs are built into ``pdf_dir``, offering them: each
    quarter's page links its working paper, the page "Lataukset" lists them (its open
    data section, :func:`seuranta.publication.portal.stage_pages`, kept as it was) and the
    county index links ``hyvinvointialueet.pdf``. Everything else of the staging (county
    pages, charts, open data) does not depend on the PDFs and is made once."""
    info = publication_info(params)
    quarters = sorted(str(Quarter.parse(q)) for q in quarters)
    dates = paper_dates(out_dir, quarters, params)
    for q in quarters:
        annex = out_dir / q / "annex" / annex_name(q)
        (stage / q / "index.md").write_text(
            _quarter_index_md(q, synthetic, True, params, annex.is_file(), dates[q]),
            encoding="utf-8")
    page = stage / "lataukset.md"
    _files, sep, open_data = page.read_text(encoding="utf-8").partition(
        "\n" + portal.OPEN_DATA_HEADING + "\n")
    page.write_text(_downloads_md(stage, out_dir, quarters, info, pdf_dir) + sep + open_data,
                    encoding="utf-8")
    if (stage / DOWNLOADS / COUNTY_PDF).is_file() and (stage / "alueet" / "index.md").is_file():
        with open(stage / "alueet" / "index.md", "a", encoding="utf-8") as f:
            f.write(f"\nKaikki alueet PDF-muodossa: "
                    f"{{download}}`{COUNTY_PDF} <../{DOWNLOADS}/{COUNTY_PDF}>`.\n")


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


#: English interface strings of sphinx-book-theme / pydata-sphinx-theme / sphinx extensions
#: that have no Finnish translation, and their Finnish wording (applied to every page).
UI_FI = {
    "Skip to main content": "Siirry pääsisältöön",
    "Back to top": "Takaisin ylös",
    "Search this book...": "Hae julkaisusta...",
    "Search this book": "Hae julkaisusta",
    "Search...": "Hae...",
    "Toggle navigation": "Näytä tai piilota valikko",
    "Toggle primary sidebar": "Näytä tai piilota sivupalkki",
    "Toggle secondary sidebar": "Näytä tai piilota sisällysluettelo",
    "Download this page": "Lataa tämä sivu",
    "Download source file": "Lataa lähdetiedosto",
    "Print to PDF": "Tulosta PDF:ksi",
    "Fullscreen mode": "Koko näytön tila",
    "Light/dark mode": "Vaalea/tumma tila",
    "light/dark": "vaalea/tumma",
    "Contents": "Sisältö",
    "Previous": "Edellinen",
    "previous page": "edellinen sivu",
    "next page": "seuraava sivu",
    "Next": "Seuraava",
    "Copy to clipboard": "Kopioi leikepöydälle",
    "Copied!": "Kopioitu!",
    "By ": "Tekijä: ",
    "Site navigation": "Sivuston navigointi",
    "Section Navigation": "Osion navigointi",
    "Search": "Haku",
    "Ctrl": "Ctrl",
    "On this page": "Tällä sivulla",
    "Link to this heading": "Linkki tähän otsikkoon",
    "Link to this table": "Linkki tähän taulukkoon",
    "Link to this image": "Linkki tähän kuvaan",
    "Link to this code": "Linkki tähän koodiin",
    "Link to this equation": "Linkki tähän kaavaan",
    "Link to this definition": "Linkki tähän määritelmään",
    "Link to this term": "Linkki tähän käsitteeseen",
    "Color mode": "Väritila",
    "System Settings": "Järjestelmän asetus",
    "Light": "Vaalea",
    "Dark": "Tumma",
    "Version warning": "Versiovaroitus",
    "Announcement": "Tiedote",
    "Main": "Pääsisältö",
    "Page": "Sivu",
}

#: Attributes and elements whose English text is replaced (never prose or tables): one
#: pattern for every string, the longer first where one begins another ("Search this
#: book..." before "Search"), so that a page is scanned once. It replaces what one
#: pattern per string applied in turn, longest first, replaced: a match is an attribute's
#: or element's whole text, which holds no ``<``, ``>``, ``"`` or ``=`` (nor does any
#: Finnish wording, none of which is another English string), so matches never overlap
#: and a replacement makes no new match (tests/test_book_fast.py checks this against the
#: strings applied one by one).
_UI_PATTERN = re.compile(
    r'(?P<pre>(?:aria-label|title|placeholder|data-content|data-bs-title|alt)="|>\s*)'
    r"(?P<en>" + "|".join(re.escape(en) for en in sorted(UI_FI, key=len, reverse=True))
    + r')(?P<post>\s*<|")')


def finnish_ui(html: str) -> str:
    """Replace the themes' English interface strings by Finnish ones (attributes and
    element texts that are exactly the string)."""
    return _UI_PATTERN.sub(lambda m: m.group("pre") + UI_FI[m.group("en")] + m.group("post"),
                           html)


#: The theme's disclosure toggle of a navigation entry with sub-pages: a <summary> with an
#: icon only (pydata-sphinx-theme's toctree.py), after the entry's link.
_NAV_TOGGLE = re.compile(r'(?P<link><a class="[^"]*\breference\b[^"]*" href="[^"]*">(?P<text>[^<]*)</a>'
                         r'<details[^>]*>)<summary>(?=<span class="toctree-toggle")')
_NAMELESS_SUMMARY = re.compile(r"<summary>\s*<span[^>]*>\s*<i [^>]*></i>\s*</span>\s*</summary>")


def accessible_html(html: str) -> str:
    """The theme's markup that axe-core finds inaccessible, fixed: each icon-only
    <summary> of the navigation gets a Finnish name that says which entry's sub-pages it
    shows (axe: summary-name). Loud if a nameless toggle is left (the theme changed)."""
    def named(m: re.Match) -> str:
        label = "Näytä tai piilota alaluvut: " + _html.unescape(m.group("text")).strip()
        return f'{m.group("link")}<summary aria-label="{_html.escape(label)}">'
    new = _NAV_TOGGLE.sub(named, html)
    if _NAMELESS_SUMMARY.search(new):
        raise RuntimeError("book: a navigation toggle (<summary>) without a name is left "
                           "(the theme's navigation markup changed)")
    return new


_ARTICLE = re.compile(r'<article class="bd-article"(?P<attrs>[^>]*)>')


def content_lang(html: str, lang: str) -> str:
    """The page's main content (the theme's ``<article class="bd-article">``) marked as
    written in ``lang``; the error is loud if the theme changes its markup."""
    new, n = _ARTICLE.subn(lambda m: f'<article class="bd-article" lang="{lang}"'
                           + re.sub(r'\slang="[^"]*"', "", m.group("attrs")) + ">", html, count=1)
    if n != 1:
        raise RuntimeError(f"book: no <article class=\"bd-article\"> to mark as lang={lang!r} "
                           "(the theme's page layout changed)")
    return new


_EMBEDDED_SVG = re.compile(r"data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)")
_SVG_DEFS = re.compile(rb"(<defs>\n)(.*?)(\n</defs>)", re.S)
_ONE_LINE_DEF = re.compile(rb"<(path|use) [^<>]*/>")


def canonical_svg(svg: bytes) -> bytes:
    """dvisvgm (the formulas of ``sphinx.ext.imgmath``) writes the glyph definitions of an
    SVG in an order that changes from one run to the next; the same definitions in name
    order give the same bytes (an SVG may refer to a definition before or after it)."""
    def one(m: re.Match) -> bytes:
        lines = m.group(2).split(b"\n")
        if not all(_ONE_LINE_DEF.fullmatch(ln) for ln in lines):
            return m.group(0)   # not dvisvgm's one element per line: left as it is
        return m.group(1) + b"\n".join(sorted(lines)) + m.group(3)
    return _SVG_DEFS.sub(one, svg)


def canonical_math(html: str) -> str:
    """Every embedded SVG formula of a page in :func:`canonical_svg`'s form."""
    def one(m: re.Match) -> str:
        svg = base64.b64decode(m.group(1))
        fixed = canonical_svg(svg)
        return m.group(0) if fixed == svg else \
            "data:image/svg+xml;base64," + base64.b64encode(fixed).decode("ascii")
    return _EMBEDDED_SVG.sub(one, html)


#: An image, after the opening of a display formula's block when it is one.
_MATH_IMG = re.compile(r'(?P<display><div class="math">\s*<p>)?(?P<img><img [^>]*?/?>)')
_ALT = re.compile(r'\salt="([^"]*)"')
#: The stylesheet of a formula's MathML (hidden from sight: the SVG shows the formula).
MATH_CSS = """
math.seuranta-mathml { position: absolute !important; width: 1px; height: 1px;
  overflow: hidden; clip: rect(0 0 0 0); clip-path: inset(50%); white-space: nowrap; }
"""


def accessible_math(html: str) -> str:
    """Each formula (``sphinx.ext.imgmath``: an SVG image whose alt text is its LaTeX
    source) read as a formula: the image hidden from assistive technology and the same
    formula beside it as MathML (latex2mathml), visually hidden — what a screen reader
    reads out as mathematics (MathJax's assistive MathML does the same)."""
    from latex2mathml.converter import convert

    def one(m: re.Match) -> str:
        img, display = m.group("img"), m.group("display") or ""
        if not display and 'class="math"' not in img:
            return m.group(0)              # not a formula
        if 'aria-hidden="true"' in img:   # done already (a page an incremental build kept)
            return m.group(0)
        alt = _ALT.search(img)
        if alt is None:
            raise RuntimeError(f"book: a formula image without alt text: {img[:80]}")
        mathml = convert(_html.unescape(alt.group(1)))
        # HTML5 needs no namespace on <math> (and the page names no URL it does not use)
        mathml = re.sub(r'^<math xmlns="[^"]*"', '<math class="seuranta-mathml"', mathml)
        return display + _ALT.sub(' alt="" aria-hidden="true"', img, count=1) + mathml
    return _MATH_IMG.sub(one, html)


def translate_page(text: str, page: Path, outdir: Path) -> str:
    """One HTML page of ``outdir`` as published: its charts as files first
    (:func:`charts_as_files`: a chart's base64, most of a page's bytes, is then not scanned
    by every step after it; no other step reads or writes inside a PNG data URI, so the
    order does not change a byte), no icon script, Finnish interface strings, accessible
    theme markup, formulas as the same bytes every run and as MathML for screen readers,
    and the summary pages' content language."""
    new = _FONTAWESOME_SCRIPT.sub("", charts_as_files(text, page, outdir))
    new = accessible_math(canonical_math(accessible_html(finnish_ui(new))))
    lang = PAGE_LANG.get(page.relative_to(outdir).as_posix())
    return content_lang(new, lang) if lang else new


def _translate_pages(app, exc):
    """Every HTML page as published (:func:`translate_page`)."""
    if exc is not None or app.builder.format != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        new = translate_page(text, page, Path(app.outdir))
        if new != text:
            page.write_text(new, encoding="utf-8")
    drop_source_maps(Path(app.outdir) / "_static")
    drop_unused_theme_files(Path(app.outdir) / "_static")


#: A chart inlined in a page (:func:`seuranta.publication.bookfmt.show`: a notebook
#: carries its charts as data URIs).
_DATA_PNG = re.compile(r'(<img\b[^>]*?\ssrc=")data:image/png;base64,([A-Za-z0-9+/=]+)(")')
#: Folder of the HTML that holds the charts of the pages, by content.
CHARTS = "_images"


def charts_as_files(html: str, page: Path, outdir: Path) -> str:
    """Each chart inlined in ``page`` written once as a file of ``outdir/_images`` named by
    the sha256 of its bytes (a chart on several pages is one file; the same bytes every
    run), and the page's ``<img>`` pointing at it: base64 in the page is a third larger
    than the PNG. The alternative text stays as it was."""
    def one(m: re.Match) -> str:
        data = base64.b64decode(m.group(2))
        f = outdir / CHARTS / f"kuvio-{hashlib.sha256(data).hexdigest()[:24]}.png"
        if not f.is_file():
            f.parent.mkdir(exist_ok=True)
            f.write_bytes(data)
        return m.group(1) + Path(os.path.relpath(f, page.parent)).as_posix() + m.group(3)
    return _DATA_PNG.sub(one, html)


#: The theme's options for the HTML (issue 24: the HTML ≤ 25 MB at national scale): no
#: "download this page" buttons (they link to Sphinx's copies of the page sources,
#: ``_sources/``, which the book does not keep: ``html_copy_source`` is off in _config.yml;
#: the executed notebooks are published in the release, the PDFs and annexes on the pages),
#: and the sidebar lists the pages of the reader's own part of the book (every page carried
#: the whole tree: a tenth of the HTML). Set in :func:`_theme_options`.
HTML_THEME_OPTIONS = {"use_download_button": False, "collapse_navbar": True}


def _theme_options(app, config) -> None:
    if config.html_theme == "sphinx_book_theme":   # (another theme refuses the options)
        config.html_theme_options = {**(config.html_theme_options or {}),
                                     **HTML_THEME_OPTIONS}


#: The theme's icons: its CSS draws them with the Font Awesome web fonts (woff2, which
#: every browser in use reads); the same icons as a 1.5 MB script and the fonts again as
#: TrueType are dropped with the references to them (:func:`drop_unused_theme_files`).
_FONTAWESOME_SCRIPT = re.compile(
    r'<script[^>]*src="[^"]*_static/scripts/fontawesome\.js[^"]*"[^>]*></script>\n?')
_TRUETYPE_SRC = re.compile(r',\s*url\([^)]*\.ttf\)\s*format\("truetype"\)')


def drop_unused_theme_files(static: Path) -> None:
    """The theme's icon script (``scripts/fontawesome.js``; every page's ``<script>`` of it
    is removed by :func:`_translate_pages`) and the TrueType copies of the icon fonts,
    with the stylesheets' ``url()`` of them, so that no page or stylesheet names a missing
    file; and the theme's message catalogues (``locales/``: Sphinx reads them when it
    builds, no page does)."""
    shutil.rmtree(static / "locales", ignore_errors=True)
    for f in [static / "scripts" / "fontawesome.js",
              static / "scripts" / "fontawesome.js.LICENSE.txt",
              *sorted(static.rglob("*.ttf"))]:
        f.unlink(missing_ok=True)
    for f in sorted(static.rglob("*.css")):
        text = f.read_text(encoding="utf-8", errors="surrogateescape")
        new = _TRUETYPE_SRC.sub("", text)
        if new != text:
            f.write_text(new, encoding="utf-8", errors="surrogateescape")


_SOURCE_MAP_COMMENT = re.compile(r"\n?/[*/][#@] sourceMappingURL=[^\n]*?(?: \*/)?[ \t]*(?=\n|$)")


def drop_source_maps(static: Path) -> None:
    """The theme's source maps (``*.map``, a third of ``_static``, read only by a
    developer's browser tools) removed, and the comments that name them, so that no page
    refers to a missing file."""
    for m in sorted(static.rglob("*.map")):
        m.unlink()
    for f in sorted(p for ext in ("*.js", "*.css") for p in static.rglob(ext)):
        text = f.read_text(encoding="utf-8", errors="surrogateescape")
        new = _SOURCE_MAP_COMMENT.sub("", text)
        if new != text:
            f.write_text(new, encoding="utf-8", errors="surrogateescape")


# --------------------------------------------------------------------------- the sandbox
# The book build reads nothing outside its staging folder and lets no remote resource in,
# whatever a page says (the escaping of outside text, seuranta.core.escape, is the first
# line; this is the second): every path a page can name — {download}, {include},
# {literalinclude}, images and figures — is resolved and must lie inside the staging
# folder; images, downloads and raw HTML must not name a remote resource (http(s), //);
# raw and csv-table must not read a file or a URL. A violation stops the build with
# BookSandboxError naming the page and the path.

#: Raw HTML that makes a reader's browser fetch something or run an attribute handler.
_REMOTE_HTML = re.compile(
    r"""\b(?:src|srcset|poster|background|formaction|data|xlink:href)\s*=\s*["']?\s*"""
    r"""(?:[a-z][a-z0-9+.-]*:)?//|<\s*(?:link|base|meta)\b[^>]*(?:href|content)\s*=\s*["']?"""
    r"""[^"'>]*//|url\(\s*["']?\s*(?:[a-z][a-z0-9+.-]*:)?//|@import|\son[a-z]+\s*=|javascript:""",
    re.IGNORECASE)
_REMOTE_URI = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)


def _sandbox_error():
    from sphinx.errors import SphinxError  # heavy dependency: loaded only in the build

    class BookSandboxError(SphinxError):
        category = "seuranta: the book build refused a page"
    return BookSandboxError


def _refuse(what: str) -> None:
    raise _sandbox_error()(what)


def _inside(srcdir, target: str) -> bool:
    root = Path(srcdir).resolve()
    p = Path(target).resolve()
    return p == root or root in p.parents


def _confined_relfn2path(env, filename, docname=None):
    rel, absolute = _ORIGINAL_RELFN2PATH(env, filename, docname)
    if not _inside(env.srcdir, absolute):
        _refuse(f"{docname or env.docname}: {filename!r} lies outside the book's staging "
                f"folder {env.srcdir} (nothing outside it may enter the book)")
    return rel, absolute


_ORIGINAL_RELFN2PATH = None


def _include_read(app, relative_path, parent_docname, content):
    target = Path(app.srcdir) / relative_path
    if not _inside(app.srcdir, target):
        _refuse(f"{parent_docname}: include of {str(relative_path)!r} lies outside the book's "
                f"staging folder {app.srcdir}")


def _check_doctree(app, doctree):
    """Remote images, remote or outside downloads and raw HTML fetching anything: refused."""
    from docutils import nodes  # heavy dependency: loaded only in the build
    from sphinx import addnodes
    doc = app.env.docname
    for node in doctree.findall(nodes.image):
        uri = str(node.get("uri", ""))
        if _REMOTE_URI.match(uri) or "://" in uri:
            _refuse(f"{doc}: image {uri[:80]!r} is a remote resource (the book makes no "
                    "network request)")
    for node in doctree.findall(addnodes.download_reference):
        target = str(node.get("reftarget", ""))
        if "://" in target or _REMOTE_URI.match(target):
            _refuse(f"{doc}: download {target[:80]!r} is remote (downloads are files of "
                    "the build)")
        _confined_relfn2path(app.env, target, doc)
    for node in doctree.findall(nodes.raw):
        if "html" in str(node.get("format", "")).split():
            m = _REMOTE_HTML.search(node.astext())
            if m:
                _refuse(f"{doc}: raw HTML {m.group(0)[:60]!r} would fetch a remote resource "
                        "or run a handler")


_HTML_TABLE = re.compile(r"<table\b", re.I)
_HTML_CAPTION = re.compile(r"<caption\b", re.I)


def _check_captions(app, doctree):
    """The one caption rule: every table of a page has a caption (a title in the
    document tree; ``<caption>`` in raw HTML), read by screen readers as the table's name
    and printed above it in the PDF. A table without one stops the build, naming the page
    (Markdown tables get theirs from ``bookfmt.caption_tables`` or ``table_block``)."""
    from docutils import nodes  # heavy dependency: loaded only in the build
    doc = app.env.docname
    for node in doctree.findall(nodes.table):
        if not any(isinstance(c, nodes.title) for c in node.children):
            first = next(iter(node.findall(nodes.entry)), None)
            head = first.astext()[:40] if first is not None else ""
            _refuse(f"{doc}: a table without a caption (first cell {head!r}): wrap it with "
                    "bookfmt.caption_tables or write it with bookfmt.table_block")
    for node in doctree.findall(nodes.raw):
        if "html" in str(node.get("format", "")).split():
            text = node.astext()
            if len(_HTML_TABLE.findall(text)) > len(_HTML_CAPTION.findall(text)):
                _refuse(f"{doc}: raw HTML with a <table> without a <caption>")


def _no_file_option(directive_class):
    """``directive_class`` without its :file: and :url: options (raw, csv-table)."""
    class Confined(directive_class):
        def run(self):
            for opt in ("file", "url"):
                if opt in self.options:
                    _refuse(f"{self.state.document.get('source', '')}: {self.name} :{opt}: "
                            f"{self.options[opt]!r}: pages may not read files or URLs")
            return super().run()
    Confined.__name__ = f"Confined{directive_class.__name__}"
    return Confined


def _latex_depart_image(self, node):
    """The PDF's text alternative of a figure: its alt text printed under it in small type
    (an untagged PDF cannot carry alt text: TeX Live 2022's tagging breaks longtables),
    unless the paragraph after the image already says the same (the maps)."""
    alt = " ".join(str(node.get("alt", "")).split())
    if not alt:
        return
    after = node.parent.next_node(descend=False, siblings=True) if node.parent else None
    if after is not None and " ".join(after.astext().split()) == alt:
        return
    self.body.append("\n\n{\\small " + self.encode(alt) + "\\par}\n")


def _as_fresh(app) -> None:
    """An incremental build (:func:`build_preview`) writes its pages as a fresh build does:
    Sphinx adds a checksum (``?v=``) to a stylesheet's link when the file is already in the
    output, and myst-nb copies its stylesheet there only when the build finishes, so a
    fresh build links it without one; the copy an earlier build left is removed before
    the pages are written (myst-nb writes it again)."""
    if app.builder.format == "html":
        for f in sorted((Path(app.outdir) / "_static").glob("mystnb.*.css")):
            f.unlink()


def _no_empty_search_terms(app):
    """An incremental build's search index without the words of the pages it read again
    that no page has any more: Sphinx's index keeps each such word with an empty list of
    pages, which a fresh build does not write (its index holds only words found). Runs
    while the HTML builder finishes, before it writes the index (``html-collect-pages``);
    Sphinx has no public interface to the index's words."""
    indexer = getattr(app.builder, "indexer", None)
    for mapping in (getattr(indexer, "_mapping", None), getattr(indexer, "_title_mapping", None)):
        for word in [w for w, docs in (mapping or {}).items() if not docs]:
            del mapping[word]
    return []


def _navigation(env) -> tuple:
    """What every page shows of the other pages: their titles and headings (the sidebar,
    the previous and next links) and the tree of the table of contents."""
    return ({d: t.astext() for d, t in env.titles.items()},
            {d: t.astext() for d, t in env.tocs.items()},
            {d: list(v) for d, v in env.toctree_includes.items()})


def _rewrite_all_when_navigation_changed(app) -> None:
    """An incremental build (a quarter's preview, :func:`build_preview`) writes again only
    the pages it read again; a page it did not read shows the titles of the others in its
    navigation, so when a title, a heading or the tree changed, every page is written
    again: the HTML is then the same as a fresh build's."""
    before = {}

    def remember(app, env, *_added_changed_removed):
        before["navigation"] = _navigation(env)
        return []

    def updated(app, env):
        if before.get("navigation") != _navigation(env):
            return sorted(env.found_docs)
        return []
    app.connect("env-get-outdated", remember)
    app.connect("env-get-updated", updated)


# --------------------------------------------------------------------------- link parsing
# A chart of a notebook is a Markdown image whose destination is the PNG as a data URI
# (bookfmt.show): tens of kilobytes that markdown-it reads one character at a time in
# Python, twice (its link destination parser, then mdurl's percent-encoding), in the HTML
# build and again in the LaTeX build. The two functions below return what markdown-it's
# own functions return for such a destination, found by one regular expression; any other
# destination (one with "(" or a backslash, one in <...>, one that needs encoding) is
# left to markdown-it's own function. Installed by :func:`setup` in the book build only.

#: Where markdown-it's link destination (not in <...>) may stop or needs its own parser:
#: a space or control character or ")" ends it at nesting level 0; "(" and "\\" do not.
_LINK_DESTINATION_STOP = re.compile(r"[\x00-\x20\x7f()\\]")
_ORIGINAL_LINK_DESTINATION = None
_ORIGINAL_URL_ENCODE = None
#: The characters mdurl's encoding keeps as they are, by its ``exclude`` argument.
_URL_KEPT: dict[str, re.Pattern] = {}


def fast_link_destination(string: str, pos: int, maximum: int):
    """markdown-it's ``parseLinkDestination``: the same result, in one regular expression
    search when the destination has neither "(" nor a backslash before its end and is not
    in <...>; otherwise markdown-it's own function's."""
    from markdown_it.helpers import parse_link_destination as pld
    if 0 <= pos < maximum <= len(string) and string[pos] != "<":
        m = _LINK_DESTINATION_STOP.search(string, pos, maximum)
        end = maximum if m is None else m.start()
        if m is None or string[end] not in "(\\":
            result = pld._Result()
            if end > pos:
                result.str = pld.unescapeAll(string[pos:end])
                result.pos = end
                result.ok = True
            return result
    return _ORIGINAL_LINK_DESTINATION(string, pos, maximum)


def fast_url_encode(string: str, exclude: str | None = None, *, keep_escaped: bool = True
                    ) -> str:
    """mdurl's ``encode``: a string of ASCII letters, digits and ``exclude``'s characters
    only, without "%", is returned as it is (what mdurl's own loop returns for it);
    any other goes to mdurl's own function."""
    import mdurl
    exclude = mdurl.ENCODE_DEFAULT_CHARS if exclude is None else exclude
    if exclude.isascii():
        kept = _URL_KEPT.get(exclude)
        if kept is None:
            kept = _URL_KEPT[exclude] = re.compile(
                "[A-Za-z0-9" + "".join(re.escape(c) for c in exclude) + "]*")
        if "%" not in string and kept.fullmatch(string):
            return string
    return _ORIGINAL_URL_ENCODE(string, exclude, keep_escaped=keep_escaped)


def _fast_link_parsing() -> None:
    """:func:`fast_link_destination` and :func:`fast_url_encode` in markdown-it's place
    (once per process; markdown-it looks both up when it parses a link)."""
    global _ORIGINAL_LINK_DESTINATION, _ORIGINAL_URL_ENCODE
    import markdown_it.helpers
    import mdurl
    if _ORIGINAL_LINK_DESTINATION is None:
        _ORIGINAL_LINK_DESTINATION = markdown_it.helpers.parseLinkDestination
        markdown_it.helpers.parseLinkDestination = fast_link_destination
    if _ORIGINAL_URL_ENCODE is None:
        _ORIGINAL_URL_ENCODE = mdurl.encode
        mdurl.encode = fast_url_encode


#: Sphinx's LaTeX template renderers made so far in this process, by their arguments
#: (:func:`latex_renderer`).
_LATEX_RENDERERS: dict[str, object] = {}


def latex_renderer(template_path=None, latex_engine=None):
    """Sphinx's ``LaTeXRenderer`` of these arguments, made once per process: Sphinx's LaTeX
    writer makes a new one for every table (and imgmath for every formula), a Jinja
    environment that reads and compiles the template again each time (about 4 of the
    LaTeX build's 27 CPU-s at scale 0.03). A renderer keeps no state from one rendering to the next but its
    compiled templates (which Jinja checks against their files), so the text is the
    same. Installed by :func:`setup` where those two modules look the class up."""
    from sphinx.util.template import LaTeXRenderer
    key = repr((template_path, latex_engine))
    if key not in _LATEX_RENDERERS:
        _LATEX_RENDERERS[key] = LaTeXRenderer(template_path, latex_engine=latex_engine)
    return _LATEX_RENDERERS[key]


def _reuse_latex_renderers() -> None:
    import sphinx.ext.imgmath
    import sphinx.writers.latex
    for module in (sphinx.writers.latex, sphinx.ext.imgmath):
        module.LaTeXRenderer = latex_renderer


def setup(app):
    """Sphinx extension entry point (``sphinx.extra_extensions`` in _config.yml): Finnish
    interface strings, accessible theme markup, one sphinx-thebe script per page, a
    caption on every table, each figure's alt text printed in the PDF, the sandbox
    (above), the fast link parsing of charts (:func:`_fast_link_parsing`) and one LaTeX
    template renderer per process (:func:`latex_renderer`)."""
    global _ORIGINAL_RELFN2PATH
    from docutils.parsers.rst.directives.misc import Raw
    from docutils.parsers.rst.directives.tables import CSVTable
    from sphinx.environment import BuildEnvironment

    if _ORIGINAL_RELFN2PATH is None:   # this process builds the book only
        _ORIGINAL_RELFN2PATH = BuildEnvironment.relfn2path
        BuildEnvironment.relfn2path = _confined_relfn2path
    _fast_link_parsing()
    _reuse_latex_renderers()
    app.add_directive("raw", _no_file_option(Raw), override=True)
    app.add_directive("csv-table", _no_file_option(CSVTable), override=True)
    app.connect("include-read", _include_read)
    app.connect("doctree-read", _check_doctree, priority=100)   # before Sphinx's collectors
    app.connect("doctree-read", _check_captions)
    from docutils import nodes
    from sphinx.writers.latex import LaTeXTranslator
    app.add_node(nodes.image, override=True,
                 latex=(LaTeXTranslator.visit_image, _latex_depart_image))
    app.connect("config-inited", _theme_options)
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    app.connect("build-finished", _translate_pages)
    _rewrite_all_when_navigation_changed(app)
    app.connect("builder-inited", _as_fresh)
    app.connect("html-collect-pages", _no_empty_search_terms)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
