"""What each chapter of a quarter says: the computation behind the notebooks.

The notebooks (``notebooks/*.md``) only narrate: a cell calls one function of this module,
which reads the quarter's prepared tables and returns a :class:`Chapter` — formatted
numbers and sentences (``facts``, glued into the notebook's Markdown by
:func:`glue_facts` and myst-nb's ``{glue:text}``/``{glue:md}``), finished Markdown tables
(``tables``, captioned) and figures with alternative texts written from the data
(``figures``). Sentences that depend on the data (a quarter without an estimate says so
and why) are Markdown templates of :data:`TEXT`, filled by the one small templating helper
:func:`say`. Every number comes from the gate's published tables
(``OUT/<Q>/published/``, beside the ``tables_dir`` the notebooks are given), never from
the exact tables: disclosure control, the publication rule and the precision are the
gate's (:mod:`seuranta.publication.gate`, :mod:`seuranta.publication.rule`), and an
estimate is shown as :func:`seuranta.publication.bookfmt.estimate_state` reads its row.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from seuranta.core import reference, symbols
from seuranta.core.figures import source_line
from seuranta.core.fmt import fi_count
from seuranta.core.labels_fi import DECISION_FI
from seuranta.core.params import as_params
from seuranta.core.quarters import Quarter
from seuranta.publication import bookfmt as bf
from seuranta.publication import compare, published, rule

#: Finnish Markdown templates of the sentences that depend on the data (``{name}`` fields).
TEXT = {
    "estimate": (
        "Arviolta {share} {base} oli {gen} asiakkaita {quarter_in}. Arvio perustuu niiden "
        "kuntien tietoihin, joiden tiedot arvioitiin kattaviksi Kanta-palveluiden "
        "sosiaalihuollon asiakastiedon arkiston tai erillistoimituksen perusteella: "
        "{clients_used} asiakasta {municipalities} kunnasta{coverage}. Koko maan "
        "asiakasmääräksi arvioidaan {estimate} (95 %:n luottamusväli {interval})."),
    "coverage": ", joiden väestö oli {cover} koko maan väestöpohjasta",
    "estimate_range": (
        "Arviolta {share} {base} oli {gen} asiakkaita {quarter_in}. Arvio perustuu niiden "
        "kuntien tietoihin, joiden tiedot arvioitiin kattaviksi: {clients_used} asiakasta "
        "{municipalities} kunnasta{coverage}. Koko maan asiakasmäärä on arviolta {estimate}. "
        "Arvio julkaistaan vaihteluvälinä eikä yhtenä lukuna, koska tiedot eivät riitä "
        "pistearvioon ({reason})."),
    "no_estimate": (
        "{Quarter_in} koko maan arviota ei laadittu, koska {reason}. Alla olevassa "
        "taulukossa on rekisteriin kirjattu asiakasmäärä hyvinvointialueittain; se ei ole "
        "arvio koko maan asiakasmäärästä."),
    "not_estimated": (
        "{task} eivät kuulu seurantarekisterin ensimmäiseen vaiheeseen, joten niistä ei "
        "laadita koko maan arviota. Rekisteriin kirjattiin {quarter_in} {clients} {gen} "
        "asiakasta."),
    "cwa": (
        "Lastensuojelun palvelutehtävissä voi olla avoimena asioita myös ilman "
        "lastensuojelulain mukaista asiakkuutta. Kattavissa kunnissa lastensuojelun "
        "palvelutehtävän asiakkaita oli {n_ls}, joista lastensuojelulain mukaisia asiakkaita "
        "oli {n_law} ({share})."),
    "spread": (
        "Kattavat tiedot oli saatavissa {n} kunnasta. Kunnissa {gen} asiakkaita oli "
        "keskimäärin (mediaani) {median} {base}. Neljänneksessä kunnista osuus oli {q1} tai "
        "pienempi (alakvartiili) ja neljänneksessä {q3} tai suurempi (yläkvartiili).{extremes}"
        "{hidden_note}"),
    "spread_hidden": (
        " Mediaani, kvartiilit ja ääriarvot on laskettu niistä {n_shown} kunnasta, joiden "
        "asiakasmäärä julkaistaan, jotta salattua lukua ei voi päätellä niistä."),
    "no_spread": "Kattavia kuntia ei ollut, joten kuntien välisiä eroja ei voida kuvata.",
    "few_spread": (
        "Kattavat tiedot oli saatavissa {n} kunnasta, ja niistä {n_shown} kunnan osuus "
        "julkaistaan. Kvartiileja ei esitetä, koska ne edellyttävät vähintään {min_q} kuntaa."
        "{extremes}"),
    "few_extremes": " Pienin julkaistu osuus oli {lo} ja suurin {hi}.",
    "no_extremes": (
        " Pienintä ja suurinta osuutta ei esitetä, koska niiden vertailu edellyttää "
        "vähintään {min_x} kuntaa."),
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
    "representative": (
        "Kattavat {n} kuntaa kattoivat {cover} koko maan väestöpohjasta. {age}{size}"),
    "rep_age_ok": (
        "Kattavien kuntien ikärakenne ei todennäköisesti vääristä arviota: kun niiden "
        "ikäryhmittäiset osuudet sovitetaan koko maan ikärakenteeseen, arvio muuttuu alle "
        "{threshold}. "),
    "rep_age_bias": (
        "Kattavissa kunnissa on eri ikärakenne kuin koko maassa. Koko maan ikärakenteella "
        "laskettu arvio olisi {diff} {way}, joten arvio todennäköisesti {bias} "
        "asiakasmäärää. "),
    "rep_size_ok": "Kooltaan ja väestörakenteeltaan kattavat kunnat olivat koko maan kaltaisia.",
    "rep_size_bias": (
        "Kattavat kunnat erosivat koko maasta eniten muuttujassa {covariate}, mikä voi "
        "vääristää arviota."),
    "rep_few": "Kattavia kuntia oli liian vähän, joten edustavuutta ei voitu arvioida.",
    "no_age_estimate": (
        "Ikäryhmittäisiä arvioita ei laadittu {quarter_in}, koska {reason}."),
    "all_clients": (
        "Arviolta {share} väestöstä oli jonkin sosiaalihuollon palvelutehtävän asiakkaana "
        "{quarter_in}. Arvio perustuu {municipalities} kuntaan, joiden tiedot olivat "
        "kattavia kaikissa kuudessa arvioitavassa palvelutehtävässä; sama henkilö lasketaan "
        "kerran, vaikka hän olisi usean palvelutehtävän asiakas."),
    "key_figure": "- **{task}**: {share} {base} (arviolta {estimate} asiakasta)",
    "no_key_figures": "{Quarter_in} ei laadittu yhtään koko maan arviota.",
    "missing_estimate": "{task}: koko maan arviota ei laadittu, koska {reason}.",
    "registered_only": ("Sosiaalihuollon seurantarekisteriin kirjattiin {quarter_in} yhteensä "
                        "{counted} palvelutehtävän asiakkuutta."),
    "registered": (
        "Sosiaalihuollon seurantarekisteriin kirjattiin {quarter_in} yhteensä {distinct} "
        "eri asiakasta. Palvelutehtävittäin laskettuna asiakkuuksia oli {counted}, koska "
        "sama henkilö voi olla usean palvelutehtävän asiakas."),
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


#: A review reason in the book's and PDF's table (AL2) is shortened beyond these many
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
    """What a chapter shows: glued facts, captioned Markdown tables, figures with alt."""

    facts: dict[str, str] = field(default_factory=dict)
    tables: dict[str, str] = field(default_factory=dict)
    figures: dict[str, tuple[object, str]] = field(default_factory=dict)


def glue_facts(ch: Chapter) -> None:
    """Glue every fact for the notebook's Markdown (``{glue:md}`name```)."""
    from IPython.display import Markdown  # heavy dependency: loaded only in notebooks
    from myst_nb import glue  # heavy dependency: loaded only in notebooks
    for k, v in ch.facts.items():
        glue(k, Markdown(v), display=False)


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
    from IPython.display import Markdown, display  # heavy dependency: loaded in notebooks
    for t in texts:
        if t and str(t).strip():
            display(Markdown(t))


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

