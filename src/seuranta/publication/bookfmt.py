"""Helpers for the publication notebooks: Finnish wording, tables as Markdown, figures.

The notebooks in ``notebooks/`` stay short by calling these functions: reading a
quarter's tables with the right dtypes, Finnish names and grammatical forms of the
service tasks and population bases, Markdown tables (which render as real tables both
in HTML and in the PDF), the synthetic-data notice and the disclosure call site.
Every number a reader sees is formatted here (Finnish format: ``2,4 %``, ``134 400``).
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from seuranta.core import reference, symbols, tables
from seuranta.core.fmt import MISSING, NBSP, fi_number, fi_pct, fi_round  # noqa: F401 (re-exported)
from seuranta.core.labels_fi import (  # noqa: F401
    AGE_GROUP_FI,
    BASE_ELATIVE,
    DECISION_FI,
    QUALITY_FI,
    QUARTER_INESSIVE,
    RULE_REASON_FI,
    SOURCE_FI,
    TASK_ABBR,
    TASK_GENITIVE,
    TASK_SHORT,
)
from seuranta.core.params import Params, as_params
from seuranta.core.quarters import Quarter
from seuranta.statistics import disclosure

#: Symbols of the published tables: the one set of :mod:`seuranta.core.symbols`
#: (explained on the page "Symbolit" and in every table note that uses them).
SYMBOL_NONE = symbols.NOT_AVAILABLE      # no data / not comprehensive
SYMBOL_SUPPRESSED = symbols.SUPPRESSED


# --------------------------------------------------------------------------- numbers

def pct_decimals(x: float) -> int:
    """Decimals THL uses for a share: whole per cents from 10 % up, one decimal below
    (two below 0,1 % so that a small share does not read as zero)."""
    return 0 if abs(x) >= 10 else (1 if abs(x) >= 0.1 or x == 0 else 2)


def fi_share(x: float) -> str:
    return fi_pct(x, pct_decimals(x))


# --------------------------------------------------------------------------- words

def quarter_name(quarter: str) -> str:
    """``2023Q1`` → ``tammi–maaliskuu 2023``."""
    return Quarter.parse(quarter).name_fi


def quarter_in(quarter: str) -> str:
    """``2023Q1`` → ``vuoden 2023 tammi–maaliskuussa``."""
    q = Quarter.parse(quarter)
    return f"vuoden {q.year} {QUARTER_INESSIVE[q.q]}"


def quarter_short(quarter: str) -> str:
    """``2023Q1`` → ``I/2023`` (axis labels)."""
    q = Quarter.parse(quarter)
    return f"{['I', 'II', 'III', 'IV'][q.q - 1]}/{q.year}"


def task_name(task: str) -> str:
    if task == "lastensuojelulaki":
        return "Lastensuojelulain mukainen asiakkuus"
    t = reference.service_tasks().set_index("service_task")
    return str(t.loc[task, "name_fi"])


def estimated(task: str) -> bool:
    if task == "lastensuojelulaki":
        return True
    t = reference.service_tasks().set_index("service_task")
    return bool(int(t.loc[task, "estimated"]))


def municipality_names() -> dict[str, str]:
    m = reference.municipalities()
    return dict(zip(m["municipality_code"], m["name_fi"]))


def county_names() -> dict[str, str]:
    c = reference.counties()
    return dict(zip(c["county_code"], c["county_name_fi"]))


def county_short(name: str) -> str:
    """``Pirkanmaan hyvinvointialue`` → ``Pirkanmaa``-like short label (genitive kept)."""
    return name.replace(" hyvinvointialue", "").replace("Helsingin kaupunki", "Helsinki")


def notice_text(synthetic: bool, params: Mapping | None = None) -> str:
    """The synthetic-data notice (parameters' publication.synthetic_notice), or ''."""
    if not synthetic:
        return ""
    return str(_params(params)["publication"]["synthetic_notice"]).strip()


def notice_md(synthetic: bool, params: Mapping | None = None) -> str:
    """The synthetic-data notice as a MyST admonition (empty for real data)."""
    if not synthetic:
        return ""
    return (f":::{{admonition}} Synteettinen aineisto\n:class: warning\n"
            f"{notice_text(synthetic, params)}\n:::\n")


# --------------------------------------------------------------------------- tables

def read(tables_dir: Path | str, name: str, required: bool = True) -> pd.DataFrame | None:
    """A quarter's table with its declared column types (:func:`seuranta.core.tables.read_table`,
    the one reader); None when optional and absent."""
    return tables.read_table(tables_dir, name, required)


def md_escape(s) -> str:
    return str(s).replace("|", "\\|")


def md_table(df: pd.DataFrame, right: list[str] | None = None) -> str:
    """A pipe table; columns named in ``right`` (default: all but the first) align right."""
    cols = list(df.columns)
    right = cols[1:] if right is None else right
    head = "| " + " | ".join(md_escape(c) for c in cols) + " |"
    sep = "|" + "|".join("---:" if c in right else ":---" for c in cols) + "|"
    body = ["| " + " | ".join(md_escape(v) for v in row) + " |"
            for row in df.astype(str).itertuples(index=False)]
    return "\n".join([head, sep, *body]) + "\n"


def latex_columns(df: pd.DataFrame, right: list[str] | None = None) -> str:
    """Sphinx ``tabularcolumns`` spec: the first (label) column twice as wide, the columns
    in ``right`` right-aligned (numbers), every width a share of the line."""
    cols = list(df.columns)
    right = cols[1:] if right is None else right
    widths = [2 if i == 0 else 1 for i in range(len(cols))]
    total = sum(widths)
    out = []
    for c, w in zip(cols, widths):
        align = r"\raggedleft" if c in right else r"\raggedright"
        out.append(rf">{{{align}\arraybackslash}}\X{{{w}}}{{{total}}}")
    return "|" + "|".join(out) + "|"


def table_block(caption: str, df: pd.DataFrame, right: list[str] | None = None,
                note: str = "") -> str:
    """A captioned table (MyST ``table`` directive: ``<caption>`` in HTML, the caption kept
    with its table in the PDF), numbers right-aligned in both, then the optional note."""
    out = (f"```{{tabularcolumns}} {latex_columns(df, right)}\n```\n\n"
           f":::{{table}} {caption}\n:width: 100%\n\n{md_table(df, right)}:::\n")
    if note:
        out += f"\n{note}\n"
    return out


# --------------------------------------------------------------------------- disclosure

#: The run's parameters in this process: set by :func:`use_params` (a notebook's first cell,
#: from the ``params_file`` that papermill passes). Functions below use them unless given
#: ``params`` explicitly; there is no fallback to a default file or to literals.
_PARAMS: Params | None = None


def use_params(params_file: Mapping | str | Path) -> Params:
    """Load the run's parameters (a file path, or an already loaded mapping) for this
    process and return them."""
    global _PARAMS
    _PARAMS = as_params(params_file)
    return _PARAMS


def _params(params: Mapping | None = None) -> Params:
    if params is not None:
        return as_params(params)
    if _PARAMS is None:
        raise RuntimeError("bookfmt: parameters not set: call bookfmt.use_params(params_file) "
                           "first (the parameters file of the run)")
    return _PARAMS


def disclosure_params(params: Mapping | None = None) -> tuple[int, str]:
    """(min_count of the run's disclosure parameters, the suppression symbol of
    :mod:`seuranta.core.symbols`)."""
    return int(_params(params)["disclosure"]["min_count"]), symbols.SUPPRESSED


def publish_counts(df: pd.DataFrame, count_cols: list[str], row_groups=None, col_groups=None,
                   derived: dict[str, str] | None = None, pct_decimals_: int = 1
                   ) -> pd.DataFrame:
    """DISCLOSURE CALL SITE: every count shown in the book goes through here.

    Applies ``seuranta.disclosure.protect`` (primary and secondary suppression; shares of
    suppressed counts suppressed too) and formats what remains in Finnish format.
    ``derived`` maps share columns (per cent) to their count column.
    """
    min_count, symbol = disclosure_params()
    d = df.reset_index(drop=True)
    out = disclosure.protect(d, count_cols, row_groups=row_groups, col_groups=col_groups,
                             derived=derived, min_count=min_count, symbol=symbol)
    for c in count_cols:
        out[c] = [v if isinstance(v, str) else fi_number(v) for v in out[c]]
    for c in (derived or {}):
        out[c] = [v if isinstance(v, str) else fi_pct(v, pct_decimals_) for v in out[c]]
    return out


def publish_value(x) -> str:
    """One stand-alone count in text, with disclosure control."""
    min_count, symbol = disclosure_params()
    v = disclosure.protect_value(x, min_count=min_count, symbol=symbol)
    return v if isinstance(v, str) else fi_number(v)


def symbol_note(used: tuple[str, ...] = (symbols.SUPPRESSED, symbols.NOT_AVAILABLE)) -> str:
    """Explanation of the symbols a table uses (the one set of :mod:`seuranta.core.symbols`)."""
    parts = [f"{s} = {symbols.SYMBOLS[s][0][:1].lower()}{symbols.SYMBOLS[s][0][1:].rstrip('.')}"
             for s in symbols.SYMBOLS if s in used]
    return "Symbolit: " + "; ".join(parts) + "."


# --------------------------------------------------------------------------- figures

def setup_matplotlib():
    """Common figure style; returns pyplot."""
    import matplotlib.pyplot as plt  # heavy dependency: loaded only when used
    plt.rcParams.update({
        "figure.dpi": 100, "savefig.dpi": 100, "font.size": 10,
        "axes.spines.top": False, "axes.spines.right": False,
        "axes.formatter.use_locale": False, "figure.figsize": (7.5, 3.6),
    })
    return plt


def alt_text(text: str) -> str:
    """A figure's alternative text on one line, without Markdown's brackets."""
    return re.sub(r"\s+", " ", str(text)).replace("[", "(").replace("]", ")").strip()


def show(fig, alt: str | None = None):
    """Display a figure as a Markdown image with its alternative text (written from the
    data by the caller; by default the figure's titles) and close it. The PNG is inlined
    (a data URI), so the book needs no image request and the alt text is never a path."""
    import matplotlib.pyplot as plt  # heavy dependency: loaded only when used
    from IPython.display import Markdown, display  # heavy dependency: loaded only when used
    if alt is None:
        titles = [fig._suptitle.get_text()] if fig._suptitle is not None else []
        titles += [ax.get_title() for ax in fig.axes if ax.get_title()]
        alt = ". ".join(titles) or "Kuvio"
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    display(Markdown(f"![{alt_text(alt)}](data:image/png;base64,{data})"))


def fi_axis_pct(ax, axis: str = "y", decimals: int = 1):
    """Axis tick labels as Finnish per cents."""
    from matplotlib.ticker import FuncFormatter  # heavy dependency: loaded only when used
    f = FuncFormatter(lambda v, _: fi_pct(v, decimals))
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(f)


def fi_axis_number(ax, axis: str = "y"):
    from matplotlib.ticker import FuncFormatter  # heavy dependency: loaded only when used
    f = FuncFormatter(lambda v, _: fi_number(v))
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(f)


def published_estimate(est: pd.DataFrame, task: str, age_group: str = "kaikki"):
    """The published estimate row of a task (a Series), or None when there is none."""
    if est is None:
        return None
    e = est[est["service_task"] == task]
    if "age_group" in e.columns:
        e = e[e["age_group"].fillna("kaikki") == age_group]
    if "published" in e.columns:
        p = e[e["published"].fillna(0).astype(int) == 1]
        e = p
    return None if e.empty else e.iloc[0]


def county_table(counts_all: pd.DataFrame, used: set[str], estimate_row=None) -> pd.DataFrame:
    """THL's Taulukko VA1: national estimate, the comprehensive municipalities together and,
    per county, the clients of the municipalities used ("Osin …" when only some are).

    ``counts_all``: the task's ALL-source rows of counts.csv. Returns Alue, Asiakkaat
    (formatted, disclosure applied).
    """
    mun = reference.mainland_municipalities()
    per_county = mun.groupby("county_code")["municipality_code"].apply(set).to_dict()
    names = county_names()
    u = counts_all[counts_all["municipality_code"].isin(used)]
    rows = []
    for code, g in u.groupby("county_code", sort=True):
        partly = set(g["municipality_code"]) != per_county.get(code, set())
        label = ("Osin " if partly else "") + names.get(code, code)
        rows.append({"Alue": label, "Asiakkaat": int(g["clients"].sum())})
    body = pd.DataFrame(rows, columns=["Alue", "Asiakkaat"])
    if len(body):
        body = publish_counts(body, ["Asiakkaat"], row_groups="all")
    total = int(u["clients"].sum())
    head = []
    if estimate_row is not None:
        head.append({"Alue": "Arvio koko maa",
                     "Asiakkaat": fi_number(estimate_row["estimate_rounded"])})
    head.append({"Alue": "Edustavat kunnat yhteensä", "Asiakkaat": publish_value(total)})
    return pd.concat([pd.DataFrame(head), body], ignore_index=True)


# --------------------------------------------------------------------------- published tables
# The gate's published tables (OUT/<Q>/published/, seuranta.publication.gate) are the only
# source of published numbers: a figure is shown as its value or as its symbol.

def pub_number(value, symbol: str = "") -> str:
    """A published count: its symbol when it has one, else the Finnish number."""
    return symbol if symbol else fi_number(value)


def pub_pct(value, symbol: str = "", decimals: int = 1) -> str:
    """A published share (per cent): its symbol when it has one, else ``2,4 %``."""
    return symbol if symbol else fi_pct(value, decimals)


def published_total(totals: pd.DataFrame, kind: str, quarter: str, task: str,
                    county: str = "") -> str:
    """One total of the gate's ``totals.csv`` (e.g. kind ``used``: the clients of the
    municipalities used), formatted or as its symbol; '' when there is no such total."""
    t = totals[(totals["kind"] == kind) & (totals["quarter"] == str(quarter))
               & (totals["service_task"] == task)
               & (totals["county_code"].fillna("") == county)]
    if t.empty:
        return ""
    r = t.iloc[0]
    return pub_number(r["clients"], r["clients_symbol"])


def published_county_table(totals: pd.DataFrame, task: str, quarter: str,
                           estimate_row=None) -> pd.DataFrame:
    """THL's Taulukko VA1 from the gate's ``totals.csv``: national estimate, the
    municipalities used together and per county ("Osin …" when only some of the county's
    municipalities are used). Tasks without an estimate: the registered clients."""
    names = county_names()
    kind = "used" if estimated(task) else "registered"
    head = []
    if estimate_row is not None:
        head.append({"Alue": "Arvio koko maa",
                     "Asiakkaat": pub_number(estimate_row["estimate_rounded"],
                                             estimate_row.get("estimate_rounded_symbol", ""))})
    head.append({"Alue": "Edustavat kunnat yhteensä" if kind == "used"
                 else "Rekisteriin kirjatut yhteensä",
                 "Asiakkaat": published_total(totals, kind, quarter, task)})
    c = totals[(totals["kind"] == f"county_{kind}") & (totals["quarter"] == str(quarter))
               & (totals["service_task"] == task)].sort_values("county_code")
    body = [{"Alue": ("Osin " if kind == "used" and not int(r.whole_county) else "")
             + names.get(r.county_code, r.county_code),
             "Asiakkaat": pub_number(r.clients, r.clients_symbol)} for r in c.itertuples()]
    return pd.DataFrame(head + body, columns=["Alue", "Asiakkaat"])


def share_chart(shares: pd.Series, q1: float, median: float, q3: float, title: str,
                ylabel: str):
    """Municipal shares (sorted bars) with the quartiles and the median marked."""
    plt = setup_matplotlib()
    s = shares.sort_values()
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    ax.bar(range(len(s)), s.to_numpy(), color="#9bb7d4", width=0.85)
    for v, lab, ls in ((q1, "alakvartiili", "--"), (median, "mediaani", "-"),
                       (q3, "yläkvartiili", "--")):
        ax.axhline(v, color="#1f3b5f", linestyle=ls, linewidth=1)
        ax.text(len(s) - 0.5, v, f" {lab} {fi_pct(v, 1)}", va="center", ha="left",
                fontsize=8, color="#1f3b5f")
    if len(s) <= 30:
        ax.set_xticks(range(len(s)), s.index, rotation=90, fontsize=7)
    else:
        ax.set_xticks([])
        ax.set_xlabel(f"{len(s)} kuntaa osuuden mukaan järjestettynä")
    ax.set_ylabel(ylabel)
    fi_axis_pct(ax)
    ax.set_title(title, fontsize=10)
    ax.set_xlim(-0.8, len(s) - 0.2)
    fig.tight_layout()
    return fig


def series_chart(quarters: list[str], values: list[float], lows=None, highs=None,
                 title: str = "", ylabel: str = "", pct: bool = True):
    """A quarterly series with an optional confidence band."""
    plt = setup_matplotlib()
    fig, ax = plt.subplots(figsize=(7.5, 3.0))
    x = list(range(len(quarters)))
    ax.plot(x, values, marker="o", color="#1f5f8b")
    if lows is not None and highs is not None:
        ax.fill_between(x, lows, highs, color="#1f5f8b", alpha=0.15,
                        label="95 %:n luottamusväli")
        ax.legend(frameon=False, fontsize=8, loc="lower right")
    ax.set_xticks(x, [quarter_short(q) for q in quarters])
    ax.set_ylabel(ylabel)
    (fi_axis_pct if pct else fi_axis_number)(ax)
    lo = min(v for v in (lows if lows is not None else values))
    ax.set_ylim(bottom=min(0, lo))
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def estimate_series(series_estimates: pd.DataFrame | None, task: str,
                    age_group: str = "kaikki") -> pd.DataFrame:
    """The published estimate of a task (× age group) in every quarter of series_estimates.

    Columns quarter, share (per cent), est (rounded), lo, hi (the 95 % interval), n
    (municipalities used) and base (national population base; NaN when the table has
    none). Quarters without an estimate (too few comprehensive municipalities) are left out.
    """
    cols = ["quarter", "share", "est", "lo", "hi", "n", "base"]
    rows = []
    ser = series_estimates
    if ser is not None:
        for q in sorted(ser["quarter"].unique()):
            r = published_estimate(ser[ser["quarter"] == q], task, age_group)
            if r is None or pd.isna(r["estimate"]):
                continue
            rows.append([q, float(r["share_pct"]), float(r["estimate_rounded"]),
                         float(r["ci_low"]), float(r["ci_high"]), int(r["municipalities_used"]),
                         float(r.get("national_base", float("nan")))])
    return pd.DataFrame(rows, columns=cols)


def estimate_series_chart(s: pd.DataFrame, title: str):
    """The estimated share per quarter (rows of :func:`estimate_series`) with its interval."""
    band = bool(s["base"].notna().all() and (s["base"] > 0).all())
    return series_chart(list(s["quarter"]), list(s["share"]),
                        list(100 * s["lo"] / s["base"]) if band else None,
                        list(100 * s["hi"] / s["base"]) if band else None,
                        title=title, ylabel="osuus")


def estimate_series_table(s: pd.DataFrame, share_label: str = "Osuus") -> pd.DataFrame:
    """The rows of :func:`estimate_series` as a Finnish table (estimates rounded to 100)."""
    return pd.DataFrame({
        "Vuosineljännes": [quarter_name(q) for q in s["quarter"]],
        "Arvio": [fi_number(v) for v in s["est"]],
        share_label: [fi_share(v) for v in s["share"]],
        "Luottamusväli 95 %": [f"{fi_number(fi_round(a))}–{fi_number(fi_round(b))}"
                               for a, b in zip(s["lo"], s["hi"])],
        "Kuntia arviossa": [fi_number(v) for v in s["n"]],
    })


def estimate_series_note(series_estimates: pd.DataFrame | None, s: pd.DataFrame) -> str:
    """Table note of a series: rounding, and the quarters left out for want of an estimate."""
    note = "Arviot on pyöristetty sataan."
    quarters = set() if series_estimates is None else set(series_estimates["quarter"])
    missing = sorted(quarters - set(s["quarter"]))
    if missing:
        note += (" Arviota ei voitu laatia liian vähäisten kattavien tietojen vuoksi: "
                 + ", ".join(quarter_name(q) for q in missing) + ".")
    return note


# --------------------------------------------------------------------------- publication rule

def rule_reason_fi(reason: str) -> str:
    """``rule_reason`` of estimates.csv in Finnish ("kattavien kuntien määrä alle 5; …")."""
    parts = []
    for code in [c for c in str(reason or "").split(";") if c]:
        op = ">" if ">" in code else "<"
        what, _, limit = code.partition(op)
        text = RULE_REASON_FI.get(what, what)
        if "{limit}" in text:
            text = text.format(limit=fi_number(float(limit), 0 if float(limit).is_integer()
                                               else 2))
        elif limit:
            unit = "\xa0%" if what in ("base_share", "rse") else ""
            word = "yli" if op == ">" else "alle"
            text += (f" {word} {fi_number(float(limit), 0 if float(limit).is_integer() else 1)}"
                     f"{unit}")
        parts.append(text)
    return "; ".join(parts)


def estimate_state(e) -> tuple[str, str]:
    """(clients, share) of a published estimate row as the publication rule allows: the
    rounded estimate and its share; the range and the share range; or "ei arviota" and the
    reason."""
    kind = str(e.get("publish_as") or "point") if hasattr(e, "get") else "point"
    if kind == "range":
        base = float(e["national_base"])
        lo, hi = float(e["range_low"]), float(e["range_high"])
        slo, shi = 100 * lo / base, 100 * hi / base
        return (f"{fi_number(lo)}–{fi_number(hi)}",
                f"{fi_number(slo, pct_decimals(shi))}–{fi_share(shi)}")
    if kind == "none":
        return "ei arviota", rule_reason_fi(e.get("rule_reason", ""))
    return fi_number(e["estimate_rounded"]), fi_share(float(e["share_pct"]))
