"""Helpers for the publication notebooks: Finnish wording, tables as Markdown, figures.

The notebooks in ``notebooks/`` stay short by calling these functions: Finnish names and
grammatical forms of the service tasks and population bases, Markdown tables (which render
as real tables both in HTML and in the PDF), the synthetic-data notice, figures, and how a
published estimate row reads under the publication rule (:func:`estimate_state`). Every
number a reader sees is formatted here (Finnish format: ``2,4 %``, ``134 400``) exactly as
the gate's published tables give it: nothing is computed from the exact tables, and no
figure is shown with more precision than the gate published.
"""

from __future__ import annotations

import base64
import io
import math
import re
import textwrap
from collections.abc import Mapping

import numpy as np
import pandas as pd

from seuranta.core import escape, reference, symbols
from seuranta.core.figures import source_line
from seuranta.core.fmt import MISSING, NBSP, fi_number, fi_pct, fi_round  # noqa: F401 (re-exported)
from seuranta.core.labels_fi import (  # noqa: F401
    AGE_GROUP_FI,
    BASE_ELATIVE,
    DECISION_FI,
    QUALITY_FI,
    QUARTER_INESSIVE,
    RULE_REASON_FI,
    TASK_ABBR,
    TASK_GENITIVE,
    TASK_SHORT,
)
from seuranta.core.params import as_params
from seuranta.core.precision import SHARE_DECIMALS
from seuranta.core.quarters import Quarter

# --------------------------------------------------------------------------- numbers

def fi_share(x: float) -> str:
    """A published share as the gate rounded it: one decimal (``2,4 %``, ``19,0 %``;
    :data:`seuranta.core.precision.SHARE_DECIMALS`)."""
    return fi_pct(x, SHARE_DECIMALS)


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


def notice_text(synthetic: bool, params: Mapping) -> str:
    """The synthetic-data notice (the run's parameters' publication.synthetic_notice), or
    ''."""
    if not synthetic:
        return ""
    return str(as_params(params)["publication"]["synthetic_notice"]).strip()


def notice_md(synthetic: bool, params: Mapping, extra: str = "") -> str:
    """The synthetic-data notice as a MyST admonition, its title above the text (empty
    for real data); ``extra``: a sentence of the page's own after the run's notice."""
    if not synthetic:
        return ""
    text = " ".join(t for t in (notice_text(synthetic, params), extra.strip()) if t)
    return (f":::{{admonition}} Synteettinen aineisto\n:class: warning\n"
            f"{escape.myst(text)}\n:::\n")


# --------------------------------------------------------------------------- tables

def md_escape(s) -> str:
    """A table cell's text, shown literally (:func:`seuranta.core.escape.myst`; a
    :class:`~seuranta.core.escape.Markup` cell, written by the code, as it is)."""
    return escape.myst(s)


def md_table(df: pd.DataFrame, right: list[str] | None = None,
             markup: tuple[str, ...] = ()) -> str:
    """A pipe table; columns named in ``right`` (default: all but the first) align right.
    Every header and cell is text, escaped (:func:`md_escape`): a reviewer's reason or a
    name can never become a role, a directive, HTML or a link. Only the columns named in
    ``markup`` hold Markdown written by the code itself (a download of its own file)."""
    cols = list(df.columns)
    right = cols[1:] if right is None else right
    head = "| " + " | ".join(md_escape(c) for c in cols) + " |"
    sep = "|" + "|".join("---:" if c in right else ":---" for c in cols) + "|"
    raw = [c in markup for c in cols]
    body = ["| " + " | ".join(str(v).replace("|", "\\|") if r else md_escape(v)
                              for v, r in zip(row, raw)) + " |"
            for row in df.itertuples(index=False, name=None)]
    return "\n".join([head, sep, *body]) + "\n"


#: The PDF's line in characters of the body font (A4 with 1 in margins, 451 pt, at 10 pt
#: about 5 pt a digit) and what a cell's padding takes of it (2 \tabcolsep = 12 pt and the
#: rule), for :func:`latex_columns`.
_LINE_CHARS, _CELL_PAD = 90, 3