def task_chapter(tables_dir: str | Path, quarter: str, task: str,
                 params_file: str | Path | Mapping, *, synthetic: bool) -> Chapter:
    """The chapter of one service task (or the child-welfare-act clients), from the
    quarter's published tables (``synthetic``: the charts' source line says so)."""
    params = _params(params_file)
    pub = published_tables(tables_dir)
    ch = Chapter()
    mun = pub["municipal"]
    qtask = "lastensuojelu" if task == "lastensuojelulaki" else task
    now = mun[(mun["quarter"] == quarter) & (mun["service_task"] == task)]
    row = published_estimate(pub, task, quarter) if bf.estimated(task) else None
    e = row if has_estimate(row) else None
    abbr, gen, base = bf.TASK_ABBR[task], bf.TASK_GENITIVE[task], bf.BASE_ELATIVE[task]
    num = CaptionNumbers(abbr)
    qname, qin = bf.quarter_name(quarter), bf.quarter_in(quarter)
    mnames = bf.municipality_names()
    cnames = bf.county_names()
    name = bf.task_name(task)
    ch.facts.update(quarter=qname, task=name)

    # --- lead paragraph
    if e is not None:
        cover = ""
        if _num(e.get("national_base")) and float(e["national_base"]) > 0:
            cover = say("coverage", cover=bf.fi_share(
                100 * float(e["population_used"]) / float(e["national_base"])))
        ranged = bf.estimate_kind(e) == "range"
        lead = say("estimate_range" if ranged else "estimate", share=share_text(e), base=base,
                   gen=gen, reason=bf.rule_reason_fi(e.get("rule_reason", "")) if ranged else "",
                   quarter_in=qin,
                   clients_used=count_text(e["clients_used"], e["clients_used_symbol"]),
                   municipalities=bf.fi_number(e["municipalities_used"]), coverage=cover,
                   estimate=estimate_text(e), interval=bf.interval_text(e))
    elif bf.estimated(task):
        lead = say("no_estimate", Quarter_in=_capital(qin),
                   reason=no_estimate_reason(row, params))
    else:
        reg = _total(pub, "registered", quarter, task)
        lead = say("not_estimated", task=name, quarter_in=qin, gen=gen,
                   clients=count_text(None if reg is None else reg["clients"],
                                      symbols.NOT_AVAILABLE if reg is None
                                      else reg["clients_symbol"]))
    if task == "lastensuojelulaki":
        ls, law = (_total(pub, "used", quarter, t) for t in ("lastensuojelu", task))
        if ls is not None and law is not None and shown(ls["clients"], ls["clients_symbol"]) \
                and shown(law["clients"], law["clients_symbol"]) and int(ls["clients"]):
            lead += "\n\n" + say("cwa", n_ls=bf.fi_number(ls["clients"]),
                                 n_law=bf.fi_number(law["clients"]),
                                 share=bf.fi_share(100 * law["clients"] / ls["clients"]))
    ch.facts["lead"] = lead

    # --- county table (THL's VA1)
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
    model = compare.task_county_table_md(published.published_dir_of(tables_dir), quarter, task) \
        if (published.published_dir_of(tables_dir) / "municipal.csv").is_file() else None
    ch.tables["county_model"] = "" if not model else (
        f":::{{table}} Taulukko {t1}b. {name}: asiakkaat hyvinvointialueittain, "
        f"mallipohjainen arvio, {qname}\n:width: 100%\n\n{model}:::\n\n"
        "Arvio on alueen kattavien kuntien havaitut asiakkaat ja muiden kuntien ennusteet "
        "samasta mallista kuin koko maan arvio; vaihteluväli, kun arvio on epävarma.\n")

    # --- differences between municipalities (quartiles; extremes among shown shares)
    ex = pub.get("extremes")
    x = None if ex is None else ex[(ex["quarter"] == quarter) & (ex["service_task"] == task)]
    x = None if x is None or x.empty else x.iloc[0]
    comp = now[now["quality"] == "comprehensive"]
    vis = comp[comp["share_pct_symbol"] == ""]
    hidden = int((comp["share_pct_symbol"] == symbols.SUPPRESSED).sum())
    if x is not None and int(x["n"]) > 0 and not _num(x.get("median")):
        # too few shown shares for quartiles (gate: rule.MIN_QUARTILE_MUNICIPALITIES), or
        # for the smallest and largest to be two municipalities
        n_shown = int(x["n_shown"]) if _num(x.get("n_shown")) else 0
        ext = (say("few_extremes",
                   lo=f"{bf.fi_share(x['min'])} ({mnames.get(str(x['min_municipality_code']), '')})",
                   hi=f"{bf.fi_share(x['max'])} ({mnames.get(str(x['max_municipality_code']), '')})")
               if _num(x.get("min")) and _num(x.get("max"))
               else say("no_extremes", min_x=bf.fi_number(rule.MIN_EXTREME_MUNICIPALITIES)))
        ch.facts["spread"] = say("few_spread", n=bf.fi_number(x["n"]),
                                 n_shown=bf.fi_number(n_shown), extremes=ext,
                                 min_q=bf.fi_number(rule.MIN_QUARTILE_MUNICIPALITIES))
    elif x is not None and int(x["n"]) > 0 and _num(x.get("median")):
        lo = (f"{bf.fi_share(x['min'])} ({mnames.get(str(x['min_municipality_code']), '')})"
              if _num(x.get("min")) else None)
        hi = (f"{bf.fi_share(x['max'])} ({mnames.get(str(x['max_municipality_code']), '')})"
              if _num(x.get("max")) else None)
        ext = f" Pienin julkaistu osuus oli {lo} ja suurin {hi}." if lo and hi else ""
        n_shown = int(x["n_shown"]) if _num(x.get("n_shown")) else int(x["n"])
        note = (say("spread_hidden", n_shown=bf.fi_number(n_shown))
                if n_shown < int(x["n"]) else "")
        ch.facts["spread"] = say("spread", n=bf.fi_number(x["n"]), gen=gen, base=base,
                                 median=bf.fi_share(x["median"]), q1=bf.fi_share(x["q1"]),
                                 q3=bf.fi_share(x["q3"]), extremes=ext, hidden_note=note)
        shares = pd.Series(vis["share_pct"].astype(float).to_numpy(),
                           index=[mnames[m] for m in vis["municipality_code"]])
        if len(shares):
            f1 = num.next("Kuvio")
            fig = bf.share_chart(shares, float(x["q1"]), float(x["median"]), float(x["q3"]),
                                 f"Kuvio {f1}. {name}: asiakkaiden osuus {base}, {qname}",
                                 "osuus", synthetic=synthetic)
            alt = say("alt_shares", fig=f1, task=name, base=base,
                      n=bf.fi_number(len(shares)), quarter=qname, q1=bf.fi_share(x["q1"]),
                      median=bf.fi_share(x["median"]), q3=bf.fi_share(x["q3"]),
                      min=bf.fi_share(shares.min()), max=bf.fi_share(shares.max()))
            if hidden:
                alt += (f" Kuviosta puuttuu {fi_count(hidden, 'kunta, jonka', 'kuntaa, joiden')} "
                        "asiakasmäärä on salattu.")
            ch.figures["shares"] = (fig, alt)
    else:
        ch.facts["spread"] = say("no_spread")
    ch.facts["hidden"] = (f"Kuviosta on jätetty pois {fi_count(hidden, 'kunta, jonka', 'kuntaa, joiden')} "
                          "asiakasmäärä on tietosuojan vuoksi salattu."
                          if hidden and "shares" in ch.figures else "")

    # --- time series
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
    ch.facts["series_missing"] = ("" if "series" in ch.figures
                                  else "Aikasarjaa ei ole vielä saatavissa.")

    # --- quality and representativeness
    qm = mun[(mun["quarter"] == quarter) & (mun["service_task"] == task)]
    if len(qm):
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
            f"Taulukko {num.next('Taulukko')}. {name}: kuntien tietojen laatu hyvinvointialueittain, {qname}",
            tab, note=("Kuntien lukumäärät. Laatuluokat on kuvattu luvussa "
                      "{ref}`Menetelmät <laatuluokat>`."))
    rs = pub.get("representativeness")
    ch.facts["representativeness"] = ""
    if rs is not None and bf.estimated(task):
        r = rs[(rs["service_task"] == task) & (rs["quarter"] == quarter)]
        if len(r):
            ch.facts["representativeness"] = "**Edustavuus.** " + representativeness_fi(
                r.iloc[0].to_dict(), params)
    ch.tables["reasons"] = ""
    reasons = pub.get("quality_reasons")
    if reasons is not None:
        vc = reasons[(reasons["service_task"] == qtask) & (reasons["quarter"] == quarter)]
        if len(vc):
            tab = pd.DataFrame({"Syy": [d or "muu syy" for d in vc["description_fi"]],
                                "Kuntia": [bf.fi_number(v) for v in vc["municipalities"]]})
            ch.tables["reasons"] = bf.table_block(
                f"Taulukko {num.next('Taulukko')}. {name}: laatuluokituksen syyt, {qname}", tab,
                note="Kunnalla voi olla useita syitä.")
    return ch


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


