"""Comparison views: a county against the others and the whole country, and municipal
tables a reader can sort and filter offline.

From the *published* tables only: ``county_estimates`` (the model's county totals with
their interval and publication rule), ``estimates`` (the national reference) and
``municipal`` (shares with symbols and quality).

* :func:`county_table_md`: a county's estimate per task as the publication rule allows (a
  point with its interval and share, or a range and its share range, or nothing), beside
  the whole country's share;
* :func:`county_chart`: the 22 counties' estimated shares of a task (points, or ranges
  as bars), the county highlighted and the national share as a line (or range); its alt
  text ranks a county only among the counties with a point estimate;
* :func:`county_series_table_md`, :func:`county_series_chart`: a county's shares over every
  quarter of the series, each quarter read from its own published folder exactly as its
  publication rule allowed (a withheld figure is a symbol in the table, nothing in the
  chart);
* :func:`sortable_table_html`: an HTML table with a filter box and sortable columns. The
  script is a few lines of plain JavaScript inside the page (no library, no CDN, works
  from ``file://``); each cell carries its numeric value in ``data-v`` so that Finnish
  number formats and symbols sort correctly (symbols last).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from seuranta.core import escape, reference, symbols
from seuranta.core.figures import source_line
from seuranta.core.fmt import fi_number, fi_pct
from seuranta.core.labels_fi import BASE_ELATIVE, TASK_SHORT
from seuranta.core.precision import SHARE_DECIMALS
from seuranta.core.quarters import Quarter
from seuranta.publication import published as pub
from seuranta.publication.bookfmt import (
    county_short,
    estimate_kind,
    estimate_state,
    interval_text,
    quarter_short,
    symbol_note,
    table_block,
    tick_locator,
)

# --------------------------------------------------------------------------- data


def _shown(df: pd.DataFrame, col: str) -> pd.Series:
    """Numeric value of a published column, NaN where a symbol stands."""
    v = pd.to_numeric(df[col], errors="coerce") if col in df.columns else pd.Series(np.nan, index=df.index)
    s = f"{col}{pub.SYMBOL_SUFFIX}"
    if s in df.columns:
        v = v.where(df[s].fillna("") == "")
    return v


def county_frame(pdir: Path, quarter: str) -> pd.DataFrame | None:
    """Published county estimates of the quarter, as published (figures with symbols) plus
    ``kind`` (:func:`seuranta.publication.bookfmt.estimate_kind`: point / range / none)."""
    ce = pub.read(pdir, "county_estimates", required=False)
    if ce is None or ce.empty:
        return None
    ce = ce[ce["quarter"].astype(str) == str(quarter)].reset_index(drop=True)
    return ce.assign(kind=[estimate_kind(r) for _, r in ce.iterrows()])


def national_frame(pdir: Path, quarter: str) -> pd.DataFrame:
    """The published national estimate per task (all ages), as published plus ``kind``."""
    est = pub.read(pdir, "estimates", required=False)
    if est is None or est.empty:
        return pd.DataFrame(columns=["service_task", "kind"])
    e = est[est["quarter"].astype(str) == str(quarter)]
    if "age_group" in e.columns:
        e = e[e["age_group"] == "kaikki"]
    e = e.drop_duplicates("service_task").reset_index(drop=True)
    return e.assign(kind=[estimate_kind(r) for _, r in e.iterrows()])


def _row(frame: pd.DataFrame, col: str, value):
    r = frame[frame[col] == value]
    return None if r.empty else r.iloc[0]


def _first_rows(*keys: pd.Series) -> dict[tuple, int]:
    """The position of the first row of each combination of ``keys`` (columns of one
    frame): ``frame.iloc[pos]`` is the row :func:`_row` finds, without a filter per key."""
    first: dict[tuple, int] = {}
    for i, k in enumerate(zip(*(s.tolist() for s in keys))):
        first.setdefault(k, i)
    return first


def _count_of_comprehensive(r) -> str | None:
    """A county whose every municipality is comprehensive has an exact count, not an
    estimate: its published ``clients_observed`` (or that figure's symbol); None for any
    other row."""
    if str(r.get("comprehensive", "")) not in ("1", "1.0") or "clients_observed" not in r:
        return None
    sym = r.get("clients_observed_symbol")
    sym = "" if sym is None or (isinstance(sym, float) and math.isnan(sym)) else str(sym)
    v = r.get("clients_observed")
    if sym or v is None or (isinstance(v, float) and math.isnan(v)):
        return sym or symbols.NOT_AVAILABLE
    return fi_number(v)


def _estimate_text(r) -> tuple[str, str, str]:
    """(estimate or range, interval, share) as published under the rule; a comprehensive
    county's count with no interval (the symbol ``x``: not applicable to a count)."""
    kind = estimate_kind(r)
    est, share = estimate_state(r)
    if kind == "point":
        count = _count_of_comprehensive(r)
        if count is not None:
            return count, symbols.NOT_APPLICABLE, share
        return est, interval_text(r), share
    if kind == "range":
        return est, symbols.NOT_AVAILABLE, share
    # nothing shown: the symbol of the figure the rule would show (.. when suppressed)
    col = "range_low" if str(r.get("publish_as")) == "range" else "estimate_rounded"
    sym = str(r.get(f"{col}_symbol") or "") or symbols.NOT_AVAILABLE
    return sym, sym, sym


def county_table_md(county: pd.DataFrame, national: pd.DataFrame, county_code: str) -> str:
    """Markdown table: per task the county's estimate, interval and share as the rule
    allows, and the whole country's share."""
    rows = ["| Palvelutehtävä | Arvio | 95 %:n luottamusväli | Osuus | Koko maa |",
            "|---|--:|--:|--:|--:|"]
    c = county[(county["county_code"] == county_code)
               & county["service_task"].isin(reference.task_codes() + ["lastensuojelulaki"])]
    for _, r in c.iterrows():
        t = r["service_task"]
        est, ci, share = _estimate_text(r)
        n = _row(national, "service_task", t)
        ns = _estimate_text(n)[2] if n is not None else symbols.NOT_AVAILABLE
        rows.append(f"| {TASK_SHORT.get(t, t)} | {est} | {ci} | {share} | {ns} |")
    return "\n".join(rows) + "\n"


def task_county_table_md(pdir: Path, quarter: str, task: str) -> str | None:
    """The task chapter's county table ("mallipohjainen arvio"), from the published
    county_estimates: per county the estimate (or its range), the interval, the clients
    observed in its comprehensive municipalities (as published: symbol where suppressed)
    and how many of its municipalities are comprehensive. None when nothing is published."""
    ce = county_frame(pdir, quarter)
    if ce is None:
        return None
    ce = ce[ce["service_task"] == task]
    if ce.empty:
        return None
    obs = _shown(ce, "clients_observed")
    sym = (ce["clients_observed_symbol"].fillna("") if "clients_observed_symbol" in ce
           else pd.Series("", index=ce.index))
    c = reference.counties()
    names = dict(zip(c["county_code"], c["county_name_fi"]))
    rows = ["| Hyvinvointialue | Mallipohjainen arvio | 95 %:n luottamusväli "
            "| Havaitut asiakkaat (kattavat kunnat) | Kattavia kuntia |",
            "|---|--:|--:|--:|--:|"]
    for i, r in ce.iterrows():
        est, ci, _ = _estimate_text(r)
        if int(r["municipalities_comprehensive"]) == 0:
            seen = symbols.NOT_APPLICABLE   # no comprehensive municipality: nothing observed
        else:
            seen = (sym[i] or symbols.NOT_APPLICABLE) if math.isnan(obs[i]) else fi_number(obs[i])
        full = " (kaikki)" if int(r["comprehensive"]) == 1 else ""
        name = county_short(names.get(r["county_code"], r["county_code"]))
        rows.append(f"| {name} | {est} | {ci} | {seen} | "
                    f"{fi_number(r['municipalities_comprehensive'])}/"
                    f"{fi_number(r['municipalities'])}{full} |")
    return "\n".join(rows) + "\n"


# --------------------------------------------------------------------------- chart

def _spans(d: pd.DataFrame) -> pd.DataFrame:
    """Per county of a task: its point share (a point estimate) or the ends of its share
    range (a range), as published; NaN where the rule shows nothing."""
    point = d["kind"] == "point"
    ranged = d["kind"] == "range"
    return pd.DataFrame({
        "county_code": d["county_code"].to_numpy(),
        "share": _shown(d, "share_pct").where(point).to_numpy(),
        "lo": _shown(d, "range_low_pct").where(ranged).to_numpy(),
        "hi": _shown(d, "range_high_pct").where(ranged).to_numpy(),
        "est": _shown(d, "estimate_rounded").where(point).to_numpy(),
        "ci_lo": _shown(d, "ci_low").where(point).to_numpy(),
        "ci_hi": _shown(d, "ci_high").where(point).to_numpy(),
    })


def _task_spans(spans: pd.DataFrame, frame: pd.DataFrame, task: str) -> pd.DataFrame:
    """The rows of ``spans`` (:func:`_spans` of ``frame``) of one task: what
    :func:`_spans` of that task's rows of ``frame`` is."""
    return spans[(frame["service_task"] == task).to_numpy()].reset_index(drop=True)


def _has_figure(d: pd.DataFrame) -> bool:
    return bool((d["kind"].isin(["point", "range"])).any())


def county_chart(county: pd.DataFrame, national: pd.DataFrame, county_code: str, title: str,
                 *, synthetic: bool):
    """The county against the others: one strip per task with every county as published
    (grey: a point estimate's share as a dot, a range as a bar), this county's in red (its
    share with its interval, or its range without a point) and the whole country's (black:
    a line, or a shaded range), with the source line. Returns the figure, or None when no
    task has a share."""
    import matplotlib.pyplot as plt  # heavy dependency: loaded only when drawing

    tasks = [t for t in reference.task_codes(estimated_only=True)
             if _has_figure(county[county["service_task"] == t])]
    if not tasks:
        return None
    fig, axes = plt.subplots(len(tasks), 1, figsize=(6.5, 0.75 * len(tasks) + 0.7), squeeze=False)
    spans = _spans(county)   # row by row: each task's rows are its own spans
    for ax, t in zip(axes[:, 0], tasks):
        sp = _task_spans(spans, county, t)
        pts = sp[sp["share"].notna()]
        rng = sp[sp["lo"].notna() & sp["hi"].notna()]
        ax.scatter(pts["share"], np.zeros(len(pts)), s=14, color="#9aaab8", zorder=2)
        ax.hlines(np.full(len(rng), -0.35), rng["lo"], rng["hi"], color="#9aaab8", lw=1.5,
                  zorder=2)
        me = sp[sp["county_code"] == county_code]
        if len(me):
            r = me.iloc[0]
            if not math.isnan(r["share"]):
                f = r["share"] / r["est"] if r["est"] else math.nan
                if np.isfinite(r["ci_lo"] * f) and np.isfinite(r["ci_hi"] * f):
                    ax.hlines(0, r["ci_lo"] * f, r["ci_hi"] * f, color="#b2182b", lw=2, zorder=3)
                ax.scatter([r["share"]], [0], s=50, color="#b2182b", zorder=4)
            elif not math.isnan(r["lo"]):
                ax.hlines(0.35, r["lo"], r["hi"], color="#b2182b", lw=5, alpha=0.8, zorder=3)
        n = _row(national, "service_task", t)
        kind = "none" if n is None else n["kind"]
        if kind == "point" and not math.isnan(_shown(national[national["service_task"] == t],
                                                     "share_pct").iloc[0]):
            ax.axvline(float(n["share_pct"]), color="#222", lw=1.2, zorder=1)
        elif kind == "range":
            ax.axvspan(float(n["range_low_pct"]), float(n["range_high_pct"]), color="#222",
                       alpha=0.08, zorder=0)
        ax.set_yticks([])
        ax.set_ylim(-1, 1)
        ax.spines[["top", "right", "left"]].set_visible(False)
        ax.set_title(f"{TASK_SHORT.get(t, t)} (osuus {BASE_ELATIVE.get(t, '')})", fontsize=8,
                     loc="left", pad=2)
        ax.xaxis.set_major_locator(tick_locator(SHARE_DECIMALS, nbins=4))
        ax.xaxis.set_major_formatter(lambda x, _pos: fi_pct(x, SHARE_DECIMALS))
        ax.tick_params(axis="x", labelsize=7)
    fig.suptitle(title, fontsize=9, x=0.02, ha="left")
    fig.text(0.02, 0.005, "Punainen = alue (piste ja 95 %:n luottamusväli, tai vaihteluväli), "
             "harmaa = muut alueet, musta = koko maa.", fontsize=7, color="#444")
    fig.subplots_adjust(left=0.04, right=0.97, top=1 - 0.45 / fig.get_figheight(),
                        bottom=0.45 / fig.get_figheight() + 0.02, hspace=1.2)
    return source_line(fig, synthetic)


def chart_alt(county: pd.DataFrame, national: pd.DataFrame, county_code: str,
              county_name: str) -> str:
    """Text alternative of the chart from the same rows: per task the county's share as
    the rule allows, its rank among the counties with a point estimate (a county with a
    range or no estimate has no rank), and the country's share."""
    parts = []
    spans = _spans(county)
    for t in reference.task_codes(estimated_only=True):
        d = county[county["service_task"] == t]
        me = _row(d, "county_code", county_code)
        if me is None or me["kind"] == "none":
            continue
        _, _, share = _estimate_text(me)
        n = _row(national, "service_task", t)
        ns = f", koko maa {_estimate_text(n)[2]}" if n is not None and n["kind"] != "none" else ""
        if me["kind"] == "point":
            pts = (_task_spans(spans, county, t).dropna(subset=["share"])
                   .sort_values("share", ascending=False))
            rank = list(pts["county_code"]).index(county_code) + 1
            text = (f"{TASK_SHORT.get(t, t)} {share} ({rank}. suurin niistä {len(pts)} "
                    f"alueesta, joilla on pistearvio{ns})")
        else:
            text = f"{TASK_SHORT.get(t, t)} vaihteluväli {share} (ei pistearviota{ns})"
        parts.append(text)
    return f"{county_name}: " + ("; ".join(parts) if parts else "ei julkaistuja arvioita") + "."


# --------------------------------------------------------------------------- series

def county_frames(pdirs: Mapping[str, Path]) -> dict[str, pd.DataFrame | None]:
    """:func:`county_frame` of every quarter of ``pdirs`` (quarter → its published folder),
    each read once: the frames :func:`county_series` takes for every county."""
    return {q: county_frame(pdirs[q], q) for q in sorted(pdirs)}


def county_series(pdirs: Mapping[str, Path], county_code: str,
                  frames: Mapping[str, pd.DataFrame | None] | None = None) -> pd.DataFrame:
    """A county's published estimates in every quarter of the series, each quarter's rows
    read from *that quarter's* published folder (``pdirs``: quarter → ``OUT/<Q>/published``)
    as the gate published them, with ``kind`` (point / range / none). A quarter whose
    folder has no county estimates is missing from the frame. ``frames``: the quarters'
    :func:`county_frames` when already read (a page per county reads them once)."""
    frames = county_frames(pdirs) if frames is None else frames
    parts = []
    for q in sorted(pdirs):
        cf = frames[q]
        if cf is not None:
            parts.append(cf[cf["county_code"] == county_code])
    if not parts:
        return pd.DataFrame(columns=["quarter", "service_task", "county_code", "kind"])
    return pd.concat(parts, ignore_index=True)


def national_series(pdirs: Mapping[str, Path]) -> pd.DataFrame:
    """The whole country's published estimate per task in every quarter (each quarter's
    own published folder), as :func:`national_frame` reads one."""
    parts = [national_frame(pdirs[q], q).assign(quarter=q) for q in sorted(pdirs)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["quarter", "service_task", "kind"])


def _series_tasks(series: pd.DataFrame) -> list[str]:
    return [t for t in reference.task_codes(estimated_only=True)
            if t in set(series["service_task"])]


def county_series_table_md(series: pd.DataFrame, caption: str) -> str | None:
    """Markdown table of a county's shares over the quarters: a row per quarter (oldest
    first), a column per estimated task; a cell is the share exactly as that quarter's
    publication rule allowed it (a point estimate's share, a range's share range) or the
    symbol that stood in its place (``.`` no estimate, ``..`` suppressed). None when the
    county has no published rows."""
    tasks = _series_tasks(series)
    if not tasks:
        return None
    quarters = sorted(series["quarter"].astype(str).unique())
    first = _first_rows(series["quarter"].astype(str), series["service_task"])
    rows = []
    for q in quarters:
        row = [Quarter.parse(q).name_fi]
        for t in tasks:
            i = first.get((q, t))
            row.append(symbols.NOT_AVAILABLE if i is None
                       else _estimate_text(series.iloc[i])[2])
        rows.append(row)
    frame = pd.DataFrame(rows, columns=["Vuosineljännes"] + [TASK_SHORT[t] for t in tasks])
    return table_block(caption, frame, note=(
        "Osuus väestöpohjasta kunkin vuosineljänneksen julkaisusäännön mukaan: pistearvion "
        "osuus tai, kun pistearviota ei julkaistu, osuuden vaihteluväli. "
        + symbol_note((symbols.NOT_AVAILABLE, symbols.SUPPRESSED))))


def county_series_chart(series: pd.DataFrame, national: pd.DataFrame, title: str, *,
                        synthetic: bool):
    """A county's shares over the quarters, one panel per estimated task: a point
    estimate's share as a red dot with its 95 % interval (as a share), a range as a pale
    red bar without a point, nothing where the quarter's rule showed nothing; the whole
    country's point shares as a black line. Returns the figure, or None when no quarter
    shows a figure."""
    import matplotlib.pyplot as plt  # heavy dependency: loaded only when drawing

    tasks = [t for t in _series_tasks(series)
             if _has_figure(series[series["service_task"] == t])]
    if not tasks:
        return None
    quarters = sorted(set(series["quarter"].astype(str)) | set(national["quarter"].astype(str)))
    xs = {q: i for i, q in enumerate(quarters)}
    ncols = 2 if len(tasks) > 1 else 1
    nrows = math.ceil(len(tasks) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(7.5, 1.9 * nrows + 0.6), squeeze=False,
                             sharex=True)
    for ax, t in zip(axes.flat, tasks):
        d = series[series["service_task"] == t].reset_index(drop=True)
        sp = _spans(d).assign(quarter=d["quarter"].astype(str).to_numpy())
        pts = sp[sp["share"].notna()]
        f = pts["share"] / pts["est"].where(pts["est"] > 0)
        lo, hi = (pts["ci_lo"] * f).to_numpy(), (pts["ci_hi"] * f).to_numpy()
        band = np.isfinite(lo) & np.isfinite(hi)
        px = np.array([xs[q] for q in pts["quarter"]], dtype=float)
        ax.vlines(px[band], lo[band], hi[band], color="#b2182b", lw=1.5, zorder=3)
        ax.scatter(px, pts["share"], s=22, color="#b2182b", zorder=4)
        rng = sp[sp["lo"].notna() & sp["hi"].notna()]
        ax.vlines([xs[q] for q in rng["quarter"]], rng["lo"], rng["hi"], color="#b2182b",
                  lw=6, alpha=0.35, zorder=2)
        n = national[(national["service_task"] == t) & (national["kind"] == "point")]
        nshare = _shown(n, "share_pct")
        n = n.assign(v=nshare)[nshare.notna()]
        if len(n):
            ax.plot([xs[str(q)] for q in n["quarter"]], n["v"], color="#222", lw=1,
                    marker="_", zorder=1)
        ax.set_title(f"{TASK_SHORT.get(t, t)} (osuus {BASE_ELATIVE.get(t, '')})", fontsize=8,
                     loc="left", pad=2)
        ax.yaxis.set_major_locator(tick_locator(SHARE_DECIMALS, nbins=4))
        ax.yaxis.set_major_formatter(lambda v, _pos: fi_pct(v, SHARE_DECIMALS))
        ax.tick_params(labelsize=7)
        ax.set_xlim(-0.5, len(quarters) - 0.5)
        ax.set_xticks(range(len(quarters)), [quarter_short(q) for q in quarters])
        ax.tick_params(axis="x", labelbottom=True)   # every panel names its quarters
    for ax in list(axes.flat)[len(tasks):]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=9, x=0.02, ha="left")
    fig.text(0.02, 0.005, "Punainen piste = alueen pistearvio ja 95 %:n luottamusväli, "
             "vaalea palkki = vaihteluväli (ei pistearviota), musta viiva = koko maa.",
             fontsize=7, color="#444")
    fig.tight_layout(rect=(0, 0.04, 1, 1 - 0.3 / fig.get_figheight()))
    return source_line(fig, synthetic)