def _room_for_numbers(widths: list[int], need: dict[int, int]) -> tuple[list[int], int]:
    """``widths`` (shares of the line) with every column ``i`` of ``need`` given at least
    ``need[i]`` of a line of ``_LINE_CHARS`` characters, the rest shared in proportion
    as before; (widths, their total). Unchanged when every column has its room already; else
    in tenths of a character (``\\X`` takes whole numbers)."""
    fixed: dict[int, float] = {}
    while True:
        free = [i for i in range(len(widths)) if i not in fixed]
        room = _LINE_CHARS - sum(fixed.values())
        scale = room / sum(widths[i] for i in free) if free else 0.0
        short = [i for i in free if i in need and widths[i] * scale < need[i]]
        if not short or scale <= 0:
            break
        fixed.update((i, float(need[i])) for i in short)
    if not fixed:
        return widths, sum(widths)
    out = [round(10 * (fixed[i] if i in fixed        # numbers alone overfill: text keeps 3
                       else widths[i] * scale if scale > 0 else 3))
           for i in range(len(widths))]
    return out, sum(out)


def latex_columns(df: pd.DataFrame, right: list[str] | None = None) -> str:
    """Sphinx ``tabularcolumns`` spec: wrapping ``p`` columns (``\\X``) whose widths are
    shares of the line in proportion to what each column must hold (its longest word, or a
    third of its mean text), the columns in ``right`` right-aligned (numbers). Each cell
    starts with ``\\hspace{0pt}`` so that even its first word can be hyphenated (a header
    such as "Perheoikeudelliset" in a narrow number column; the book's tables allow
    hyphenation, ``book._titlepage_latex``). A number cannot wrap: a right-aligned
    column gets at least its longest value and the cell's padding
    (:func:`_room_for_numbers`; a wide table's "1200" was cut to "120")."""
    cols = list(df.columns)
    right = cols[1:] if right is None else right
    widths, need = [], {}
    for i, c in enumerate(cols):
        texts = [str(c)] + [str(v) for v in df[c]]
        longest = max(len(w) for t in texts for w in (t.split() or [""]))
        mean = sum(len(t) for t in texts[1:]) / max(len(texts) - 1, 1)
        widths.append(max(3, longest, round(mean / 3)))
        if c in right:     # a number cannot wrap or hyphenate: its longest word must fit
            # (split at plain spaces only: "150 000–300 000" is held together by its
            # no-break spaces, and a range broken after its dash reads as two numbers)
            need[i] = max((len(w) for t in texts[1:] for w in t.split(" ")),
                          default=0) + _CELL_PAD
    widths, total = _room_for_numbers(widths, need)
    out = []
    for c, w in zip(cols, widths):
        align = r"\raggedleft" if c in right else r"\raggedright"
        out.append(rf">{{{align}\arraybackslash\hspace{{0pt}}}}\X{{{w}}}{{{total}}}")
    return "|" + "|".join(out) + "|"


