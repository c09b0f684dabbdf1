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
from pathlib import Path

import pandas as pd

from seuranta.core import escape, reference, symbols
from seuranta.core.fmt import fi_number
from seuranta.core.labels_fi import BASE_ELATIVE
from seuranta.core.labels_sv import BASE_SV, TASK_SV, quarter_name_sv
from seuranta.core.precision import SHARE_DECIMALS
from seuranta.core.quarters import Quarter
from seuranta.publication import published as pub
from seuranta.publication.bookfmt import estimate_kind, fi_share, notice_md, task_name

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


def _share_range(row: dict) -> str:
    """The published share range of a range row ('12,9–23,4 %'), '' when not shown."""
    if _shown(row.get("range_low_pct")) and _shown(row.get("range_high_pct")):
        return f"{fi_number(row['range_low_pct'], SHARE_DECIMALS)}–{fi_share(row['range_high_pct'])}"
    return ""


def figure_text(row: dict, lang: str = "fi") -> tuple[str, str]:
    """(the tile's big figure, its explanation) in Finnish or Swedish."""
    k, t = row["kind"], row["service_task"]
    fi = lang == "fi"
    if k == "point":
        big = fi_number(row["estimate"])
        parts = []
        if _shown(row["share_pct"]):
            parts.append(f"{fi_share(row['share_pct'])} {BASE_ELATIVE[t] if fi else BASE_SV[t]}")
        if _shown(row["ci_low"]) and _shown(row["ci_high"]):
            ci = f"{fi_number(row['ci_low'])}–{fi_number(row['ci_high'])}"
            parts.append(f"95 %:n luottamusväli {ci}" if fi else f"95 % konfidensintervall {ci}")
        return big, "; ".join(parts)
    if k == "range" and _shown(row["range_low"]) and _shown(row["range_high"]):
        big = f"{fi_number(row['range_low'])}–{fi_number(row['range_high'])}"
        share = _share_range(row)
        share = f"{share} {BASE_ELATIVE[t] if fi else BASE_SV[t]}; " if share else ""
        return big, share + (
            "vaihteluväli: kattavia tietoja ei ollut riittävästi pistearvioon" if fi
            else "intervall: heltäckande uppgifter räckte inte för en punktskattning")
    if k == "symbol":
        fi_text, sv_text = symbols.SYMBOLS.get(row["symbol"], ("", ""))
        return row["symbol"], fi_text if fi else sv_text
    if k == "registered":
        big = row["symbol"] or fi_number(row["clients"])
        return big, ("rekisteriin kirjatut asiakkaat; koko maan arviota ei laadita" if fi
                     else "registrerade klienter; ingen skattning för hela landet görs")
    return symbols.NOT_AVAILABLE, ("ei arviota: kattavia tietoja ei ollut riittävästi" if fi
                 else "ingen skattning: heltäckande uppgifter räckte inte")


# --------------------------------------------------------------------------- release

def next_release(calendar, released: dt.date) -> dt.date | None:
    """The first date of the calendar after the release date, or None."""
    dates = sorted(d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d))
                   for d in (calendar or []))
    later = [d for d in dates if d > released]
    return later[0] if later else None


def _date_fi(d: dt.date) -> str:
    return f"{d.day}.{d.month}.{d.year}"


# --------------------------------------------------------------------------- pages

TILE_CSS = """<style>
.seuranta-tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(14rem,1fr));gap:.8rem;margin:1rem 0}
.seuranta-tile{border:1px solid #c9d3dc;border-radius:.4rem;padding:.8rem;background:#f7fafc}
.seuranta-tile h3{font-size:.95rem;margin:0 0 .4rem 0}
.seuranta-tile .big{font-size:1.6rem;font-weight:700;line-height:1.2}
.seuranta-tile .sub{font-size:.85rem;color:#3a4a58;margin-top:.3rem}
</style>"""


def tiles_html(figs: pd.DataFrame, lang: str = "fi") -> str:
    """The key figures as HTML tiles (one per task)."""
    out = [TILE_CSS, '<div class="seuranta-tiles">']
    for row in figs.to_dict("records"):
        t = row["service_task"]
        name = (task_name(t) if lang == "fi" else TASK_SV[t])
        big, sub = figure_text(row, lang)
        out.append(f'<div class="seuranta-tile"><h3>{escape.html(name)}</h3>'
                   f'<div class="big">{escape.html(big)}</div>'
                   f'<div class="sub">{escape.html(sub)}</div></div>')
    out.append("</div>")
    return "\n".join(out)