def county_series_alt(series: pd.DataFrame, county_name: str) -> str:
    """Text alternative of :func:`county_series_chart` from the same rows: per task the
    quarters' shares as published (a range as a range; a quarter without a figure is
    left out)."""
    parts = []
    for t in _series_tasks(series):
        d = series[(series["service_task"] == t) & (series["kind"] != "none")]
        if d.empty:
            continue
        pts = "; ".join(f"{quarter_short(str(r['quarter']))} {_estimate_text(r)[2]}"
                        for _, r in d.sort_values("quarter").iterrows())
        parts.append(f"{TASK_SHORT.get(t, t)}: {pts}")
    return (f"{county_name}, osuudet vuosineljänneksittäin: "
            + (". ".join(parts) if parts else "ei julkaistuja arvioita") + ".")


# --------------------------------------------------------------------------- table

_TABLE_CSS = """<style>
.seuranta-scroll{overflow-x:auto;max-width:100%}
table.seuranta-sortable{font-size:.85rem;border-collapse:collapse}
table.seuranta-sortable th{cursor:pointer;white-space:nowrap;padding:.2rem .4rem;border-bottom:2px solid #888}
table.seuranta-sortable td{padding:.15rem .4rem;border-bottom:1px solid #e3e3e3}
table.seuranta-sortable th[aria-sort=ascending]::after{content:" \\25B2"}
table.seuranta-sortable th[aria-sort=descending]::after{content:" \\25BC"}
</style>"""