def _pipe_frame(rows: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """A pipe table's header and cells as a frame (for its column widths) and the columns
    its delimiter row aligns right (a repeated header gets a zero-width space per repeat)."""
    def cells(line):
        return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
    names = []
    for h in cells(rows[0]):
        while h in names:
            h += "\u200b"
        names.append(h)
    align = cells(rows[1]) if len(rows) > 1 else []
    body = [(cells(r) + [""] * len(names))[:len(names)] for r in rows[2:]]
    right = [n for n, a in zip(names, align) if a.endswith(":") and not a.startswith(":")]
    return pd.DataFrame(body, columns=names), right


def caption_tables(md: str, captions: list[str]) -> str:
    """Wrap every pipe table of ``md`` in a captioned MyST ``table`` directive (the i-th
    caption of ``captions``; else the paragraph line before the table). The one caption
    rule of the book's Markdown tables: the build refuses a table without a caption
    (``book._check_captions``)."""
    lines, out, k, i = md.split("\n"), [], 0, 0
    while i < len(lines):
        if lines[i].startswith("|"):
            j = i
            while j < len(lines) and lines[j].startswith("|"):
                j += 1
            before = next((x for x in reversed(out) if x.strip()), "Taulukko")
            cap = captions[k] if k < len(captions) else before.strip().rstrip(":")
            frame, right = _pipe_frame(lines[i:j])
            out += [f"```{{tabularcolumns}} {latex_columns(frame, right)}", "```", "",
                    f":::{{table}} {cap}", ":width: 100%", ":class: longtable", ""] \
                + lines[i:j] + [":::"]
            k, i = k + 1, j
        else:
            out.append(lines[i])
            i += 1
    return "\n".join(out)


def table_block(caption: str, df: pd.DataFrame, right: list[str] | None = None,
                note: str = "", markup: tuple[str, ...] = ()) -> str:
    """A captioned table (MyST ``table`` directive: ``<caption>`` in HTML, the caption kept
    with its table in the PDF), numbers right-aligned in both, then the optional note.
    The caption and the cells are text (escaped); ``markup``: see :func:`md_table`.

    In the PDF every table is a ``longtable`` (class ``longtable``): its text columns wrap
    (the ``p`` columns of :func:`latex_columns`) and a table taller than the rest of the
    page continues on the next one under its repeated header, with the Finnish
    continuation lines (:data:`seuranta.publication.book.LATEX_FI`), instead of running
    through the footer and off the page (AL3, the review decisions)."""
    out = (f"```{{tabularcolumns}} {latex_columns(df, right)}\n```\n\n"
           f":::{{table}} {escape.myst(caption)}\n:width: 100%\n:class: longtable\n\n"
           f"{md_table(df, right, markup)}:::\n")
    if note:
        out += f"\n{note}\n"
    return out


def only(builder: str, md: str) -> str:
    """``md`` (blocks fenced with at most three colons) in one output format only: Sphinx's
    ``only`` directive (``html`` or ``latex``)."""
    return f"::::{{only}} {builder}\n{md}::::\n\n"


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


#: Characters that could start Markdown or MyST markup inside an image's alternative text
#: (emphasis, code, roles, math, HTML, links, escapes, entities) and what stands for them.
#: MyST drops every backslash-escaped character and entity from an alt text ("2,0 %" was
#: read "20"), so the alt text is made markup-free by substitution, not by escaping.
_ALT_MAP = {ord("["): "(", ord("]"): ")", ord("<"): "(", ord(">"): ")", ord("{"): "(",
            ord("}"): ")", ord("&"): " ja ", **{ord(c): " " for c in "\\`*_$|~^#"}}


def alt_text(text: str) -> str:
    """A figure's alternative text on one line, shown literally: every character that
    could be markup is replaced (:data:`_ALT_MAP`), the rest (digits, commas, per cent
    signs, hyphens, colons, full stops) is kept as it is."""
    return re.sub(r"\s+", " ", escape.plain(text).translate(_ALT_MAP)).strip()


def detached(fig):
    """The figure closed in pyplot but kept as an object: shown once by :func:`show`, never
    also by the inline backend at the end of the cell that made it (a second, raw PNG in
    every downloadable notebook)."""
    import matplotlib.pyplot as plt  # heavy dependency: loaded only when used
    plt.close(fig)
    return fig


def compressed_png(png: bytes) -> bytes:
    """A chart's PNG with its colours reduced to a palette of 256 (median cut, no
    dithering: the same bytes on every run) and the PNG compressed at its best: a third to
    a half of matplotlib's RGBA file, the lines and text unchanged to the eye."""
    from PIL import Image  # heavy dependency: loaded only when used
    img = Image.open(io.BytesIO(png)).convert("RGB")
    pal = img.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out = io.BytesIO()
    pal.save(out, format="PNG", optimize=True)
    return out.getvalue() if out.tell() < len(png) else png


def show(fig, alt: str | None = None):
    """Display a figure as a Markdown image with its alternative text (written from the
    data by the caller; by default the figure's titles) and close it. The PNG is inlined
    (a data URI), so the book needs no image request and the alt text is never a path."""
    from IPython.display import Markdown, display  # heavy dependency: loaded only when used
    if alt is None:
        titles = [fig._suptitle.get_text()] if fig._suptitle is not None else []
        titles += [ax.get_title() for ax in fig.axes if ax.get_title()]
        alt = ". ".join(titles) or "Kuvio"
    data = base64.b64encode(chart_png(fig)).decode("ascii")
    display(Markdown(f"![{alt_text(alt)}](data:image/png;base64,{data})"))


def chart_png(fig) -> bytes:
    """A figure as the book's PNG (100 dpi, no software stamp, :func:`compressed_png`),
    and the figure closed."""
    import matplotlib.pyplot as plt  # heavy dependency: loaded only when used
    from matplotlib.layout_engine import PlaceHolderLayoutEngine
    if isinstance(fig.get_layout_engine(), PlaceHolderLayoutEngine):
        # the layout is final (``tight_layout``, then ``source_line``'s "none"): with the
        # placeholder engine, savefig laid the whole figure out once more before drawing it
        # (the same pixels, a third more time per chart)
        with plt.rc_context({"figure.autolayout": False,
                             "figure.constrained_layout.use": False}):
            fig.set_layout_engine(None)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    return compressed_png(buf.getvalue())


def drawn_side_by_side(draw, jobs: list[tuple]) -> list:
    """``[draw(*job) for job in jobs]`` on two cores: every other job in one forked worker
    process while this process draws the rest (the county pages' 44 charts took about 20 s
    of one core in a cold publish at scale 1). ``draw`` is a module-level function (its
    results are pickled back); with one job, or one process to use
    (:func:`~seuranta.statistics.memo.forked_jobs`), everything is drawn here.

    A forked worker inherits matplotlib's state (style, fonts), so a chart's PNG is the
    same bytes whichever process drew it (``tests/test_book_stage_once.py``)."""
    import concurrent.futures as cf
    import multiprocessing as mp

    from seuranta.statistics.memo import forked_jobs

    if len(jobs) < 2 or forked_jobs() < 2:
        return [draw(*job) for job in jobs]
    with cf.ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("fork")) as pool:
        theirs = {i: pool.submit(draw, *job) for i, job in enumerate(jobs) if i % 2}
        ours = {i: draw(*job) for i, job in enumerate(jobs) if not i % 2}
        return [theirs[i].result() if i in theirs else ours[i] for i in range(len(jobs))]


