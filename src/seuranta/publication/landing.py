"""Landing page ("Uusimmat luvut") and the Swedish summary ("Svensk sammanfattning").

Both are generated from the *published* tables (the disclosure gate's output), never from
the exact tables:

* :func:`key_figures`: a quarter's key figure per service task from the published
  ``estimates`` (the published method, all ages), following the publication rule
  (``publish_as``: a point estimate with its interval, a rounded range, or no estimate);
  tasks without a national estimate show the registered clients (``totals``, kind
  ``registered``, whole country);
* :func:`landing_md`: the newest quarter's key figures as HTML tiles, the release date,
  the next release from ``publication.release_calendar``, the revisions summary and links
  to the downloads;
* :func:`swedish_md`: each quarter's key figures and a short summary in Swedish, with the
  municipalities' and counties' Swedish names (``data/reference``) and the Finland-Swedish
  number format (space thousands separator, decimal comma: as :mod:`seuranta.core.fmt`).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from seuranta.core import escape, reference, symbols
from seuranta.core.fmt import en_number, en_pct, fi_number
from seuranta.core.labels_en import BASE_EN, SYMBOLS_EN, TASK_EN, quarter_name_en
from seuranta.core.labels_fi import BASE_ELATIVE
from seuranta.core.labels_sv import BASE_SV, TASK_SV, quarter_name_sv
from seuranta.core.params import as_params
from seuranta.core.precision import SHARE_DECIMALS
from seuranta.core.quarters import Quarter
from seuranta.publication import published as pub
from seuranta.publication.bookfmt import caption_tables, estimate_kind, fi_share, notice_md, task_name

SV_COUNTIES_FILE = "counties_sv.csv"
KINDS = ("point", "range", "none", "symbol", "registered")


# --------------------------------------------------------------------------- figures

def _num(row, col):
    v = row.get(col) if hasattr(row, "get") else None
    try:
        v = float(v)
    except (TypeError, ValueError):
        return math.nan
    return v


def _sym(row, col) -> str:
    s = row.get(f"{col}{pub.SYMBOL_SUFFIX}", "") if hasattr(row, "get") else ""
    return "" if s is None or (isinstance(s, float) and math.isnan(s)) else str(s)


def key_figures(pdir: Path, quarter: str) -> pd.DataFrame:
    """One row per task: kind (point/range/none/symbol/registered), estimate, ci_low,
    ci_high, share_pct, range_low, range_high, range_low_pct, range_high_pct, clients,
    symbol: what the published row shows (a figure the rule or disclosure control withholds
    is NaN)."""
    est = pub.read(pdir, "estimates", required=False)
    tot = pub.read(pdir, "totals", required=False)
    rows = []
    e = None
    if est is not None and len(est):
        e = est[est["quarter"].astype(str) == str(quarter)]
        if "age_group" in e.columns:
            e = e[e["age_group"] == "kaikki"]
    estimated = reference.task_codes(estimated_only=True)
    extra = ["lastensuojelulaki"] if e is not None and (e["service_task"] == "lastensuojelulaki").any() else []
    for task in estimated + extra:
        r = None if e is None else e[e["service_task"] == task]
        base = {"service_task": task, "estimate": math.nan, "ci_low": math.nan,
                "ci_high": math.nan, "share_pct": math.nan, "range_low": math.nan,
                "range_high": math.nan, "range_low_pct": math.nan, "range_high_pct": math.nan,
                "clients": math.nan, "symbol": ""}
        if r is None or r.empty:
            rows.append({**base, "kind": "none"})
            continue
        r = r.iloc[0]
        kind = estimate_kind(r)
        sym = _sym(r, "estimate_rounded") if str(r.get("publish_as")) == "point" else \
            _sym(r, "range_low") if str(r.get("publish_as")) == "range" else ""
        if kind == "none" and sym == symbols.SUPPRESSED:
            kind = "symbol"
        rows.append({**base, "kind": kind, "symbol": sym,
                     **{k: (_num(r, c) if not _sym(r, c) else math.nan) for k, c in (
                         ("estimate", "estimate_rounded"), ("ci_low", "ci_low"),
                         ("ci_high", "ci_high"), ("share_pct", "share_pct"),
                         ("range_low", "range_low"), ("range_high", "range_high"),
                         ("range_low_pct", "range_low_pct"),
                         ("range_high_pct", "range_high_pct"))}})
    others = [t for t in reference.task_codes() if t not in estimated]
    for task in others:
        n, sym = math.nan, ""
        if tot is not None and "kind" in tot.columns:
            t = tot[(tot["kind"] == "registered") & (tot["service_task"] == task)
                    & (tot["quarter"].astype(str) == str(quarter))
                    & (tot["county_code"].fillna("").astype(str) == "")]
            if len(t):
                n, sym = _num(t.iloc[0], "clients"), _sym(t.iloc[0], "clients")
        rows.append({"service_task": task, "kind": "registered", "estimate": math.nan,
                     "ci_low": math.nan, "ci_high": math.nan, "share_pct": math.nan,
                     "range_low": math.nan, "range_high": math.nan, "range_low_pct": math.nan,
                     "range_high_pct": math.nan, "clients": n, "symbol": sym})
    return pd.DataFrame(rows)


def _shown(x) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x))


def _share_range(row: dict, lang: str = "fi") -> str:
    """The published share range of a range row ('12,9–23,4 %'), '' when not shown."""
    w = WORDS[lang]
    if _shown(row.get("range_low_pct")) and _shown(row.get("range_high_pct")):
        return f"{w['num'](row['range_low_pct'], SHARE_DECIMALS)}–{w['share'](row['range_high_pct'])}"
    return ""


def _en_share(x) -> str:
    return en_pct(x, SHARE_DECIMALS)


#: The words of the key figures and summaries in each language of the publication.
WORDS = {
    "fi": {"num": fi_number, "share": fi_share, "base": BASE_ELATIVE,
           "symbol": lambda s: symbols.SYMBOLS[s][0],
           "ci": "95 %:n luottamusväli {ci}",
           "range": "vaihteluväli: kattavia tietoja ei ollut riittävästi pistearvioon",
           "registered": "rekisteriin kirjatut asiakkaat; koko maan arviota ei laadita",
           "none": "ei arviota: kattavia tietoja ei ollut riittävästi"},
    "sv": {"num": fi_number, "share": fi_share, "base": BASE_SV,
           "symbol": lambda s: symbols.SYMBOLS[s][1],
           "ci": "95 % konfidensintervall {ci}",
           "range": "intervall: heltäckande uppgifter räckte inte för en punktskattning",
           "registered": "registrerade klienter; ingen skattning för hela landet görs",
           "none": "ingen skattning: heltäckande uppgifter räckte inte"},
    "en": {"num": en_number, "share": _en_share, "base": BASE_EN,
           "symbol": lambda s: SYMBOLS_EN[s],
           "ci": "95% confidence interval {ci}",
           "range": "range: the comprehensive data did not suffice for a point estimate",
           "registered": "registered clients; no national estimate is made",
           "none": "no estimate: the comprehensive data did not suffice"},
}


def figure_text(row: dict, lang: str = "fi") -> tuple[str, str]:
    """(the tile's big figure, its explanation) in Finnish, Swedish or English."""
    k, t = row["kind"], row["service_task"]
    w = WORDS[lang]
    num = w["num"]
    if k == "point":
        big = num(row["estimate"])
        parts = []
        if _shown(row["share_pct"]):
            parts.append(f"{w['share'](row['share_pct'])} {w['base'][t]}")
        if _shown(row["ci_low"]) and _shown(row["ci_high"]):
            parts.append(w["ci"].format(ci=f"{num(row['ci_low'])}–{num(row['ci_high'])}"))
        return big, "; ".join(parts)
    if k == "range" and _shown(row["range_low"]) and _shown(row["range_high"]):
        big = f"{num(row['range_low'])}–{num(row['range_high'])}"
        share = _share_range(row, lang)
        share = f"{share} {w['base'][t]}; " if share else ""
        return big, share + w["range"]
    if k == "symbol":
        return row["symbol"], (w["symbol"](row["symbol"]) if row["symbol"] in symbols.SYMBOLS
                               else "")
    if k == "registered":
        big = row["symbol"] or num(row["clients"])
        return big, w["registered"]
    return symbols.NOT_AVAILABLE, w["none"]


# --------------------------------------------------------------------------- release

def next_release(calendar, released: dt.date) -> dt.date | None:
    """The first date of the calendar after the release date, or None."""
    dates = sorted(d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d))
                   for d in (calendar or []))
    later = [d for d in dates if d > released]
    return later[0] if later else None