def representativeness_fi(row: dict, params: dict) -> str:
    """Plain Finnish: do the comprehensive municipalities look like the whole country?"""
    threshold = float(params["quality"]["verdict_threshold_pct"])
    n = int(row.get("n_comprehensive") or 0)
    if n < 2:
        return say("rep_few")
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
    return say("representative", n=bf.fi_number(n),
               cover=bf.fi_share(row.get("base_coverage_pct")), age=age, size=size).strip()


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
    if distinct is not None and counted is not None:
        ch.facts["registered"] = say(
            "registered", quarter_in=qin,
            distinct=count_text(distinct["clients"], distinct["clients_symbol"]),
            counted=count_text(counted["clients"], counted["clients_symbol"]))
    elif counted is not None:
        ch.facts["registered"] = say("registered_only", quarter_in=qin, counted=count_text(
            counted["clients"], counted["clients_symbol"]))
    else:
        ch.facts["registered"] = ""

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
    ch.facts["key_figures"] = "\n".join(key) if key else say("no_key_figures",
                                                            Quarter_in=_capital(qin))
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
    if arows and has_estimate(all_row):
        ch.facts["age_lead"] = say("all_clients", share=share_text(all_row),
                                   quarter_in=qin,
                                   municipalities=bf.fi_number(all_row["municipalities_used"]))
        ch.tables["age"] = bf.table_block(
            f"Taulukko {num.next('Taulukko')}. Sosiaalihuollon eri asiakkaat ikäryhmittäin, "
            f"{qname}",
            pd.DataFrame(arows, columns=["Ikäryhmä", "Asiakkaita", "Osuus ikäryhmästä",
                                         "Kuntia arviossa"]),
            note="Arviot on pyöristetty sataan; vaihteluväli, kun tiedot eivät riitä "
                 "pistearvioon.")
    else:
        ch.facts["age_lead"] = say("no_age_estimate", quarter_in=qin,
                                   reason=no_estimate_reason(all_row, params, "kaikki"))
        ch.tables["age"] = ""

    s = estimate_series(pub, "kaikki")
    ch.tables["series"] = bf.table_block(
        f"Taulukko {num.next('Taulukko')}. Sosiaalihuollon eri asiakkaat "
        "vuosineljänneksittäin, koko väestö",
        bf.estimate_series_table(s, "Osuus väestöstä"),
        note=series_note(pub, "kaikki", s)) if len(s) > 1 else ""
    ch.tables["year"] = year_table(pub, num)
    ch.facts["year_lead"] = year_lead(pub, quarter)
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