def tick_locator(decimals: int = 0, nbins="auto"):
    """Ticks at multiples of 1, 2 or 5 × 10^k that are never finer than ``decimals``
    decimals: a label shows its tick exactly, and two ticks never print the same label
    (0,05 and 0,1 both as "0,1 %", or 0,5 and 1 both as "1")."""
    from matplotlib.ticker import MaxNLocator  # heavy dependency: loaded only when used

    class _Locator(MaxNLocator):
        def tick_values(self, vmin, vmax):
            ticks = super().tick_values(vmin, vmax)
            step = 10.0 ** -decimals
            if len(ticks) > 1 and ticks[1] - ticks[0] < step * (1 - 1e-9):
                lo, hi = sorted((vmin, vmax))
                first = step * np.floor(lo / step + 1e-9)
                ticks = first + step * np.arange(int(np.ceil((hi - first) / step - 1e-9)) + 1)
            return ticks

    return _Locator(nbins=nbins, steps=[1, 2, 5, 10])


def fi_axis_pct(ax, axis: str = "y", decimals: int = SHARE_DECIMALS):
    """Axis tick labels as Finnish per cents with the shares' decimals."""
    from matplotlib.ticker import FuncFormatter  # heavy dependency: loaded only when used
    a = ax.yaxis if axis == "y" else ax.xaxis
    a.set_major_locator(tick_locator(decimals))
    a.set_major_formatter(FuncFormatter(lambda v, _: fi_pct(v, decimals)))


def fi_axis_number(ax, axis: str = "y"):
    """Axis tick labels as Finnish whole numbers, ticks at whole numbers only."""
    from matplotlib.ticker import FuncFormatter  # heavy dependency: loaded only when used
    a = ax.yaxis if axis == "y" else ax.xaxis
    a.set_major_locator(tick_locator(0))
    a.set_major_formatter(FuncFormatter(lambda v, _: fi_number(v)))


def chart_title(ax, title: str) -> None:
    """A chart's title, wrapped to its figure's width (about 10 characters an inch at
    10 pt): a title centred over axes narrowed by long labels ran beyond the figure's
    edges ("vio PO1…", "…loka–joulukuu 2")."""
    width = int(ax.figure.get_figwidth() * 10)
    ax.set_title(textwrap.fill(title, width), fontsize=10)


def count_chart(labels: list[str], values: list[float], title: str, xlabel: str,
                ylabel: str, *, synthetic: bool):
    """Bars of counts by category (clients by the number of their service tasks), and the
    source line (the title wrapped, :func:`chart_title`)."""
    plt = setup_matplotlib()
    fig, ax = plt.subplots(figsize=(6, 2.8))
    ax.bar(labels, values, color="#1f5f8b")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    fi_axis_number(ax)
    chart_title(ax, title)
    fig.tight_layout()
    return detached(source_line(fig, synthetic))