def _date_fi(d: dt.date) -> str:
    return f"{d.day}.{d.month}.{d.year}"


def contact_text(info: Mapping) -> str:
    """The contact as the publication prints it: "Maija Esimerkki, tilastoinfo@thl.fi"
    (the named person of ``publication.contact_name``, then ``publication.contact``;
    either alone when the other is empty)."""
    return ", ".join(str(x) for x in (info["contact_name"], info["contact"]) if x)


#: A release id as the pipeline makes it (:func:`seuranta.publication.releases.release_id`):
#: the newest quarter and the extract date.
_RELEASE_ID = re.compile(r"(\d{4}Q[1-4])-(\d{4})(\d{2})(\d{2})")


def release_id_fi(release_id: str) -> str:
    """One plain Finnish sentence on what the release id is (shown once, on the landing
    page): the newest quarter and the day the data were extracted from the register, when
    the id has that form; else only what it identifies."""
    m = _RELEASE_ID.fullmatch(release_id)
    what = ("Se on myös avoimen datan tiedostoissa (sarake release_id), joten tiedosto "
            "kertoo, mihin julkaisuun se kuuluu; korjattu tai tarkentunut julkaisu saa uuden "
            "tunnuksen.")
    if m is None:
        return f"Julkaisun tunnus on {release_id}. {what}"
    q, y, mo, d = m.groups()
    return (f"Julkaisun tunnus {release_id} muodostuu uusimmasta vuosineljänneksestä ({q} = "
            f"{Quarter.parse(q).name_fi}) ja päivästä, jona tiedot poimittiin rekisteristä "
            f"({int(d)}.{int(mo)}.{y}). {what}")