def year_lead(pub: dict, quarter: str) -> str:
    """The lead of "Koko vuosi": the whole year's figures, or when they come (a quarter
    before the year's last), or why the year has none (its last quarter, but the series
    lacks an earlier quarter of the year)."""
    y = year_frame(pub)
    if y is None:
        q = Quarter.parse(quarter)
        if q.q < 4:
            return (f"Koko vuoden {q.year} tiedot julkaistaan loka–joulukuun {q.year} "
                    "tietojen yhteydessä, kun vuoden kaikkien neljännesten tiedot ovat koossa.")
        m = pub.get("municipal")
        first = min(m["quarter"].astype(str)) if m is not None and len(m) else None
        since = (f" (sarjan ensimmäinen vuosineljännes on {Quarter.parse(first).name_fi})"
                 if first and Quarter.parse(first).year == q.year else "")
        return (f"Koko vuoden {q.year} tietoja ei julkaista, koska vuoden kaikkien "
                f"neljännesten tietoja ei ole{since}.")
    year = int(y["year"].iloc[0])
    return (f"Vuoden {year} neljännen neljänneksen myötä julkaistaan myös koko vuoden "
            f"tiedot: kuinka moni henkilö oli vuoden aikana kunkin palvelutehtävän "
            f"asiakkaana. Luvut ovat rekisteriin kirjattuja eri asiakkaita; koko maan "
            f"arvioita koko vuodelle ei vielä laadita.")