def quartile_labels(marks: list[tuple[float, str]], ylim: tuple[float, float],
                    gap: float = 0.08) -> list[tuple[float, str]]:
    """The labels of a chart's reference lines, (y, text), that never print on top of each
    other: lines whose values read the same ("0,1 %") share one label ("alakvartiili =
    mediaani = yläkvartiili 0,1 %"), and a label closer than ``gap`` of the axis height
    to the one below moves up to that distance (its line stays at its value)."""
    groups: dict[str, list] = {}
    for v, lab in sorted(m for m in marks if np.isfinite(m[0])):
        groups.setdefault(fi_share(v), []).append((v, lab))
    step = gap * (ylim[1] - ylim[0])
    out, last = [], -math.inf
    for shown, g in groups.items():
        y = max(g[0][0], last + step)
        out.append((y, " = ".join(lab for _, lab in g) + f" {shown}"))
        last = y
    return out


def share_chart(shares: pd.Series, q1: float, median: float, q3: float, title: str,
                ylabel: str, *, synthetic: bool):
    """Municipal shares (sorted bars) with the quartiles and the median marked, and the
    source line (:func:`seuranta.core.figures.source_line`)."""
    plt = setup_matplotlib()
    s = shares.sort_values()
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    ax.bar(range(len(s)), s.to_numpy(), color="#9bb7d4", width=0.85)
    marks = ((q1, "alakvartiili", "--"), (median, "mediaani", "-"), (q3, "yläkvartiili", "--"))
    for v, _, ls in marks:
        ax.axhline(v, color="#1f3b5f", linestyle=ls, linewidth=1)
    for y, text in quartile_labels([(v, lab) for v, lab, _ in marks], ax.get_ylim()):
        ax.text(len(s) - 0.5, y, f" {text}", va="center", ha="left", fontsize=8,
                color="#1f3b5f")
    if len(s) <= 30:
        ax.set_xticks(range(len(s)), s.index, rotation=90, fontsize=7)
    else:
        ax.set_xticks([])
        ax.set_xlabel(f"{len(s)} kuntaa osuuden mukaan järjestettynä")
    ax.set_ylabel(ylabel)
    fi_axis_pct(ax)
    chart_title(ax, title)
    ax.set_xlim(-0.8, len(s) - 0.2)
    fig.tight_layout()
    return detached(source_line(fig, synthetic))


def series_chart(quarters: list[str], values: list[float], lows=None, highs=None,
                 title: str = "", ylabel: str = "", pct: bool = True, *, synthetic: bool):
    """A quarterly series with an optional confidence band, and the source line."""
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
    chart_title(ax, title)
    fig.tight_layout()
    return detached(source_line(fig, synthetic))


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




def _shown(e, col: str) -> bool:
    """The published row shows a number in ``col`` (no symbol, not empty)."""
    v = e.get(col) if hasattr(e, "get") else None
    sym = e.get(f"{col}_symbol", "") if hasattr(e, "get") else ""
    if sym is not None and not (isinstance(sym, float) and pd.isna(sym)) and str(sym):
        return False
    return v is not None and not pd.isna(v)


def _symbol(e, col: str) -> str:
    sym = e.get(f"{col}_symbol", "") if hasattr(e, "get") else ""
    return "" if sym is None or (isinstance(sym, float) and pd.isna(sym)) else str(sym)


def estimate_kind(e) -> str:
    """How a published estimate row (national or county) is shown: ``point`` (its rounded
    estimate, interval and share), ``range`` (its range and the share range) or ``none``
    (nothing: the rule withholds it, or disclosure control suppressed it)."""
    if e is None:
        return "none"
    kind = str(e.get("publish_as") or "none")
    if kind == "point" and _shown(e, "estimate_rounded"):
        return "point"
    if kind == "range" and _shown(e, "range_low") and _shown(e, "range_high"):
        return "range"
    return "none"


def interval_text(e) -> str:
    """The published 95 % interval of a point estimate ("5 900–7 200"), else its symbol."""
    if _shown(e, "ci_low") and _shown(e, "ci_high"):
        return f"{fi_number(e['ci_low'])}–{fi_number(e['ci_high'])}"
    return _symbol(e, "ci_low") or symbols.NOT_AVAILABLE