# --------------------------------------------------------------------------- pages

TILE_CSS = """<style>
.seuranta-tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(14rem,1fr));gap:.8rem;margin:1rem 0}
.seuranta-tile{border:1px solid #c9d3dc;border-radius:.4rem;padding:.8rem;background:#f7fafc}
.seuranta-tile h2{font-size:.95rem;margin:0 0 .4rem 0}
.seuranta-tile .big{font-size:1.6rem;font-weight:700;line-height:1.2}
.seuranta-tile .sub{font-size:.85rem;color:#3a4a58;margin-top:.3rem}
</style>"""


def tiles_html(figs: pd.DataFrame, lang: str = "fi") -> str:
    """The key figures as HTML tiles (one per task, its name a second-level heading: the
    page's title is the first level, axe heading-order)."""
    out = [TILE_CSS, '<div class="seuranta-tiles">']
    for row in figs.to_dict("records"):
        t = row["service_task"]
        name = (task_name(t) if lang == "fi" else TASK_SV[t])
        big, sub = figure_text(row, lang)
        out.append(f'<div class="seuranta-tile"><h2>{escape.html(name)}</h2>'
                   f'<div class="big">{escape.html(big)}</div>'
                   f'<div class="sub">{escape.html(sub)}</div></div>')
    out.append("</div>")
    return "\n".join(out)


def landing_md(pdir: Path, quarter: str, synthetic: bool, released: dt.date,
               release_id: str, calendar, revisions_text: str,
               downloads: list[tuple[str, str]], swedish_doc: str | None = "svenska",
               downloads_doc: str | None = None, *, params: Mapping,
               english_doc: str = "english", glossary_doc: str = "book/kasitteet") -> str:
    """The landing page "Uusimmat luvut" (MyST; the tiles are raw HTML, HTML only).

    ``downloads``: (label, relative URL) of the release's open-data files.
    """
    figs = key_figures(pdir, quarter)
    nxt = next_release(calendar, released)
    qname = Quarter.parse(quarter).name_fi
    lines = ["# Uusimmat luvut", ""]
    if synthetic:
        lines += [notice_md(True, params), ""]
    lines += [f"Sosiaalihuollon palvelutehtävien asiakkaat **{qname}**. "
              f"Julkaistu {_date_fi(released)}. "
              + (f"Seuraava julkaisu {_date_fi(nxt)}." if nxt else
                 "Seuraavan julkaisun ajankohta ilmoitetaan myöhemmin."), "",
              "```{raw} html", tiles_html(figs, "fi"), "```", "",
              "Arviot koko maan asiakasmääristä on pyöristetty sataan. Kun kattavia tietoja "
              "on vähän, arvio julkaistaan vaihteluvälinä; palvelutehtävän luvussa on arvion "
              "laatimistapa ja laatu.", "",
              "## Tarkentuneet luvut", "", revisions_text, ""]
    lines += _publication_md(release_id, params)
    if downloads:
        lines += ["## Lataukset", "", "Avoin data (CSV, JSON-stat 2.0 ja Frictionless-"
                  "kuvaus `datapackage.json`):", ""]
        lines += [f"- <a href=\"{escape.html(url)}\">{escape.html(label)}</a>"
                  for label, url in downloads]
        lines += [""]
        if downloads_doc:
            lines += [f"Kaikki julkaisun tiedostot ovat sivulla {{doc}}`{downloads_doc}`.", ""]
    if swedish_doc:
        lines += [f'<span lang="sv">På svenska: {{doc}}`Svensk sammanfattning '
                  f'<{swedish_doc}>`</span>. <span lang="en">In English: '
                  f"{{doc}}`English summary <{english_doc}>`</span>. Käsitteiden määritelmät: "
                  f"{{doc}}`Käsitteet <{glossary_doc}>`.", ""]
    return "\n".join(lines)