# --------------------------------------------------------------------------- multi-service

# The chapter's lead is prose of its template (notebooks/monipalvelu.md, issue 24): this
# module glues its numbers (multi_quarter_in, multi_total, multi_clients, multi_share) and
# the one sentence whose shape depends on the data (multi_pair: the commonest pair, or
# nothing when no pair may be shown).
TEXT.update({
    "multi_pair": "Yleisin yhdistelmä oli {a} ja {b} ({n} asiakasta).",
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
    pair = ""
    if mt is not None:
        mv = mt[mt["clients_symbol"] == ""].sort_values(["clients", "task_a", "task_b"],
                                                        ascending=[False, True, True])
        if len(mv) and int(mv.iloc[0]["clients"]) > 0:
            p = mv.iloc[0]
            pair = say("multi_pair", a=bf.task_name(p["task_a"]).lower(),
                       b=bf.task_name(p["task_b"]).lower(), n=bf.fi_number(p["clients"]))
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
                        else symbols.NOT_AVAILABLE),
        "multi_pair": pair})
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
    plt = bf.setup_matplotlib()
    fig, ax = plt.subplots(figsize=(6, 2.8))
    ax.bar(lab, values, color="#1f5f8b")
    ax.set_xlabel("palvelutehtäviä samalla asiakkaalla")
    ax.set_ylabel("asiakkaita")
    bf.fi_axis_number(ax)
    ax.set_title(f"Kuvio MP1. Asiakkaat palvelutehtävien lukumäärän mukaan, {qname}",
                 fontsize=10)
    fig.tight_layout()
    source_line(fig, synthetic)
    points = "; ".join(f"{n} palvelutehtävää {v}" for n, v in zip(lab, tab["Asiakkaat"][:-1]))
    ch.figures["n_tasks"] = (bf.detached(fig), say("alt_multi", quarter=qname, points=points))

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