_SORT_JS = """<script>
(function(){
 if (window.seurantaTables) return; window.seurantaTables = true;
 function init(){
  document.querySelectorAll('table.seuranta-sortable').forEach(function(t){
   var body = t.tBodies[0], heads = t.tHead.rows[0].cells;
   Array.prototype.forEach.call(heads, function(th, i){
    th.setAttribute('role','button'); th.tabIndex = 0; th.title = 'Järjestä';
    function sort(){
     var asc = th.getAttribute('aria-sort') !== 'ascending';
     Array.prototype.forEach.call(heads, function(h){ h.removeAttribute('aria-sort'); });
     th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
     var rows = Array.prototype.slice.call(body.rows);
     rows.sort(function(a, b){
      var x = a.cells[i], y = b.cells[i];
      var xv = x.getAttribute('data-v'), yv = y.getAttribute('data-v');
      if (xv !== null && yv !== null) {
       var xn = xv === '' ? NaN : +xv, yn = yv === '' ? NaN : +yv;
       if (isNaN(xn) && isNaN(yn)) return 0; if (isNaN(xn)) return 1; if (isNaN(yn)) return -1;
       return asc ? xn - yn : yn - xn;
      }
      var c = x.textContent.localeCompare(y.textContent, 'fi');
      return asc ? c : -c;
     });
     rows.forEach(function(r){ body.appendChild(r); });
    }
    th.addEventListener('click', sort);
    th.addEventListener('keydown', function(e){ if (e.key === 'Enter') sort(); });
   });
   var f = document.getElementById(t.id + '-filter');
   if (f) f.addEventListener('input', function(){
    var q = f.value.toLowerCase();
    Array.prototype.forEach.call(body.rows, function(r){
     r.style.display = r.textContent.toLowerCase().indexOf(q) >= 0 ? '' : 'none';
    });
   });
  });
 }
 if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init); else init();
})();
</script>"""