def _publication_md(release_id: str, params: Mapping) -> list[str]:
    """The section "Julkaisun tiedot" of the landing page: the release id explained once,
    the series and its ISSN, the contact (with its named person)."""
    p = as_params(params)["publication"]
    lines = ["## Julkaisun tiedot", "", escape.myst(release_id_fi(release_id)), ""]
    if p["issn"]:
        lines += [f"- Sarja: {escape.myst(p['series'])}, ISSN {escape.myst(p['issn'])}"]
    if p["contact"] or p["contact_name"]:
        lines += [f"- Yhteystiedot: {escape.myst(contact_text(p))}"]
    return lines + [""]


def _sv_names() -> tuple[dict[str, str], dict[str, str]]:
    m = reference.municipalities()
    c = reference.counties_sv()   # names checked (reference.check_names)
    return dict(zip(m["municipality_code"], m["name_sv"])), dict(zip(c["county_code"],
                                                                   c["county_name_sv"]))


#: The sentences of the Swedish and English summaries.
SUMMARY = {
    "sv": {
        "point": "{task}: uppskattningsvis {share} {base}, det vill säga cirka {n} klienter.",
        "range": "{task}: mellan {lo} och {hi} klienter",
        "range_share": " ({share} {base}).",
        "few": ("Skillnaderna mellan kommunerna beskrivs inte, eftersom för få kommuner hade "
                "heltäckande uppgifter."),
        "extremes": ("{task}: av kommunerna med heltäckande uppgifter var andelen störst i "
                     "{hi} ({hi_share}) och minst i {lo} ({lo_share})."),
        "county": ("Bland välfärdsområdena var den skattade andelen ({task}) störst i "
                   "{county} ({share})."),
        "nothing": "Inga skattningar publicerades för kvartalet.",
        "head": "| Uppgift | Skattning | Förklaring |",
        "caption": "Skattningar per uppgift, {quarter}",
    },
    "en": {
        "point": "{task}: an estimated {share} {base}, that is, about {n} clients.",
        "range": "{task}: between {lo} and {hi} clients",
        "range_share": " ({share} {base}).",
        "few": ("The differences between municipalities are not described, because too few "
                "municipalities had comprehensive data."),
        "extremes": ("{task}: among the municipalities with comprehensive data, the share was "
                     "largest in {hi} ({hi_share}) and smallest in {lo} ({lo_share})."),
        "county": ("Among the wellbeing services counties, the estimated share ({task}) was "
                   "largest in {county} ({share})."),
        "nothing": "No estimates were published for the quarter.",
        "head": "| Task | Estimate | Explanation |",
        "caption": "Estimates by task, {quarter}",
    },
}


def _names(lang: str) -> tuple[dict[str, str], dict[str, str]]:
    """Municipality and county names of a summary: Swedish names in Swedish, the official
    Finnish names in English (the counties' English names are not in the reference)."""
    if lang == "sv":
        return _sv_names()
    m, c = reference.municipalities(), reference.counties()
    return (dict(zip(m["municipality_code"], m["name_fi"])),
            dict(zip(c["county_code"], c["county_name_fi"])))