def calibration_block(pub: dict) -> tuple[str, str]:
    """(lead, table) of the out-of-sample check of the model: the gate's published
    ``calibration`` table, one row per quarter of the prediction over the tasks."""
    cal = pub.get("calibration")
    if cal is None or cal.empty:
        return say("no_calibration"), ""
    c = cal[cal["service_task"] == "kaikki"]
    if c.empty:
        return say("no_calibration"), ""

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
    return (say("calibration", n=bf.fi_number(int(c["n"].sum()))),
            bf.table_block("Taulukko AL4. Mallin aiempien ennusteiden osuvuus (kunnat, joiden "
                           "tiedot tulivat myöhemmin kattaviksi)", tab))


TEXT.update({
    "quality_lead": ("{Quarter_in} kuntien ja arvioitavien palvelutehtävien yhdistelmistä "
                     "{share} oli kattavia. Taulukossa on kuntien ja palvelutehtävien "
                     "yhdistelmien lukumäärät laatuluokittain (kuusi arvioitavaa "
                     "palvelutehtävää)."),
    "no_decisions": "Tälle vuosineljännekselle ei ollut tarkastuskierroksen päätöksiä.",
    "reasons_shortened": (
        "Yli {chars} merkin perustelut ja yli {word} merkin sanat on taulukossa lyhennetty "
        "(…); koko teksti on avoimen datan taulukossa Tarkastuskierroksen päätökset."),
    "decisions": ("Tarkastuskierroksella tehtiin {n} päätöstä; kaikki on otettu huomioon tässä "
                  "julkaisussa."),
    "calibration": ("Kun kunta, jonka tiedot eivät olleet kattavia, saa myöhemmin kattavat "
                    "tiedot, sen toimittamaa asiakasmäärää voidaan verrata malliin perustuvaan "
                    "ennusteeseen, joka siitä tehtiin aiemmin. Ennusteen virhe suhteessa sen "
                    "keskivirheeseen on z-luku: jos mallin epävarmuus on arvioitu oikein, "
                    "z-lukujen keskiarvo on lähellä nollaa, keskihajonta lähellä yhtä ja noin "
                    "95 % niistä on välillä −1,96…1,96. Taulukossa on {n} tällaista vertailua."),
    "no_calibration": ("Sarjassa ei vielä ole kuntia, joiden tiedot olisivat muuttuneet "
                       "kattaviksi ennusteen jälkeen, joten mallin ennusteita ei voitu "
                       "verrata toteutuneisiin."),
})



