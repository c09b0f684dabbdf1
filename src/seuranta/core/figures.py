"""The source line of every chart ("Lähde: Sosiaalihuollon seurantarekisteri, THL
(synteettinen demoaineisto)"), as THL's charts carry it.

:func:`source_line` is the one function that draws it; every function that makes a chart
(book, PDFs, maps, comparison pages, the cost chapter) calls it on its finished figure, with
the run's ``synthetic`` flag (the same flag that decides the synthetic-data notice: the data
folder's ``metadata.json``, :func:`seuranta.inputs.datafolder.is_synthetic`). The wording
is :data:`seuranta.core.labels_fi.CREDIT_FI` (or ``CREDIT_COSTS_FI``).

The line goes into a strip added below the figure (the figure grows by
:data:`STRIP_INCHES`; the axes and the figure's own texts keep their size and place), so it
never overlaps an axis label, a legend or a map's attribution, whatever layout the chart has.
"""

from __future__ import annotations

from seuranta.core.labels_fi import CREDIT_COSTS_FI, CREDIT_FI, CREDIT_SYNTHETIC_FI

#: The credit of each kind of chart.
SOURCES = {"register": CREDIT_FI, "costs": CREDIT_COSTS_FI}
#: Height of the strip that holds the source line.
STRIP_INCHES = 0.24
#: The ``gid`` of the source line's text artist (tests and SVG readers find it).
SOURCE_GID = "seuranta-source-line"


def source_text(synthetic: bool, source: str = "register") -> str:
    """The source line: "Lähde: <credit>", with "(synteettinen demoaineisto)" when the
    figures come from synthetic data."""
    text = f"Lähde: {SOURCES[source]}"
    return f"{text} ({CREDIT_SYNTHETIC_FI})" if synthetic else text


def source_line(fig, synthetic: bool, source: str = "register"):
    """Add the source line to a finished matplotlib figure (once: a second call replaces
    nothing and adds nothing); returns the figure."""
    if any(t.get_gid() == SOURCE_GID for t in fig.texts):
        return fig
    fig.set_layout_engine("none")   # positions below are final: no later re-layout
    h = fig.get_figheight()
    extra = STRIP_INCHES
    total = h + extra

    def lift(y: float) -> float:   # a figure-fraction y of the old figure in the new one
        return (y * h + extra) / total

    for ax in fig.axes:
        b = ax.get_position(original=True)
        ax.set_position([b.x0, lift(b.y0), b.width, b.height * h / total], which="both")
    for t in fig.texts:   # the suptitle and notes in figure coordinates
        if t.get_transform() == fig.transFigure:
            x, y = t.get_position()
            t.set_position((x, lift(y)))
    fig.set_figheight(total)
    fig.text(0.02, 0.35 * extra / total, source_text(synthetic, source), fontsize=7,
             color="#444444", ha="left", va="bottom", gid=SOURCE_GID)
    return fig