def _summary_quarter_section(pdir: Path, quarter: str, lang: str) -> list[str]:
    """One quarter of the Swedish (``sv``) or English (``en``) summary."""
    figs = key_figures(pdir, quarter)
    mun, county = _names(lang)
    w, say = WORDS[lang], SUMMARY[lang]
    tasks = TASK_SV if lang == "sv" else TASK_EN
    num, share_of = w["num"], w["share"]
    qname = quarter_name_sv(quarter) if lang == "sv" else quarter_name_en(quarter)
    lines = [f"## {qname[:1].upper()}{qname[1:]}", ""]
    text = []
    for row in figs.to_dict("records"):
        t = row["service_task"]
        if row["kind"] == "point" and _shown(row["share_pct"]):
            text.append(say["point"].format(task=tasks[t], share=share_of(row["share_pct"]),
                                            base=w["base"][t], n=num(row["estimate"])))
        elif row["kind"] == "range":
            share = _share_range(row, lang)
            text.append(say["range"].format(task=tasks[t], lo=num(row["range_low"]),
                                            hi=num(row["range_high"]))
                        + (say["range_share"].format(share=share, base=w["base"][t])
                           if share else "."))
    ext = pub.read(pdir, "extremes", required=False)
    if ext is not None and len(ext):
        ext = ext[ext["quarter"].astype(str) == str(quarter)]
        # the gate leaves the extremes empty when fewer than two shares are shown
        # (rule.MIN_EXTREME_MUNICIPALITIES): then the summary says so
        if not any(t in tasks and _shown(_num(r, "max")) and _shown(_num(r, "min"))
                   for t, r in zip(ext["service_task"], ext.to_dict("records"))):
            text.append(say["few"])
        for r in ext.to_dict("records"):
            t = r["service_task"]
            if t not in tasks or not _shown(_num(r, "max")) or not _shown(_num(r, "min")):
                continue
            hi, lo = str(r.get("max_municipality_code") or ""), str(r.get("min_municipality_code") or "")
            if hi in mun and lo in mun:
                text.append(say["extremes"].format(
                    task=tasks[t], hi=mun[hi], hi_share=share_of(_num(r, "max")), lo=mun[lo],
                    lo_share=share_of(_num(r, "min"))))
                break   # one example is enough for a summary
    ce = pub.read(pdir, "county_estimates", required=False)
    if ce is not None and len(ce) and "share_pct" in ce.columns:
        # a county is ranked only when every county of the task has a point estimate:
        # a county with a range or none could be the largest
        c = ce[ce["quarter"].astype(str) == str(quarter)]
        full = [t for t, g in c.groupby("service_task", sort=False)
                if all(estimate_kind(r) == "point" for _, r in g.iterrows())]
        c = c[c["service_task"].isin(["iakkaat"] if "iakkaat" in full else full[:1])]
        if len(c):
            top = c.sort_values("share_pct").iloc[-1]
            t = top["service_task"]
            text.append(say["county"].format(
                task=tasks[t].lower(), county=county.get(str(top["county_code"]),
                                                          top["county_code"]),
                share=share_of(float(top["share_pct"]))))
    lines += [" ".join(text) if text else say["nothing"], ""]
    tab = [say["head"], "|---|--:|---|"]
    for row in figs.to_dict("records"):
        big, sub = figure_text(row, lang)
        tab.append(f"| {tasks[row['service_task']]} | {big} | {sub} |")
    lines += [caption_tables("\n".join(tab), [say["caption"].format(quarter=qname)]), ""]
    return lines


#: The texts of the summary pages around the quarters (title, synthetic-data notice,
#: introduction ending in "Symbols:").
SUMMARY_PAGE = {
    "sv": ("Svensk sammanfattning", "Syntetiska data",
           "Denna publikation har framställts av syntetiska övningsdata. Siffrorna beskriver "
           "inte verkliga klienter inom socialvården.",
           "Socialvårdens uppföljningsregister (THL) beskriver hur stor del av befolkningen "
           "som var klienter inom socialvårdens serviceuppgifter varje kvartal. Skattningarna "
           "för hela landet bygger på de kommuner vars uppgifter bedömdes som heltäckande "
           "och har avrundats till närmaste hundratal. Symboler:"),
    "en": ("English summary", "Synthetic data",
           "This publication was produced from synthetic practice data. The figures do not "
           "describe real social welfare clients.",
           "The Social Welfare Monitoring Register (THL) shows how large a share of the "
           "population were clients of each social welfare service task in each quarter. "
           "The national estimates are based on the municipalities whose data were judged "
           "comprehensive and are rounded to the nearest hundred. The full publication, "
           "with the definitions of its concepts (Käsitteet), is in Finnish. Symbols:"),
}


def summary_md(pdirs: dict[str, Path], synthetic: bool, lang: str) -> str:
    """The Swedish (``sv``) or English (``en``) summary page: each quarter, newest first."""
    title, notice_title, notice, intro = SUMMARY_PAGE[lang]
    lines = [f"# {title}", ""]
    if synthetic:
        lines += [f":::{{admonition}} {notice_title}\n:class: warning\n{notice}\n:::", ""]
    lines += [intro, ""]
    lines += [f"- `{s}` {WORDS[lang]['symbol'](s)}" for s in symbols.SYMBOLS] + [""]
    for q in sorted(pdirs, reverse=True):
        lines += _summary_quarter_section(Path(pdirs[q]), q, lang)
    return "\n".join(lines)


def swedish_md(pdirs: dict[str, Path], synthetic: bool) -> str:
    """The Swedish summary page (Svensk sammanfattning)."""
    return summary_md(pdirs, synthetic, "sv")


def english_md(pdirs: dict[str, Path], synthetic: bool) -> str:
    """The English summary page (English number format)."""
    return summary_md(pdirs, synthetic, "en")