def landing_md(pdir: Path, quarter: str, synthetic: bool, released: dt.date,
               release_id: str, calendar, revisions_text: str,
               downloads: list[tuple[str, str]], swedish_doc: str | None = "svenska",
               downloads_doc: str | None = None, params=None) -> str:
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
              f"Julkaistu {_date_fi(released)} (julkaisu `{release_id}`). "
              + (f"Seuraava julkaisu {_date_fi(nxt)}." if nxt else
                 "Seuraavan julkaisun ajankohta ilmoitetaan myöhemmin."), "",
              "```{raw} html", tiles_html(figs, "fi"), "```", "",
              "Arviot koko maan asiakasmääristä on pyöristetty sataan. Kun kattavia tietoja "
              "on vähän, arvio julkaistaan vaihteluvälinä; palvelutehtävän luvussa on arvion "
              "laatimistapa ja laatu.", "",
              "## Tarkentuneet luvut", "", revisions_text, ""]
    if downloads:
        lines += ["## Lataukset", "", "Avoin data (CSV, JSON-stat 2.0 ja Frictionless-"
                  "kuvaus `datapackage.json`):", ""]
        lines += [f"- <a href=\"{escape.html(url)}\">{escape.html(label)}</a>"
                  for label, url in downloads]
        lines += [""]
        if downloads_doc:
            lines += [f"Kaikki julkaisun tiedostot ovat sivulla {{doc}}`{downloads_doc}`.", ""]
    if swedish_doc:
        lines += [f"På svenska: {{doc}}`Svensk sammanfattning <{swedish_doc}>`.", ""]
    return "\n".join(lines)


def _sv_names() -> tuple[dict[str, str], dict[str, str]]:
    m = reference.municipalities()
    c = reference.counties_sv()   # names checked (reference.check_names)
    return dict(zip(m["municipality_code"], m["name_sv"])), dict(zip(c["county_code"],
                                                                   c["county_name_sv"]))


def _sv_quarter_section(pdir: Path, quarter: str) -> list[str]:
    figs = key_figures(pdir, quarter)
    mun_sv, county_sv = _sv_names()
    lines = [f"## {quarter_name_sv(quarter).capitalize()}", ""]
    text = []
    for row in figs.to_dict("records"):
        t = row["service_task"]
        if row["kind"] == "point" and _shown(row["share_pct"]):
            text.append(f"{TASK_SV[t]}: uppskattningsvis {fi_share(row['share_pct'])} "
                        f"{BASE_SV[t]}, det vill säga cirka {fi_number(row['estimate'])} klienter.")
        elif row["kind"] == "range":
            share = _share_range(row)
            text.append(f"{TASK_SV[t]}: mellan {fi_number(row['range_low'])} och "
                        f"{fi_number(row['range_high'])} klienter"
                        + (f" ({share} {BASE_SV[t]})." if share else "."))
    ext = pub.read(pdir, "extremes", required=False)
    if ext is not None and len(ext):
        ext = ext[ext["quarter"].astype(str) == str(quarter)]
        # the gate leaves the extremes empty when fewer than two shares are shown
        # (rule.MIN_EXTREME_MUNICIPALITIES): then the summary says so
        if not any(t in TASK_SV and _shown(_num(r, "max")) and _shown(_num(r, "min"))
                   for t, r in zip(ext["service_task"], ext.to_dict("records"))):
            text.append("Skillnaderna mellan kommunerna beskrivs inte, eftersom för få "
                        "kommuner hade heltäckande uppgifter.")
        for r in ext.to_dict("records"):
            t = r["service_task"]
            if t not in TASK_SV or not _shown(_num(r, "max")) or not _shown(_num(r, "min")):
                continue
            hi, lo = str(r.get("max_municipality_code") or ""), str(r.get("min_municipality_code") or "")
            if hi in mun_sv and lo in mun_sv:
                text.append(f"{TASK_SV[t]}: av kommunerna med heltäckande uppgifter var andelen "
                            f"störst i {mun_sv[hi]} ({fi_share(_num(r, 'max'))}) "
                            f"och minst i {mun_sv[lo]} ({fi_share(_num(r, 'min'))}).")
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
            text.append(f"Bland välfärdsområdena var den skattade andelen ({TASK_SV[t].lower()}) "
                        f"störst i {county_sv.get(str(top['county_code']), top['county_code'])} "
                        f"({fi_share(float(top['share_pct']))}).")
    lines += [" ".join(text) if text else "Inga skattningar publicerades för kvartalet.", ""]
    tab = ["| Uppgift | Skattning | Förklaring |", "|---|--:|---|"]
    for row in figs.to_dict("records"):
        big, sub = figure_text(row, "sv")
        tab.append(f"| {TASK_SV[row['service_task']]} | {big} | {sub} |")
    lines += tab + [""]
    return lines


def swedish_md(pdirs: dict[str, Path], synthetic: bool) -> str:
    """The Swedish summary page: each quarter, newest first."""
    lines = ["# Svensk sammanfattning", ""]
    if synthetic:
        lines += [":::{admonition} Syntetiska data\n:class: warning\nDenna publikation har "
                  "framställts av syntetiska övningsdata. Siffrorna beskriver inte verkliga "
                  "klienter inom socialvården.\n:::", ""]
    lines += ["Socialvårdens uppföljningsregister (THL) beskriver hur stor del av befolkningen "
              "som var klienter inom socialvårdens serviceuppgifter varje kvartal. Skattningarna "
              "för hela landet bygger på de kommuner vars uppgifter bedömdes som heltäckande "
              "och har avrundats till närmaste hundratal. Symboler:", ""]
    lines += [f"- `{s}` {sv}" for s, (_, sv) in symbols.SYMBOLS.items()] + [""]
    for q in sorted(pdirs, reverse=True):
        lines += _sv_quarter_section(Path(pdirs[q]), q)
    return "\n".join(lines)
