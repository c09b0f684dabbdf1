"""What each chapter of a quarter says: the computation behind the notebooks.

The notebooks (``notebooks/*.md``) narrate: their prose is MyST Markdown, and a cell calls
one function of this module, which reads the quarter's published tables and returns a
:class:`Chapter` — formatted numbers, names and clauses (``facts``, glued into the
template's Markdown by :func:`glue_facts` and myst-nb's ``{glue:md}``), which of the
template's conditional paragraphs the quarter shows (``shown``: a Markdown cell marked
``+++ {"if": "NAME"}``, kept by :func:`keep_shown` when NAME is true), finished Markdown
tables (``tables``, captioned) and figures with alternative texts written from the data
(``figures``). Only the fragments whose shape depends on the data (an optional sentence
inside a paragraph, a plural form, a list, a figure's alternative text) are Python's, in
:data:`TEXT`, filled by the one small templating helper :func:`say`; :func:`template_text`
shows a template's text for a chapter without a notebook run. Every number comes from
the gate's published tables (``OUT/<Q>/published/``, beside the ``tables_dir`` the
notebooks are given), never from the exact tables: disclosure control, the publication
rule and the precision are the gate's (:mod:`seuranta.publication.gate`,
:mod:`seuranta.publication.rule`), and an estimate is shown as
:func:`seuranta.publication.bookfmt.estimate_state` reads its row.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from seuranta.core import reference, symbols
from seuranta.core.errors import InputError
from seuranta.core.fmt import fi_count
from seuranta.core.labels_fi import DECISION_FI
from seuranta.core.params import as_params
from seuranta.core.quarters import Quarter
from seuranta.publication import bookfmt as bf
from seuranta.publication import compare, published, rule

#: Finnish Markdown of the clauses and sentences whose shape depends on the data
#: (``{name}`` fields): filled into a template's paragraph, or an alternative text.
TEXT = {
    "coverage": ", joiden väestö oli {cover} koko maan väestöpohjasta",
    "spread_hidden": (
        "Mediaani, kvartiilit ja ääriarvot on laskettu niistä {n_shown} kunnasta, joiden "
        "asiakasmäärä julkaistaan, jotta salattua lukua ei voi päätellä niistä."),
    "few_extremes": "Pienin julkaistu osuus oli {lo} ja suurin {hi}.",
    "no_extremes": (
        "Pienintä ja suurinta osuutta ei esitetä, koska niiden vertailu edellyttää "
        "vähintään {min_x} kuntaa."),
    "alt_hidden": "Kuviosta puuttuu {municipalities} asiakasmäärä on salattu.",
    "alt_shares": (
        "Kuvio {fig}: {task}, asiakkaiden osuus {base} {n} kattavassa kunnassa "
        "suuruusjärjestyksessä, {quarter}. Alakvartiili {q1}, mediaani {median}, "
        "yläkvartiili {q3}; pienin {min} ja suurin {max}."),
    "alt_series": (
        "Kuvio {fig}: arvioitu osuus {base} vuosineljänneksittäin (vaihteluväli, kun "
        "pistearviota ei julkaista): {points}."),
    "alt_series_counts": (
        "Kuvio {fig}: rekisteriin kirjatut {gen} asiakkaat vuosineljänneksittäin: "
        "{points}."),
    "rep_age_ok": (
        "Kattavien kuntien ikärakenne ei todennäköisesti vääristä arviota: kun niiden "
        "ikäryhmittäiset osuudet sovitetaan koko maan ikärakenteeseen, arvio muuttuu alle "
        "{threshold}."),
    "rep_age_bias": (
        "Kattavissa kunnissa on eri ikärakenne kuin koko maassa. Koko maan ikärakenteella "
        "laskettu arvio olisi {diff} {way}, joten arvio todennäköisesti {bias} "
        "asiakasmäärää."),
    "rep_size_ok": "Kooltaan ja väestörakenteeltaan kattavat kunnat olivat koko maan kaltaisia.",
    "rep_size_bias": (
        "Kattavat kunnat erosivat koko maasta eniten muuttujassa {covariate}, mikä voi "
        "vääristää arviota."),
    "key_figure": "- **{task}**: {share} {base} (arviolta {estimate} asiakasta)",
    "missing_estimate": "{task}: koko maan arviota ei laadittu, koska {reason}.",
    "year_since": " (sarjan ensimmäinen vuosineljännes on {first})",
}

#: Finnish reasons of the estimate's notes (``estimates.csv`` column ``note``).
NOTE_FI = {
    "no_comprehensive_municipalities": "yksikään kunta ei toimittanut kattavia tietoja",
    "too_few_municipalities": "kattavia kuntia oli liian vähän (vähintään {min} tarvitaan)",
}
NOTE_FI_ALL = {
    "no_comprehensive_municipalities": (
        "yksikään kunta ei ollut kattava kaikissa kuudessa arvioitavassa palvelutehtävässä"),
}


#: A review reason in the book's and PDF's table (AL3) is shortened beyond these many
#: characters, and a word beyond these many, so that one row fits on a page and in its
#: column (a hand-edited corrections.csv is not bounded like a review form); the open
#: data carry the whole text.
REASON_SHOWN_CHARS = 300
REASON_WORD_CHARS = 30


def shown_reason(text: str) -> str:
    """A reason as the table shows it: every word of more than :data:`REASON_WORD_CHARS`
    characters cut with "…", the whole cut at a word beyond :data:`REASON_SHOWN_CHARS`
    (white space as one space, as a table cell shows it anyway)."""
    words = [w if len(w) <= REASON_WORD_CHARS else w[:REASON_WORD_CHARS] + "…"
             for w in str(text).split()]
    out, n = [], 0
    for w in words:
        if n + len(w) > REASON_SHOWN_CHARS:
            out.append("…")
            break
        out.append(w)
        n += len(w) + 1
    return " ".join(out)


def say(key: str, **values) -> str:
    """The one templating helper: :data:`TEXT` ``[key]`` with its fields filled."""
    return TEXT[key].format(**values)


@dataclass
class Chapter:
    """What a chapter shows: glued facts, captioned Markdown tables, figures with alt, and
    which of its template's conditional paragraphs are shown (``shown``: every condition
    the chapter knows, True or False; see :func:`keep_shown`)."""

    facts: dict[str, str] = field(default_factory=dict)
    tables: dict[str, str] = field(default_factory=dict)
    figures: dict[str, tuple[object, str]] = field(default_factory=dict)
    shown: dict[str, bool] = field(default_factory=dict)


#: MIME type of the output by which an executed chapter tells which of its template's
#: conditional Markdown cells are shown (:func:`glue_facts`, read by :func:`keep_shown`).
SHOWN_MIME = "application/vnd.seuranta.shown+json"


class MarkdownText:
    """Markdown text to display or glue. IPython's ``Markdown(text)`` reads a file when the
    text names one: a fact that is a symbol ("." or "..", a suppressed or unavailable
    figure) was read as the working folder and the notebook failed (IsADirectoryError)."""

    def __init__(self, text: str) -> None:
        self.text = str(text)

    def _repr_markdown_(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text


def glue_facts(ch: Chapter) -> None:
    """Glue every fact for the notebook's Markdown (``{glue:md}`name```) and output which
    conditional cells are shown (:data:`SHOWN_MIME`, removed by :func:`keep_shown`)."""
    from IPython.display import display  # heavy dependency: loaded only in notebooks
    from myst_nb import glue  # heavy dependency: loaded only in notebooks
    for k, v in ch.facts.items():
        glue(k, MarkdownText(v), display=False)
    display({SHOWN_MIME: {k: bool(v) for k, v in ch.shown.items()}}, raw=True)


def _shown_cells(cells: list, shown: dict | None, what: str) -> list:
    """``cells`` without the Markdown cells not shown: a Markdown cell with ``"if": NAME``
    in its metadata (``+++ {"if": "NAME"}`` in the MyST template) is kept when ``shown``
    says NAME. A NAME the chapter does not know, or conditional cells when the chapter
    said nothing (``shown`` None), is an error naming ``what``: a misspelt condition would
    otherwise hide its paragraph in every quarter."""
    names = {c.metadata["if"] for c in cells
             if c.cell_type == "markdown" and "if" in c.metadata}
    if not names:
        return cells
    if shown is None:
        raise InputError(f"{what}: Markdown cells shown on a condition ({', '.join(sorted(names))}), "
                         "but the chapter named no conditions (chapters.glue_facts not called)")
    unknown = sorted(names - set(shown))
    if unknown:
        raise InputError(f"{what}: a Markdown cell is shown if {unknown[0]!r}, a condition "
                         f"the chapter does not know (one of: {', '.join(sorted(shown))})")
    return [c for c in cells
            if c.cell_type != "markdown" or "if" not in c.metadata or shown[c.metadata["if"]]]


def keep_shown(nb, what: str):
    """The executed notebook ``nb`` with only the conditional Markdown cells its chapter
    showed (:func:`_shown_cells`), the :data:`SHOWN_MIME` output taken out."""
    shown = None
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.get("outputs"):
            said = [o for o in cell.outputs if SHOWN_MIME in o.get("data", {})]
            for o in said:
                shown = {**(shown or {}), **o["data"][SHOWN_MIME]}
            cell.outputs = [o for o in cell.outputs if SHOWN_MIME not in o.get("data", {})]
    nb.cells = _shown_cells(nb.cells, shown, what)
    return nb


_GLUE_ROLE = re.compile(r"\{glue:md\}`([^`:]+)(?::\w+)?`")
_GLUE_BLOCK = re.compile(r"```\{glue:md\} (\S+)\n(?::[^\n]*\n)*```")


def template_text(template: str | Path, ch: Chapter) -> str:
    """The Markdown of a chapter's template (``notebooks/NAME.md``) as the book shows it
    for ``ch``, without the code cells' outputs: the conditional cells not shown dropped
    and every glued fact filled in. For checking the wording without a notebook run."""
    import jupytext  # heavy dependency: loaded only when used

    cells = _shown_cells(jupytext.read(Path(template)).cells, ch.shown, str(template))

    def fact(m):
        return ch.facts[m.group(1)]
    shown = ("\n".join(ln for ln in c.source.splitlines() if not ln.startswith("%"))
             for c in cells if c.cell_type == "markdown")   # MyST comments are not shown
    return "\n\n".join(_GLUE_BLOCK.sub(fact, _GLUE_ROLE.sub(fact, t)) for t in shown)


def _params(params_file) -> dict:
    """The run's parameters: a file path (the notebook's ``params_file``) or a loaded
    mapping; there is no default."""
    return as_params(params_file)


def _capital(s: str) -> str:
    return s[:1].upper() + s[1:]


def _num(x) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x))


# --------------------------------------------------------------------------- published tables

#: The published tables a chapter reads.
TABLES = ("municipal", "totals", "estimates", "county_estimates", "extremes",
          "tasks_per_client", "multi_task", "year", "quality_reasons",
          "representativeness", "review_decisions", "review_effect", "calibration")


def published_tables(tables_dir: str | Path) -> dict:
    """The quarter's published tables: the gate's output beside ``tables/``
    (:func:`seuranta.publication.published.published_dir_of`); nothing else is read. Read
    afresh by each chapter (no cache between notebooks or runs)."""
    pdir = published.published_dir_of(tables_dir)
    published.read(pdir, "municipal")   # a clear error when the gate has not run
    out = {n: published.read(pdir, n, False) for n in TABLES}
    for df in out.values():
        if df is not None and "county_code" in df.columns:
            df["county_code"] = df["county_code"].fillna("").astype(str)
    return out


def shown(value, symbol) -> bool:
    return not symbol and _num(value)


def count_text(value, symbol) -> str:
    """A published count: the number in Finnish format, or its symbol."""
    return symbol if symbol else (bf.fi_number(value) if _num(value) else symbols.NOT_AVAILABLE)


def _total(pub: dict, kind: str, quarter: str, task: str, county: str = ""):
    t = pub.get("totals")
    if t is None:
        return None
    r = t[(t["kind"] == kind) & (t["quarter"] == quarter) & (t["service_task"] == task)
          & (t["county_code"] == county)]
    return None if r.empty else r.iloc[0]


def published_estimate(pub: dict, task: str, quarter: str, age_group: str = "kaikki"):
    """The published row of a task (the published method's: the only one public), or None."""
    e = pub.get("estimates")
    if e is None:
        return None
    e = e[(e["service_task"] == task) & (e["quarter"] == quarter)
          & (e["age_group"].fillna("kaikki") == age_group)]
    return None if e.empty else e.iloc[0]


def has_estimate(row) -> bool:
    """The rule lets the row be shown: a point estimate or a range."""
    return bf.estimate_kind(row) != "none"


def no_estimate_reason(row, params: dict, task: str = "") -> str:
    """Why a quarter has no estimate, in Finnish (from the estimate's note or symbols)."""
    note = "" if row is None else str(row.get("note") or "")
    if note == "nan":
        note = ""
    nmin = int(params["estimate"]["min_municipalities"])
    if row is not None and str(row.get("publish_as") or "") == "none" and row.get("rule_reason"):
        reason = bf.rule_reason_fi(row["rule_reason"])
        if reason:
            return reason
    if task == "kaikki" and note in NOTE_FI_ALL:
        return NOTE_FI_ALL[note]
    if note in NOTE_FI:
        return NOTE_FI[note].format(min=bf.fi_number(nmin))
    if row is not None and row.get("clients_used_symbol") == symbols.SUPPRESSED:
        return bf.HIDDEN_FI
    n = 0 if row is None or not _num(row.get("municipalities_used")) else int(
        row["municipalities_used"])
    return (f"kattavia kuntia oli {bf.fi_number(n)}, ja arvio edellyttää vähintään "
            f"{bf.fi_number(nmin)}")


def estimate_text(row) -> str:
    """'2 700' for a point estimate, '2 000–4 000' for a published range."""
    return bf.estimate_state(row)[0]


def share_text(row) -> str:
    """The share as the publication rule allows ('2,3 %' or '2,0–3,1 %')."""
    return bf.estimate_state(row)[1]


def show(*texts: str) -> None:
    """Display each non-empty Markdown text (an empty one would print the object's repr)."""
    from IPython.display import display  # heavy dependency: loaded in notebooks
    for t in texts:
        if t and str(t).strip():
            display(MarkdownText(t))


class CaptionNumbers:
    """A chapter's caption numbers: its letters ("IP", "" for the summary), then tables and
    figures each numbered 1, 2, 3, … in the order the chapter shows them, so that a table
    or figure left out (no series yet, no age groups) leaves no gap ("Taulukko 1 → 4",
    issue 25). Call :meth:`next` where the chapter creates each in its notebook's order."""

    def __init__(self, letters: str = "") -> None:
        self.letters = letters
        self._n = {"Taulukko": 0, "Kuvio": 0}

    def next(self, kind: str) -> str:
        """The next number of ``kind`` ("Taulukko" or "Kuvio"), with the letters: "IP2"."""
        self._n[kind] += 1
        return f"{self.letters}{self._n[kind]}"


# --------------------------------------------------------------------------- task chapter
# The chapter's prose is its template's (notebooks/palvelutehtava.md, issue 24): each of its
# variants is a Markdown cell shown if the chapter says so (Chapter.shown), its numbers glued
# facts. Python keeps the sentence fragments whose shape depends on the data (an optional
# clause or sentence inside a paragraph, a plural form), the captions and notes of tables
# and the figures' alternative texts.

def task_chapter(tables_dir: str | Path, quarter: str, task: str,
                 params_file: str | Path | Mapping, *, synthetic: bool) -> Chapter:
    """The chapter of one service task (or the child-welfare-act clients), from the
    quarter's published tables (``synthetic``: the charts' source line says so)."""
    params = _params(params_file)
    pub = published_tables(tables_dir)
    ch = Chapter()
    name = bf.task_name(task)
    qname, qin = bf.quarter_name(quarter), bf.quarter_in(quarter)
    ch.facts.update(quarter=qname, quarter_in=qin, Quarter_in=_capital(qin), task=name,
                    gen=bf.TASK_GENITIVE[task], base=bf.BASE_ELATIVE[task])
    row = published_estimate(pub, task, quarter) if bf.estimated(task) else None
    e = row if has_estimate(row) else None
    num = CaptionNumbers(bf.TASK_ABBR[task])
    _task_lead(ch, pub, quarter, task, row, params)
    _task_county_tables(ch, pub, tables_dir, quarter, task, e, num)
    _task_spread(ch, pub, quarter, task, num, synthetic)
    _task_series(ch, pub, task, num, synthetic)
    _task_quality(ch, pub, quarter, task, num, params)
    return ch


def _task_lead(ch: Chapter, pub: dict, quarter: str, task: str, row, params: dict) -> None:
    """Which lead the chapter shows (a point estimate, a range, why there is none, or the
    registered clients of a task not estimated) and its figures."""
    e = row if has_estimate(row) else None
    kind = "none" if e is None else bf.estimate_kind(e)
    ch.shown.update(estimate=kind == "point", estimate_range=kind == "range",
                    no_estimate=e is None and bf.estimated(task),
                    not_estimated=not bf.estimated(task), cwa=False)
    if e is not None:
        cover = ""
        if _num(e.get("national_base")) and float(e["national_base"]) > 0:
            cover = say("coverage", cover=bf.fi_share(
                100 * float(e["population_used"]) / float(e["national_base"])))
        ch.facts.update(
            share=share_text(e), estimate=estimate_text(e), coverage=cover,
            clients_used=count_text(e["clients_used"], e["clients_used_symbol"]),
            municipalities=bf.fi_number(e["municipalities_used"]))
        if kind == "range":
            ch.facts["range_reason"] = bf.rule_reason_fi(e.get("rule_reason", ""))
        else:
            ch.facts["interval"] = bf.interval_text(e)
    elif bf.estimated(task):
        ch.facts["reason"] = no_estimate_reason(row, params)
    else:
        reg = _total(pub, "registered", quarter, task)
        ch.facts["registered"] = count_text(
            None if reg is None else reg["clients"],
            symbols.NOT_AVAILABLE if reg is None else reg["clients_symbol"])
    if task == "lastensuojelulaki":
        ls, law = (_total(pub, "used", quarter, t) for t in ("lastensuojelu", task))
        if ls is not None and law is not None and shown(ls["clients"], ls["clients_symbol"]) \
                and shown(law["clients"], law["clients_symbol"]) and int(ls["clients"]):
            ch.shown["cwa"] = True
            ch.facts.update(cwa_all=bf.fi_number(ls["clients"]),
                            cwa_law=bf.fi_number(law["clients"]),
                            cwa_share=bf.fi_share(100 * law["clients"] / ls["clients"]))


def _task_county_tables(ch: Chapter, pub: dict, tables_dir, quarter: str, task: str, e,
                        num: CaptionNumbers) -> None:
    """The county table (THL's VA1: the comprehensive municipalities' clients, or the
    registered clients of a task not estimated) and the model-based county estimates."""
    name, qname = bf.task_name(task), bf.quarter_name(quarter)
    cnames = bf.county_names()
    t = pub.get("totals")
    kind = "used" if bf.estimated(task) else "registered"
    rows = []
    if e is not None:
        rows.append(["Arvio koko maa", estimate_text(e)])
    if t is not None:
        nat = _total(pub, kind, quarter, task)
        if nat is not None:
            rows.append(["Edustavat kunnat yhteensä" if kind == "used"
                         else "Rekisteriin kirjatut yhteensä",
                         count_text(nat["clients"], nat["clients_symbol"])])
        ct = t[(t["kind"] == f"county_{kind}") & (t["quarter"] == quarter)
               & (t["service_task"] == task)].sort_values("county_code")
        for r in ct.itertuples():
            label = cnames.get(r.county_code, r.county_code)
            if kind == "used" and not int(r.whole_county or 0):
                label = "Osin " + label
            rows.append([label, count_text(r.clients, r.clients_symbol)])
    tab = pd.DataFrame(rows, columns=["Alue", "Asiakkaat"])
    t1 = num.next("Taulukko") if len(tab) else ""
    if kind == "used":
        note = ("Arvio koko maa on pyöristetty sataan. " if e is not None else "") + (
                "Hyvinvointialueiden rivit ovat niiden "
                "kuntien asiakkaita, joiden tiedot olivat kattavia; »Osin« = vain osa alueen "
                "kunnista. " + bf.symbol_note((symbols.SUPPRESSED,)))
        caption = f"Taulukko {t1}. {name}: asiakasmäärät hyvinvointialueittain, {qname}"
    else:
        note = ("Rekisteriin kirjatut asiakkaat, ei arvio koko maan asiakasmäärästä. "
                + bf.symbol_note((symbols.SUPPRESSED,)))
        caption = (f"Taulukko {t1}. {name}: rekisteriin kirjatut asiakkaat "
                   f"hyvinvointialueittain, {qname}")
    ch.tables["county"] = bf.table_block(caption, tab, note=note) if len(tab) else ""
    pdir = published.published_dir_of(tables_dir)
    model = compare.task_county_table_md(pdir, quarter, task) \
        if (pdir / "municipal.csv").is_file() else None
    ch.shown["county_model"] = bool(model)
    # one caption rule, with the PDF's column widths (bf.caption_tables)
    ch.tables["county_model"] = "" if not model else bf.caption_tables(model, [
        f"Taulukko {t1}b. {name}: asiakkaat hyvinvointialueittain, mallipohjainen arvio, "
        f"{qname}"])


def _extreme(x, end: str, mnames: dict) -> str | None:
    """'2,1 % (Kunta)': the published smallest (``end`` "min") or largest share, or None."""
    if not _num(x.get(end)):
        return None
    return f"{bf.fi_share(x[end])} ({mnames.get(str(x[f'{end}_municipality_code']), '')})"


def _task_spread(ch: Chapter, pub: dict, quarter: str, task: str, num: CaptionNumbers,
                 synthetic: bool) -> None:
    """Differences between municipalities: quartiles, the extremes among shown shares and
    the chart of shares; with too few shown shares, why the quartiles are not shown."""
    ex = pub.get("extremes")
    x = None if ex is None else ex[(ex["quarter"] == quarter) & (ex["service_task"] == task)]
    x = None if x is None or x.empty else x.iloc[0]
    mun = pub["municipal"]
    comp = mun[(mun["quarter"] == quarter) & (mun["service_task"] == task)
               & (mun["quality"] == "comprehensive")]
    hidden = int((comp["share_pct_symbol"] == symbols.SUPPRESSED).sum())
    some = x is not None and int(x["n"]) > 0
    quartiles = some and _num(x.get("median"))
    ch.shown.update(spread=bool(quartiles), few_spread=bool(some and not quartiles),
                    no_spread=not some, hidden=False)
    if not some:
        return
    mnames = bf.municipality_names()
    lo, hi = _extreme(x, "min", mnames), _extreme(x, "max", mnames)
    ch.facts["n_comprehensive"] = bf.fi_number(x["n"])
    ch.facts["extremes"] = say("few_extremes", lo=lo, hi=hi) if lo and hi else ""
    if not quartiles:
        # too few shown shares for quartiles (gate: rule.MIN_QUARTILE_MUNICIPALITIES), or
        # for the smallest and largest to be two municipalities
        n_shown = int(x["n_shown"]) if _num(x.get("n_shown")) else 0
        if not ch.facts["extremes"]:
            ch.facts["extremes"] = say(
                "no_extremes", min_x=bf.fi_number(rule.MIN_EXTREME_MUNICIPALITIES))
        ch.facts.update(n_shown=bf.fi_number(n_shown),
                        min_quartile=bf.fi_number(rule.MIN_QUARTILE_MUNICIPALITIES))
        return
    n_shown = int(x["n_shown"]) if _num(x.get("n_shown")) else int(x["n"])
    ch.facts.update(median=bf.fi_share(x["median"]), q1=bf.fi_share(x["q1"]),
                    q3=bf.fi_share(x["q3"]),
                    spread_hidden=(say("spread_hidden", n_shown=bf.fi_number(n_shown))
                                   if n_shown < int(x["n"]) else ""))
    vis = comp[comp["share_pct_symbol"] == ""]
    shares = pd.Series(vis["share_pct"].astype(float).to_numpy(),
                       index=[mnames[m] for m in vis["municipality_code"]])
    if not len(shares):
        return
    name, base, qname = bf.task_name(task), bf.BASE_ELATIVE[task], bf.quarter_name(quarter)
    f1 = num.next("Kuvio")
    fig = bf.share_chart(shares, float(x["q1"]), float(x["median"]), float(x["q3"]),
                         f"Kuvio {f1}. {name}: asiakkaiden osuus {base}, {qname}",
                         "osuus", synthetic=synthetic)
    alt = say("alt_shares", fig=f1, task=name, base=base,
              n=bf.fi_number(len(shares)), quarter=qname, q1=bf.fi_share(x["q1"]),
              median=bf.fi_share(x["median"]), q3=bf.fi_share(x["q3"]),
              min=bf.fi_share(shares.min()), max=bf.fi_share(shares.max()))
    if hidden:
        ch.shown["hidden"] = True
        ch.facts["hidden_municipalities"] = fi_count(hidden, "kunta, jonka", "kuntaa, joiden")
        alt += " " + say("alt_hidden", municipalities=ch.facts["hidden_municipalities"])
    ch.figures["shares"] = (fig, alt)


def task_map(tables_dir: str | Path, quarter: str, task: str, *, synthetic: bool):
    """(figure, described) of the task's map of municipal shares and data quality
    (:mod:`seuranta.publication.maps`) from the gate's published tables; None before the
    gate has written them."""
    from seuranta.publication import maps  # heavy dependency: loaded only for the map
    pdir = published.published_dir_of(tables_dir)
    if not (pdir / "municipal.csv").is_file():
        return None
    rows = published.municipal_rows(pdir, task, quarter)
    who = "lastensuojelulain mukaisten" if task == "lastensuojelulaki" else bf.TASK_GENITIVE[task]
    base = bf.BASE_ELATIVE[task]
    described = maps.describe(rows, bf.municipality_names(), f"{who} asiakkaiden osuus {base}")
    fig = maps.share_map(rows, f"Kartta {bf.TASK_ABBR[task]}1. {bf.task_name(task)}: "
                               f"asiakkaiden osuus {base} kunnittain, {bf.quarter_name(quarter)}",
                         synthetic=synthetic)
    return fig, described


def _task_series(ch: Chapter, pub: dict, task: str, num: CaptionNumbers,
                 synthetic: bool) -> None:
    """The series of published estimates (chart and table), or of registered clients of a
    task not estimated."""
    name, base, gen = bf.task_name(task), bf.BASE_ELATIVE[task], bf.TASK_GENITIVE[task]
    t = pub.get("totals")
    s = estimate_series(pub, task) if bf.estimated(task) else None
    if s is not None and len(s):
        f2 = num.next("Kuvio")
        fig = bf.estimate_series_chart(
            s, f"Kuvio {f2}. Arvioitu osuus {base} vuosineljänneksittäin",
            synthetic=synthetic)
        points = "; ".join(f"{bf.quarter_name(q)} {v}"
                           for q, v in zip(s["quarter"], s["share_text"]))
        ch.figures["series"] = (fig, say("alt_series", fig=f2, base=base, points=points))
        ch.tables["series"] = bf.table_block(
            f"Taulukko {num.next('Taulukko')}. {name}: arviot vuosineljänneksittäin",
            bf.estimate_series_table(s), note=series_note(pub, task, s))
    elif t is not None:
        g = t[(t["kind"] == "registered") & (t["service_task"] == task)
              & (t["county_code"] == "") & (t["clients_symbol"] == "")].sort_values("quarter")
        if len(g):
            f2 = num.next("Kuvio")
            fig = bf.series_chart(list(g["quarter"]), list(g["clients"].astype(float)),
                                  pct=False, title=f"Kuvio {f2}. Rekisteriin kirjatut "
                                  "asiakkaat vuosineljänneksittäin", ylabel="asiakkaita",
                                  synthetic=synthetic)
            points = "; ".join(f"{bf.quarter_name(q)} {bf.fi_number(v)}"
                               for q, v in zip(g["quarter"], g["clients"]))
            ch.figures["series"] = (fig, say("alt_series_counts", fig=f2, gen=gen,
                                             points=points))
    ch.shown["no_series"] = "series" not in ch.figures


def _task_quality(ch: Chapter, pub: dict, quarter: str, task: str, num: CaptionNumbers,
                  params: dict) -> None:
    """Data quality by county, representativeness and the reasons of the quality classes."""
    name, qname = bf.task_name(task), bf.quarter_name(quarter)
    mun = pub["municipal"]
    qm = mun[(mun["quarter"] == quarter) & (mun["service_task"] == task)]
    if len(qm):
        cnames = bf.county_names()
        pc = qm.assign(n=1).pivot_table(index="county_code", columns="quality", values="n",
                                        aggfunc="sum", fill_value=0)
        for k in ("comprehensive", "partial", "none"):
            if k not in pc.columns:
                pc[k] = 0
        b = qm.groupby("county_code")["population_base"].sum()
        bc = qm[qm["quality"] == "comprehensive"].groupby("county_code")["population_base"].sum()
        cov = (100 * bc.reindex(b.index).fillna(0) / b.where(b > 0)).fillna(0)
        tab = pd.DataFrame({
            "Hyvinvointialue": [cnames.get(c, c) for c in pc.index],
            "Kattavat": [bf.fi_number(v) for v in pc["comprehensive"]],
            "Osittaiset": [bf.fi_number(v) for v in pc["partial"]],
            "Ei tietoja": [bf.fi_number(v) for v in pc["none"]],
            "Kattavien osuus väestöpohjasta": [bf.fi_share(cov.get(c, 0)) for c in pc.index],
        })
        tot = pc.sum()
        tab.loc[len(tab)] = ["Koko maa", bf.fi_number(tot["comprehensive"]),
                             bf.fi_number(tot["partial"]), bf.fi_number(tot["none"]),
                             bf.fi_share(100 * bc.sum() / b.sum() if b.sum() else 0)]
        ch.tables["quality"] = bf.table_block(
            f"Taulukko {num.next('Taulukko')}. {name}: kuntien tietojen laatu "
            f"hyvinvointialueittain, {qname}",
            tab, note=("Kuntien lukumäärät. Laatuluokat on kuvattu luvussa "
                       "{ref}`Menetelmät <laatuluokat>`."))
    rs = pub.get("representativeness")
    r = None
    if rs is not None and bf.estimated(task):
        r = rs[(rs["service_task"] == task) & (rs["quarter"] == quarter)]
        r = r.iloc[0].to_dict() if len(r) else None
    representativeness(ch, r, params)
    ch.tables["reasons"] = ""
    reasons = pub.get("quality_reasons")
    qtask = "lastensuojelu" if task == "lastensuojelulaki" else task
    if reasons is not None:
        vc = reasons[(reasons["service_task"] == qtask) & (reasons["quarter"] == quarter)]
        if len(vc):
            tab = pd.DataFrame({"Syy": [d or "muu syy" for d in vc["description_fi"]],
                                "Kuntia": [bf.fi_number(v) for v in vc["municipalities"]]})
            ch.tables["reasons"] = bf.table_block(
                f"Taulukko {num.next('Taulukko')}. {name}: laatuluokituksen syyt, {qname}", tab,
                note="Kunnalla voi olla useita syitä.")



def estimate_series(pub: dict, task: str, age_group: str = "kaikki") -> pd.DataFrame:
    """The published estimates of a task in every quarter, each as the publication rule
    allows: kind (point / range), estimate_text, share_text, interval_text, n
    (municipalities used) and, for the chart only, share (a point's), lo_share / hi_share
    (a point's interval or a range as shares of the base). Quarters without a published
    estimate are left out."""
    cols = ["quarter", "kind", "estimate_text", "share_text", "interval_text", "n", "share",
            "lo_share", "hi_share"]
    e = pub.get("estimates")
    rows = []
    nan = float("nan")
    if e is not None:
        for q in sorted(e["quarter"].unique()):
            r = published_estimate(pub, task, q, age_group)
            kind = bf.estimate_kind(r)
            if kind == "none":
                continue
            est, share = bf.estimate_state(r)
            base = float(r["national_base"]) if _num(r.get("national_base")) else nan
            if kind == "point":
                point = float(r["share_pct"]) if bf._shown(r, "share_pct") else nan
                band = (bf._shown(r, "ci_low") and bf._shown(r, "ci_high") and base > 0)
                lo = 100 * float(r["ci_low"]) / base if band else nan
                hi = 100 * float(r["ci_high"]) / base if band else nan
            else:
                point = nan
                lo, hi = (float(r[c]) if bf._shown(r, c) else nan
                          for c in ("range_low_pct", "range_high_pct"))
            rows.append([q, kind, est, share,
                         bf.interval_text(r) if kind == "point" else symbols.NOT_AVAILABLE,
                         int(r["municipalities_used"]), point, lo, hi])
    return pd.DataFrame(rows, columns=cols)


def series_note(pub: dict, task: str, s: pd.DataFrame, age_group: str = "kaikki") -> str:
    note = ("Arviot on pyöristetty sataan, luottamusvälit ulospäin. Kun tiedot eivät riitä "
            "pistearvioon, neljänneksen arvio on vaihteluväli (luottamusväli "
            f"{symbols.NOT_AVAILABLE}).")
    e = pub.get("estimates")
    quarters = set() if e is None else set(e["quarter"])
    missing = sorted(quarters - set(s["quarter"]))
    if missing:
        note += (" Arviota ei julkaistu (liian vähän kattavia tietoja tai salattu "
                 "tietosuojan vuoksi): " + ", ".join(bf.quarter_name(q) for q in missing) + ".")
    return note


def representativeness(ch: Chapter, row: dict | None, params: dict) -> None:
    """Do the comprehensive municipalities look like the whole country? (the published
    ``representativeness`` row; None: nothing is said): the template's paragraph
    ``representative`` with its age and size clauses, or ``rep_few``."""
    ch.shown.update(representative=False, rep_few=False)
    if row is None:
        return
    n = int(row.get("n_comprehensive") or 0)
    if n < 2:
        ch.shown["rep_few"] = True
        return
    threshold = float(params["quality"]["verdict_threshold_pct"])
    diff = row.get("age_adjusted_diff_pct")
    if not _num(diff):
        age = ""
    elif abs(diff) < threshold:
        age = say("rep_age_ok", threshold=bf.fi_share(threshold))
    else:
        age = say("rep_age_bias", diff=bf.fi_share(abs(diff)),
                  way="suurempi" if diff > 0 else "pienempi",
                  bias="aliarvioi" if diff > 0 else "yliarvioi")
    differs = row.get("size_differs")
    if differs is None or pd.isna(differs):
        size = ""
    elif int(differs):
        size = say("rep_size_bias", covariate=str(row.get("covariate_fi") or ""))
    else:
        size = say("rep_size_ok")
    ch.shown["representative"] = True
    ch.facts.update(rep_n=bf.fi_number(n), rep_cover=bf.fi_share(row.get("base_coverage_pct")),
                    rep_age=age, rep_size=size)


# --------------------------------------------------------------------------- summary

def summary_chapter(tables_dir: str | Path, quarter: str,
                    params_file: str | Path | Mapping) -> Chapter:
    """The quarter's summary from the published tables: registered clients, key figures,
    age groups, the series and (with a year's last quarter) the whole year."""
    params = _params(params_file)
    pub = published_tables(tables_dir)
    ch = Chapter()
    tasks = reference.task_codes()
    qname, qin = bf.quarter_name(quarter), bf.quarter_in(quarter)
    ch.facts["quarter"] = qname
    ch.facts["quarter_in"] = qin
    distinct = _total(pub, "distinct_all", quarter, "kaikki")
    counted = _total(pub, "registered_all", quarter, "kaikki")
    ch.facts["Quarter_in"] = _capital(qin)
    ch.shown.update(registered=distinct is not None and counted is not None,
                    registered_only=distinct is None and counted is not None)
    if counted is not None:
        ch.facts["counted"] = count_text(counted["clients"], counted["clients_symbol"])
    if distinct is not None:
        ch.facts["distinct"] = count_text(distinct["clients"], distinct["clients_symbol"])

    rows, key, missing = [], [], []
    for task in tasks + ["lastensuojelulaki"]:
        row = published_estimate(pub, task, quarter) if bf.estimated(task) else None
        if has_estimate(row):
            rows.append([bf.task_name(task), estimate_text(row),
                         share_text(row), bf.BASE_ELATIVE[task],
                         bf.fi_number(row["municipalities_used"])])
            key.append(say("key_figure", task=bf.task_name(task),
                           share=share_text(row),
                           base=bf.BASE_ELATIVE[task], estimate=estimate_text(row)))
            continue
        if bf.estimated(task):
            missing.append(say("missing_estimate", task=bf.task_name(task),
                               reason=no_estimate_reason(row, params, task)))
            used = _total(pub, "used", quarter, task)
            clients = count_text(None, symbols.NOT_AVAILABLE) if used is None else \
                count_text(used["clients"], used["clients_symbol"])
            rows.append([bf.task_name(task), clients + " ¹", symbols.NOT_APPLICABLE,
                         bf.BASE_ELATIVE[task], symbols.NOT_APPLICABLE])
        else:
            reg = _total(pub, "registered", quarter, task)
            clients = count_text(None, symbols.NOT_AVAILABLE) if reg is None else \
                count_text(reg["clients"], reg["clients_symbol"])
            rows.append([bf.task_name(task), clients + " ²", symbols.NOT_APPLICABLE,
                         bf.BASE_ELATIVE[task], symbols.NOT_APPLICABLE])
    tab = pd.DataFrame(rows, columns=["Palvelutehtävä", "Asiakkaita", "Osuus", "Väestöpohja",
                                      "Kuntia arviossa"])
    num = CaptionNumbers()
    ch.tables["tasks"] = bf.table_block(
        f"Taulukko {num.next('Taulukko')}. Sosiaalihuollon asiakkaat palvelutehtävittäin, {qname}",
        tab, right=["Asiakkaita", "Osuus", "Kuntia arviossa"],
        note=("Koko maan arviot on pyöristetty sataan; luottamusvälit ovat palvelutehtävien "
              "luvuissa. Kun tiedot eivät riitä pistearvioon, arvio ja osuus ovat "
              "vaihteluvälejä. ¹ Arviota ei julkaistu: kattavien kuntien asiakkaat. ² Ei kuulu "
              "rekisterin ensimmäiseen vaiheeseen: rekisteriin kirjatut asiakkaat, ei arviota. "
              + bf.symbol_note((symbols.SUPPRESSED, symbols.NOT_AVAILABLE,
                                symbols.NOT_APPLICABLE))
              + " Lähde: Sosiaalihuollon seurantarekisteri, THL."))
    ch.facts["key_figures"] = "\n".join(key)
    ch.shown["no_key_figures"] = not key
    ch.facts["missing_estimates"] = " ".join(missing)

    # age groups
    all_row = published_estimate(pub, "kaikki", quarter)
    arows = []
    for g, label in [("kaikki", "Koko väestö")] + [
            (g, _capital(bf.AGE_GROUP_FI[g])) for g in ("0-17", "18-64", "65+", "85+")]:
        r = published_estimate(pub, "kaikki", quarter, g)
        if has_estimate(r):
            arows.append([label, estimate_text(r), share_text(r),
                          bf.fi_number(r["municipalities_used"])])
    ch.shown["all_clients"] = bool(arows) and has_estimate(all_row)
    ch.shown["no_age_estimate"] = not ch.shown["all_clients"]
    if ch.shown["all_clients"]:
        ch.facts.update(all_share=share_text(all_row),
                        all_municipalities=bf.fi_number(all_row["municipalities_used"]))
        ch.tables["age"] = bf.table_block(
            f"Taulukko {num.next('Taulukko')}. Sosiaalihuollon eri asiakkaat ikäryhmittäin, "
            f"{qname}",
            pd.DataFrame(arows, columns=["Ikäryhmä", "Asiakkaita", "Osuus ikäryhmästä",
                                         "Kuntia arviossa"]),
            note="Arviot on pyöristetty sataan; vaihteluväli, kun tiedot eivät riitä "
                 "pistearvioon.")
    else:
        ch.facts["age_reason"] = no_estimate_reason(all_row, params, "kaikki")
        ch.tables["age"] = ""

    s = estimate_series(pub, "kaikki")
    ch.tables["series"] = bf.table_block(
        f"Taulukko {num.next('Taulukko')}. Sosiaalihuollon eri asiakkaat "
        "vuosineljänneksittäin, koko väestö",
        bf.estimate_series_table(s, "Osuus väestöstä"),
        note=series_note(pub, "kaikki", s)) if len(s) > 1 else ""
    ch.tables["year"] = year_table(pub, num)
    year_lead(ch, pub, quarter)
    return ch


# --------------------------------------------------------------------------- whole year

def year_frame(pub: dict) -> pd.DataFrame | None:
    """Whole-year distinct clients per task and over all tasks (``kaikki``) of the newest
    complete calendar year, from the gate's published ``year`` table (of
    :func:`published_tables`; None when no calendar year is complete by the quarter)."""
    y = pub.get("year")
    return None if y is None or y.empty else y


def year_table(pub: dict, num: CaptionNumbers) -> str:
    """Captioned Markdown table of :func:`year_frame` ('' when there is no whole year), its
    caption the chapter's next table number."""
    y = year_frame(pub)
    if y is None:
        return ""
    year = int(y["year"].iloc[0])
    tab = pd.DataFrame({
        "Palvelutehtävä": ["Kaikki palvelutehtävät" if t == "kaikki" else bf.task_name(t)
                           for t in y["service_task"]],
        "Rekisteriin kirjatut eri asiakkaat": [count_text(v, s) for v, s in
                                               zip(y["clients"], y["clients_symbol"])],
        "Koko vuoden kattavat kunnat": [bf.fi_number(v) for v in y["municipalities_full_year"]],
        "Asiakkaita niissä": [count_text(v, s) for v, s in
                              zip(y["clients_full_year"], y["clients_full_year_symbol"])],
        "Osuus väestöpohjasta niissä": [
            s if s else (bf.fi_share(v) if _num(v) else symbols.NOT_AVAILABLE)
            for v, s in zip(y["share_full_year_pct"], y["share_full_year_pct_symbol"])],
    })
    return bf.table_block(
        f"Taulukko {num.next('Taulukko')}. Koko vuoden {year} eri asiakkaat palvelutehtävittäin", tab,
        note=("Henkilö lasketaan kunnassa kerran, vaikka hän olisi ollut asiakkaana usealla "
              "vuosineljänneksellä; rivillä Kaikki palvelutehtävät myös, vaikka hän olisi "
              "ollut usean palvelutehtävän asiakas. Koko vuoden kattavat kunnat: kunnan tiedot "
              "arvioitiin kattaviksi vuoden jokaisella neljänneksellä (kaikilla "
              "palvelutehtävillä: kaikissa kuudessa arvioitavassa). "
              + bf.symbol_note((symbols.SUPPRESSED, symbols.NOT_AVAILABLE))))


def year_lead(ch: Chapter, pub: dict, quarter: str) -> None:
    """Which lead "Koko vuosi" has: the whole year's figures (``year``), when they come
    (``year_later``: a quarter before the year's last), or why the year has none
    (``year_missing``: its last quarter, but the series lacks an earlier quarter of the
    year; ``year_since`` names the series' first quarter when it is of that year)."""
    y = year_frame(pub)
    q = Quarter.parse(quarter)
    ch.shown.update(year=y is not None, year_later=y is None and q.q < 4,
                    year_missing=y is None and q.q == 4)
    ch.facts["year"] = str(q.year if y is None else int(y["year"].iloc[0]))
    if ch.shown["year_missing"]:
        m = pub.get("municipal")
        first = min(m["quarter"].astype(str)) if m is not None and len(m) else None
        ch.facts["year_since"] = (
            say("year_since", first=Quarter.parse(first).name_fi)
            if first and Quarter.parse(first).year == q.year else "")


# --------------------------------------------------------------------------- multi-service

# The chapter's lead is prose of its template (notebooks/monipalvelu.md, issue 24): this
# module glues its numbers (multi_quarter_in, multi_total, multi_clients, multi_share) and
# says whether the commonest pair may be shown (multi_pair).
TEXT.update({
    "alt_multi": ("Kuvio MP1: asiakkaat palvelutehtävien lukumäärän mukaan, {quarter}: {points}."),
})


def multi_chapter(tables_dir: str | Path, quarter: str, *, synthetic: bool) -> Chapter:
    """Clients of several service tasks (registered clients, not national estimates), from
    the published tables (``synthetic``: the chart's source line says so)."""
    pub = published_tables(tables_dir)
    ch = Chapter()
    qname, qin = bf.quarter_name(quarter), bf.quarter_in(quarter)
    tasks = reference.task_codes()
    tpc = pub.get("tasks_per_client")
    nat = tpc[tpc["county_code"] == ""].copy()
    nat["n_tasks"] = nat["n_tasks"].astype(int)
    nat = nat.sort_values("n_tasks")
    total = _total(pub, "tpc_total", quarter, "kaikki")
    multi = _total(pub, "tpc_multi", quarter, "kaikki")
    mt = pub.get("multi_task")
    ch.shown["multi_pair"] = False
    if mt is not None:
        mv = mt[mt["clients_symbol"] == ""].sort_values(["clients", "task_a", "task_b"],
                                                        ascending=[False, True, True])
        if len(mv) and int(mv.iloc[0]["clients"]) > 0:
            p = mv.iloc[0]
            ch.shown["multi_pair"] = True
            ch.facts.update(pair_a=bf.task_name(p["task_a"]).lower(),
                            pair_b=bf.task_name(p["task_b"]).lower(),
                            pair_n=bf.fi_number(p["clients"]))
    tot_ok = total is not None and shown(total["clients"], total["clients_symbol"])
    mul_ok = multi is not None and shown(multi["clients"], multi["clients_symbol"])
    ch.facts.update({
        "multi_quarter_in": _capital(qin),
        "multi_total": count_text(*(total[["clients", "clients_symbol"]] if total is not None
                                    else (None, symbols.NOT_AVAILABLE))),
        "multi_clients": count_text(*(multi[["clients", "clients_symbol"]] if multi is not None
                                      else (None, symbols.NOT_AVAILABLE))),
        "multi_share": (bf.fi_share(100 * multi["clients"] / total["clients"])
                        if tot_ok and mul_ok and int(total["clients"])
                        else symbols.NOT_AVAILABLE)})
    lab = [str(n) for n in nat["n_tasks"]]
    shares = [bf.fi_share(100 * v / total["clients"]) if tot_ok and int(total["clients"])
              and not sym else (sym or symbols.NOT_AVAILABLE)
              for v, sym in zip(nat["clients"], nat["clients_symbol"])]
    tab = pd.DataFrame({"Palvelutehtäviä": lab,
                        "Asiakkaat": [count_text(v, sym) for v, sym in
                                      zip(nat["clients"], nat["clients_symbol"])],
                        "Osuus": shares})
    tab.loc[len(tab)] = ["Yhteensä", count_text(*(total[["clients", "clients_symbol"]]))
                         if total is not None else symbols.NOT_AVAILABLE, bf.fi_share(100)]
    ch.tables["n_tasks"] = bf.table_block(
        f"Taulukko MP1. Asiakkaat palvelutehtävien lukumäärän mukaan, {qname}", tab,
        note=bf.symbol_note((symbols.SUPPRESSED,)))
    values = [float(v) if not sym else 0.0 for v, sym in zip(nat["clients"],
                                                              nat["clients_symbol"])]
    fig = bf.count_chart(lab, values,
                         f"Kuvio MP1. Asiakkaat palvelutehtävien lukumäärän mukaan, {qname}",
                         "palvelutehtäviä samalla asiakkaalla", "asiakkaita",
                         synthetic=synthetic)
    points = "; ".join(f"{n} palvelutehtävää {v}" for n, v in zip(lab, tab["Asiakkaat"][:-1]))
    ch.figures["n_tasks"] = (fig, say("alt_multi", quarter=qname, points=points))

    short = bf.TASK_SHORT
    grid = pd.DataFrame(symbols.NOT_APPLICABLE, index=[short[t] for t in tasks],
                        columns=[short[t] for t in tasks[1:]])
    if mt is not None:
        for r in mt[mt["task_a"].isin(tasks) & mt["task_b"].isin(tasks)].itertuples():
            a, b = sorted([r.task_a, r.task_b], key=tasks.index)
            grid.loc[short[a], short[b]] = count_text(r.clients, r.clients_symbol)
    grid = grid.iloc[:-1]
    grid.insert(0, "Palvelutehtävä", grid.index)
    ch.tables["pairs"] = bf.table_block(
        f"Taulukko MP2. Samanaikaisten palvelutehtävien asiakkaat pareittain, {qname}", grid,
        note=("Asiakkaat, jotka olivat vuosineljänneksen aikana molempien palvelutehtävien "
              "asiakkaina (koko maa); kukin pari on taulukossa kerran. "
              + bf.symbol_note((symbols.SUPPRESSED, symbols.NOT_APPLICABLE))))

    names = bf.county_names()
    t = pub.get("totals")
    rows = []
    if t is not None:
        tt = t[(t["quarter"] == quarter) & (t["county_code"] != "")
               & t["kind"].isin(["tpc_total", "tpc_multi"])]
        for code, g in tt.groupby("county_code", sort=True):
            tot = g[g["kind"] == "tpc_total"].iloc[0]
            mul = g[g["kind"] == "tpc_multi"].iloc[0]
            ok = shown(tot["clients"], tot["clients_symbol"]) and shown(
                mul["clients"], mul["clients_symbol"]) and int(tot["clients"])
            rows.append([names.get(code, code), count_text(tot["clients"], tot["clients_symbol"]),
                         count_text(mul["clients"], mul["clients_symbol"]),
                         bf.fi_share(100 * mul["clients"] / tot["clients"]) if ok
                         else (mul["clients_symbol"] or tot["clients_symbol"]
                               or symbols.NOT_AVAILABLE)])
    ch.tables["counties"] = bf.table_block(
        f"Taulukko MP3. Usean palvelutehtävän asiakkaat hyvinvointialueittain, {qname}",
        pd.DataFrame(rows, columns=["Hyvinvointialue", "Asiakkaat", "Usean palvelutehtävän",
                                    "Osuus"]),
        note=bf.symbol_note((symbols.SUPPRESSED,))) if rows else ""
    return ch


# --------------------------------------------------------------------------- data and quality
# The chapter's prose is its template's (notebooks/aineisto_laatu.md, issue 24): this module
# glues its numbers (Quarter_in, quality_share, decisions_n, calibration_n) and says which of
# its paragraphs the quarter shows (quality; decisions or no_decisions; calibration or
# no_calibration). Python keeps the tables' captions and notes.

TEXT.update({
    "reasons_shortened": (
        "Yli {chars} merkin perustelut ja yli {word} merkin sanat on taulukossa lyhennetty "
        "(…); koko teksti on avoimen datan taulukossa Tarkastuskierroksen päätökset."),
})


def calibration_block(ch: Chapter, pub: dict) -> None:
    """The out-of-sample check of the model from the gate's published ``calibration``
    table (one row per quarter of the prediction over the tasks): the table, its number
    of comparisons (``calibration_n``) and which lead the template shows (``calibration``
    or ``no_calibration``: no municipality has yet become comprehensive after a
    prediction)."""
    cal = pub.get("calibration")
    c = None if cal is None or cal.empty else cal[cal["service_task"] == "kaikki"]
    ch.shown.update(calibration=c is not None and not c.empty)
    ch.shown["no_calibration"] = not ch.shown["calibration"]
    ch.tables["calibration"] = ""
    if not ch.shown["calibration"]:
        return

    def fig(v, sym, d):
        return sym if sym else bf.fi_number(v, d)
    tab = pd.DataFrame({
        "Ennusteen neljännes": [bf.quarter_name(q) for q in c["quarter"]],
        "Vertailuja": [bf.fi_number(v) for v in c["n"]],
        "z-lukujen keskiarvo": [fig(v, s, 2) for v, s in zip(c["mean_z"], c["mean_z_symbol"])],
        "z-lukujen keskihajonta": [fig(v, s, 2) for v, s in zip(c["sd_z"], c["sd_z_symbol"])],
        "Osuus välillä ±1,96, %": [fig(v, s, 1) for v, s in zip(c["within_196_pct"],
                                                              c["within_196_pct_symbol"])],
    })
    ch.facts["calibration_n"] = bf.fi_number(int(c["n"].sum()))
    ch.tables["calibration"] = bf.table_block(
        "Taulukko AL5. Mallin aiempien ennusteiden osuvuus (kunnat, joiden tiedot tulivat "
        "myöhemmin kattaviksi)", tab)


def disclosure_table(municipal: pd.DataFrame, quarter: str) -> str:
    """Per task of the quarter, its comprehensive municipalities and how many of their
    cells are suppressed (what ``municipal.csv`` shows anyway). How many of them are small
    counts is not published: it would tell a reader how many hidden cells are
    1 … min_count−1 (the gate's internal ``disclosure/loss.csv`` has it)."""
    m = municipal[(municipal["quarter"] == quarter) & (municipal["quality"] == "comprehensive")]
    if m.empty:
        return ""
    g = m.groupby("service_task", sort=True)["clients_symbol"]
    cells, hidden = g.size(), g.apply(lambda s: int((s == symbols.SUPPRESSED).sum()))
    tab = pd.DataFrame({
        "Palvelutehtävä": [bf.task_name(t) for t in cells.index],
        "Kattavia kuntia": [bf.fi_number(v) for v in cells],
        "Salattu": [bf.fi_number(v) for v in hidden],
        "Osuus": [bf.fi_pct(100 * h / n if n else None, 1) for h, n in zip(hidden, cells)],
    })
    return bf.table_block(
        f"Taulukko AL2. Salattujen kuntalukujen osuus, {bf.quarter_name(quarter)}", tab,
        note="Salattu = pienet luvut ja luvut, joista pieni luku voitaisiin päätellä muista "
             "julkaistuista luvuista tai aiemmista julkaisuista.")


#: How many hexadecimal digits of :func:`data_version` a paper shows.
DATA_VERSION_DIGITS = 16


def data_version(tables_dir: str | Path) -> str:
    """The version of a quarter's data as its paper names it: a SHA-256 over the names and
    bytes of the quarter's published tables (``OUT/<Q>/published/*.csv``), its first
    :data:`DATA_VERSION_DIGITS` hex digits. It changes exactly when a published table of
    the quarter changes, not when a release carries the quarter unchanged (the release's
    own id and every file's SHA-256 are in the release's manifest)."""
    pdir = published.published_dir_of(tables_dir)
    h = hashlib.sha256()
    for name in published.table_names(pdir):
        h.update(f"{name}.csv\0".encode())
        h.update(hashlib.sha256((pdir / f"{name}.csv").read_bytes()).digest())
    return h.hexdigest()[:DATA_VERSION_DIGITS]


def data_chapter(tables_dir: str | Path, quarter: str) -> Chapter:
    """Quality by county; the review round's decisions and their effect; the model's
    calibration; the share of suppressed municipal counts (:func:`disclosure_table`) and the
    version of the quarter's data (:func:`data_version`). (The rows read, rejected and
    flagged are the whole extract's: the book's written data chapter shows them once,
    :func:`seuranta.publication.book.row_ledger`.)"""
    pub = published_tables(tables_dir)
    ch = Chapter()
    mun = pub["municipal"]
    quality = mun[(mun["quarter"] == quarter)
                  & mun["service_task"].isin(reference.task_codes(estimated_only=True))]
    qname, qin = bf.quarter_name(quarter), bf.quarter_in(quarter)

    ch.tables["quality"] = ""
    ch.shown["quality"] = bool(len(quality))
    if len(quality):
        names = bf.county_names()
        pc = quality.assign(n=1).pivot_table(index="county_code", columns="quality", values="n",
                                        aggfunc="sum", fill_value=0)
        for k in ("comprehensive", "partial", "none"):
            if k not in pc.columns:
                pc[k] = 0
        tab = pd.DataFrame({
            "Hyvinvointialue": [names.get(c, c) for c in pc.index],
            "Kattavat": [bf.fi_number(v) for v in pc["comprehensive"]],
            "Osittaiset": [bf.fi_number(v) for v in pc["partial"]],
            "Ei tietoja": [bf.fi_number(v) for v in pc["none"]],
        })
        tot = pc.sum()
        tab.loc[len(tab)] = ["Koko maa", bf.fi_number(tot["comprehensive"]),
                             bf.fi_number(tot["partial"]), bf.fi_number(tot["none"])]
        ch.facts.update(
            Quarter_in=_capital(qin),
            quality_share=bf.fi_share(100 * tot["comprehensive"] / max(int(tot.sum()), 1)))
        ch.tables["quality"] = bf.table_block(
            f"Taulukko AL1. Laatuluokat hyvinvointialueittain, {qname}", tab)

    calibration_block(ch, pub)
    ch.tables["disclosure"] = disclosure_table(mun, quarter)
    ch.facts["data_version"] = data_version(tables_dir)
    ch.shown["data_version"] = True

    decisions = pub.get("review_decisions")
    effect = pub.get("review_effect")
    ch.tables["decisions"], ch.tables["effect"] = "", ""
    ch.shown["decisions"] = decisions is not None and not decisions.empty
    ch.shown["no_decisions"] = not ch.shown["decisions"]
    if not ch.shown["decisions"]:
        return ch
    qual_fi = {k: v.lower() for k, v in bf.QUALITY_FI.items()}
    full = decisions["reason"].fillna("").astype(str)
    tab = pd.DataFrame({
        "Kunta": decisions["name_fi"],
        "Palvelutehtävä": decisions["service_task"].map(bf.task_name),
        "Päätös": decisions["decision"].map(DECISION_FI),
        "Perustelu": full,
        "Laatu ennen": decisions["quality_before"].map(qual_fi),
        "Laatu jälkeen": decisions["quality_after"].map(qual_fi),
    }).sort_values(["Kunta", "Palvelutehtävä"])
    ch.facts["decisions_n"] = bf.fi_number(len(tab))
    caption = f"Taulukko AL3. Tarkastuskierroksen päätökset, {qname}"
    # the page shows every reason whole (a wide cell scrolls); the PDF's page cannot, so
    # there a long reason is shortened and the note says where the whole text is
    short = tab.assign(Perustelu=[shown_reason(r) for r in tab["Perustelu"]])
    shortened = (short["Perustelu"] != tab["Perustelu"].map(lambda r: " ".join(r.split())))
    ch.tables["decisions"] = (
        bf.only("html", bf.table_block(caption, tab, right=[]))
        + bf.only("latex", bf.table_block(
            caption, short, right=[],
            note=say("reasons_shortened", chars=bf.fi_number(REASON_SHOWN_CHARS),
                     word=bf.fi_number(REASON_WORD_CHARS)) if shortened.any() else "")))
    eff = effect if effect is not None else pd.DataFrame()
    if not eff.empty:
        def fig(r, col, text):
            return r[f"{col}_symbol"] or text(r[col])
        after = [f"{bf.fi_number(r['range_low'])}–{bf.fi_number(r['range_high'])}"
                 if r["publish_as"] == "range" and not r["range_low_symbol"]
                 else fig(r, "estimate_after", bf.fi_number) for _, r in eff.iterrows()]
        ch.tables["effect"] = bf.table_block(
            f"Taulukko AL4. Päätösten vaikutus koko maan arvioon, {qname}", pd.DataFrame({
                "Palvelutehtävä": eff["service_task"].map(bf.task_name),
                "Kuntia ennen": eff["municipalities_used_before"].map(bf.fi_number),
                "Kuntia jälkeen": eff["municipalities_used_after"].map(bf.fi_number),
                "Arvio ennen": [fig(r, "estimate_before", bf.fi_number)
                                for _, r in eff.iterrows()],
                "Arvio jälkeen": after,
                "Muutos, %": [fig(r, "estimate_change_pct", lambda x: bf.fi_number(x, 1))
                              for _, r in eff.iterrows()],
            }), note=("Arviot julkaisusäännön mukaan: kun arvio julkaistaan vaihteluvälinä tai "
                      "sitä ei julkaista, arviota ennen päätöksiä ja muutosta ei esitetä. "
                      + bf.symbol_note((symbols.SUPPRESSED, symbols.NOT_AVAILABLE))))
    return ch