def sortable_table_html(df: pd.DataFrame, table_id: str, caption: str,
                        numeric: dict[str, str] | None = None) -> str:
    """An HTML table with a filter box; ``numeric``: {shown column: column of its numeric
    value} (sort key in ``data-v``; empty for a symbol)."""
    numeric = numeric or {}
    cols = [c for c in df.columns if c not in set(numeric.values())]
    tid = escape.html(table_id)
    out = [_TABLE_CSS, f'<label for="{tid}-filter">Suodata taulukkoa: </label>'
           f'<input type="search" id="{tid}-filter" placeholder="esim. kunnan nimi">',
           '<div class="seuranta-scroll">'
           f'<table class="seuranta-sortable" id="{tid}"><caption>{escape.html(caption)}</caption>',
           "<thead><tr>" + "".join(f'<th scope="col">{escape.html(str(c))}</th>' for c in cols)
           + "</tr></thead><tbody>"]
    for r in df.to_dict("records"):
        cells = []
        for c in cols:
            if c in numeric:
                v = r[numeric[c]]
                dv = "" if v is None or (isinstance(v, float) and math.isnan(v)) else repr(float(v))
                cells.append(f'<td data-v="{dv}" style="text-align:right">{escape.html(str(r[c]))}</td>')
            else:
                cells.append(f"<td>{escape.html(str(r[c]))}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    out.append(_SORT_JS)
    return "\n".join(out)


def municipal_table(pdir: Path, quarter: str, county_code: str | None = None,
                    municipal: pd.DataFrame | None = None) -> tuple[pd.DataFrame, dict]:
    """The quarter's municipal shares, one row per municipality and a column per task
    (shown text and its numeric value), with the county; optionally one county only.
    ``municipal``: the folder's ``municipal`` table when already read."""
    m = pub.read(pdir, "municipal") if municipal is None else municipal
    m = m[m["quarter"].astype(str) == str(quarter)]
    if county_code is not None:
        m = m[m["county_code"] == county_code]
    mun = reference.mainland_municipalities()
    names = dict(zip(mun["municipality_code"], mun["name_fi"]))
    cnames = dict(zip(mun["county_code"], mun["county_name_fi"]))
    share = _shown(m, "share_pct")
    sym = m["share_pct_symbol"].fillna("") if "share_pct_symbol" in m.columns else pd.Series("", index=m.index)
    m = m.assign(v=share, text=[
        s if s else (fi_pct(v, SHARE_DECIMALS) if not math.isnan(v) else symbols.NOT_AVAILABLE)
        for s, v in zip(sym, share)])
    tasks = [t for t in reference.task_codes() + ["lastensuojelulaki"] if t in set(m["service_task"])]
    base = (m[["municipality_code", "county_code"]].drop_duplicates("municipality_code")
            .set_index("municipality_code"))
    out = pd.DataFrame({"Kunta": [names.get(c, c) for c in base.index]}, index=base.index)
    if county_code is None:   # the county column only where several counties are listed
        out["Hyvinvointialue"] = [county_short(cnames.get(c, c)) for c in base["county_code"]]
    numeric = {}
    for t in tasks:
        mt = m[m["service_task"] == t].set_index("municipality_code")
        label = TASK_SHORT.get(t, t)
        out[label] = mt["text"].reindex(out.index).fillna(symbols.NOT_AVAILABLE)
        out[f"_{t}"] = mt["v"].reindex(out.index)
        numeric[label] = f"_{t}"
    return out.sort_values("Kunta").reset_index(drop=True), numeric