def estimate_state(e) -> tuple[str, str]:
    """(clients, share) of a published estimate row as the publication rule allows: the
    rounded estimate and its share; the range and the share range; or "ei arviota" and the
    reason. Figures as the gate published them (no share is computed here)."""
    kind = estimate_kind(e)
    if kind == "range":
        share = (f"{fi_number(e['range_low_pct'], SHARE_DECIMALS)}–{fi_share(e['range_high_pct'])}"
                 if _shown(e, "range_low_pct") and _shown(e, "range_high_pct")
                 else _symbol(e, "range_low_pct") or symbols.NOT_AVAILABLE)
        return f"{fi_number(e['range_low'])}–{fi_number(e['range_high'])}", share
    if kind == "point":
        share = (fi_share(float(e["share_pct"])) if _shown(e, "share_pct")
                 else _symbol(e, "share_pct") or symbols.NOT_AVAILABLE)
        return fi_number(e["estimate_rounded"]), share
    return "ei arviota", no_estimate_why(e)


#: Why a row the publication rule allows shows nothing: disclosure control hid its figures.
HIDDEN_FI = "arvion pohjana olevien asiakkaiden määrä on salattu tietosuojan vuoksi"


def no_estimate_why(e) -> str:
    """Why an estimate row shows nothing (:func:`estimate_kind` ``none``): the publication
    rule's reason when the rule withholds it; disclosure control's when the rule allowed a
    point or a range but the gate hid its figures; empty when the row says neither (the
    chapters then give the estimate's note, :func:`seuranta.publication.chapters.no_estimate_reason`)."""
    if e is None:
        return ""
    if str(e.get("publish_as") or "none") == "none":
        return rule_reason_fi(e.get("rule_reason", ""))
    hidden = ("clients_used", "estimate_rounded", "range_low")
    return HIDDEN_FI if any(_symbol(e, c) == symbols.SUPPRESSED for c in hidden) else ""


def estimate_series_chart(s: pd.DataFrame, title: str, *, synthetic: bool):
    """The published estimates of a task per quarter (rows of
    :func:`seuranta.publication.chapters.estimate_series`): a point estimate's share with
    its interval band, a range's share range as a bar without a point."""
    plt = setup_matplotlib()
    fig, ax = plt.subplots(figsize=(7.5, 3.0))
    x = list(range(len(s)))
    pt = s[s["kind"] == "point"]
    rg = s[s["kind"] == "range"]
    xs = {q: i for i, q in enumerate(s["quarter"])}
    if len(pt):
        px = [xs[q] for q in pt["quarter"]]
        ax.plot(px, pt["share"], marker="o", color="#1f5f8b", label="pistearvio")
        band = pt["lo_share"].notna() & pt["hi_share"].notna()
        if band.any():
            ax.fill_between([xs[q] for q in pt.loc[band, "quarter"]], pt.loc[band, "lo_share"],
                            pt.loc[band, "hi_share"], color="#1f5f8b", alpha=0.15,
                            label="95 %:n luottamusväli")
    if len(rg):
        ax.vlines([xs[q] for q in rg["quarter"]], rg["lo_share"], rg["hi_share"],
                  color="#b35806", lw=6, alpha=0.6, label="vaihteluväli (ei pistearviota)")
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    ax.set_xticks(x, [quarter_short(q) for q in s["quarter"]])
    ax.set_ylabel("osuus")
    fi_axis_pct(ax)
    low = pd.concat([s["share"], s["lo_share"]]).dropna()
    ax.set_ylim(bottom=min(0, float(low.min())) if len(low) else 0)
    chart_title(ax, title)
    fig.tight_layout()
    return detached(source_line(fig, synthetic))


def estimate_series_table(s: pd.DataFrame, share_label: str = "Osuus") -> pd.DataFrame:
    """The rows of :func:`seuranta.publication.chapters.estimate_series` as a Finnish table:
    each quarter as the publication rule allows (a point with its interval, or a range)."""
    return pd.DataFrame({
        "Vuosineljännes": [quarter_name(q) for q in s["quarter"]],
        "Arvio": list(s["estimate_text"]),
        share_label: list(s["share_text"]),
        "Luottamusväli 95 %": list(s["interval_text"]),
        "Kuntia arviossa": [fi_number(v) for v in s["n"]],
    })