def data_chapter(tables_dir: str | Path, quarter: str) -> Chapter:
    """Quality by county; the review round's decisions and their effect; the model's
    calibration. (The rows read, rejected and flagged are the whole extract's: the written
    data chapter shows them once, :func:`seuranta.publication.book.row_ledger_md`.)"""
    pub = published_tables(tables_dir)
    ch = Chapter()
    mun = pub["municipal"]
    quality = mun[(mun["quarter"] == quarter)
                  & mun["service_task"].isin(reference.task_codes(estimated_only=True))]
    qname, qin = bf.quarter_name(quarter), bf.quarter_in(quarter)

    ch.facts["quality_lead"], ch.tables["quality"] = "", ""
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
        ch.facts["quality_lead"] = say(
            "quality_lead", Quarter_in=_capital(qin),
            share=bf.fi_share(100 * tot["comprehensive"] / max(int(tot.sum()), 1)))
        ch.tables["quality"] = bf.table_block(
            f"Taulukko AL1. Laatuluokat hyvinvointialueittain, {qname}", tab)

    ch.facts["calibration"], ch.tables["calibration"] = calibration_block(pub)

    decisions = pub.get("review_decisions")
    effect = pub.get("review_effect")
    ch.tables["decisions"], ch.tables["effect"] = "", ""
    if decisions is None or decisions.empty:
        ch.facts["decisions"] = say("no_decisions")
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
    ch.facts["decisions"] = say("decisions", n=bf.fi_number(len(tab)))
    caption = f"Taulukko AL2. Tarkastuskierroksen päätökset, {qname}"
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
            f"Taulukko AL3. Päätösten vaikutus koko maan arvioon, {qname}", pd.DataFrame({
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
