"""Every chart carries its source line (issue 25): "Lähde: Sosiaalihuollon
seurantarekisteri, THL", with "(synteettinen demoaineisto)" only when the data are
synthetic, drawn by the one function :func:`seuranta.core.figures.source_line`.

Two safeguards: each chart function's figure holds the line (its matplotlib texts), and a
scan of the package finds every function that makes a figure and requires it to call
``source_line`` (a new chart that bypasses it fails the scan; the scan itself is shown to
catch such a function)."""

import ast
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from published_fixture import published_municipal  # noqa: E402

from seuranta.core import figures  # noqa: E402
from seuranta.core.labels_fi import CREDIT_COSTS_FI, CREDIT_FI  # noqa: E402
from seuranta.publication import bookfmt as bf  # noqa: E402
from seuranta.publication import compare, maps  # noqa: E402

SRC = Path(__file__).resolve().parents[1] / "src" / "seuranta"
SYNTHETIC = "Lähde: Sosiaalihuollon seurantarekisteri, THL (synteettinen demoaineisto)"
REAL = "Lähde: Sosiaalihuollon seurantarekisteri, THL"


def _texts(fig) -> list[str]:
    return [t.get_text() for t in fig.texts]


def test_the_wording_comes_from_the_labels_and_says_synthetic_only_when_it_is():
    assert figures.source_text(True) == SYNTHETIC
    assert figures.source_text(False) == REAL
    assert figures.source_text(False) == f"Lähde: {CREDIT_FI}"
    assert figures.source_text(True, "costs") == (f"Lähde: {CREDIT_COSTS_FI} "
                                                  "(synteettinen demoaineisto)")


def test_the_line_is_added_once_in_a_strip_below_the_axes():
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.plot([0, 1], [0, 1])
    ax.set_xlabel("x-akseli")
    fig.suptitle("Otsikko")
    fig.tight_layout()
    before = ax.get_tightbbox(fig.canvas.get_renderer()).height
    figures.source_line(fig, True)
    figures.source_line(fig, True)   # a second call adds nothing
    assert _texts(fig).count(SYNTHETIC) == 1
    assert fig.get_figheight() == pytest.approx(3 + figures.STRIP_INCHES)
    r = fig.canvas.get_renderer()
    line = next(t for t in fig.texts if t.get_gid() == figures.SOURCE_GID).get_window_extent(r)
    axes_box = ax.get_tightbbox(r)   # the axes with their tick labels and x label
    assert line.y1 < axes_box.y0   # below everything else, overlapping nothing
    assert axes_box.height == pytest.approx(before, rel=0.02)   # the chart kept its size
    title = fig._suptitle.get_window_extent(r)
    assert title.y1 <= fig.bbox.y1 + 0.5   # the suptitle still inside the figure
    plt.close(fig)


def _estimate_series():
    return pd.DataFrame({"quarter": ["2023Q1", "2023Q2", "2023Q3"],
                         "kind": ["point", "range", "point"],
                         "share": [10.0, float("nan"), 11.0],
                         "lo_share": [9.0, 8.0, 10.0], "hi_share": [11.0, 12.0, 12.0]})


def _county_frames():
    point = {"estimate_rounded": 900.0, "estimate_rounded_symbol": "", "ci_low": 800.0,
             "ci_low_symbol": "", "ci_high": 1000.0, "ci_high_symbol": "", "share_pct": 18.0,
             "share_pct_symbol": "", "range_low": float("nan"), "range_high": float("nan"),
             "range_low_pct": float("nan"), "range_high_pct": float("nan"),
             "publish_as": "point"}
    cf = pd.DataFrame([{"service_task": "iakkaat", "county_code": c, **point}
                       for c in ("08", "09")])
    cf = cf.assign(kind="point")
    nf = pd.DataFrame([{"service_task": "iakkaat", **point, "kind": "point"}])
    return cf, nf


CHARTS = {
    "share_chart": lambda syn: bf.share_chart(
        pd.Series([1.0, 2.0, 3.0], index=["A", "B", "C"]), 1.5, 2.0, 2.5, "t", "osuus",
        synthetic=syn),
    # a long title over axes narrowed by the quartiles' one long label (Kuvio PO1)
    "share_chart_long": lambda syn: bf.share_chart(
        pd.Series([0.1] * 12 + [0.2, 0.2], index=[f"Kunta {i}" for i in range(14)]), 0.1,
        0.1, 0.1, "Kuvio PO1. Perheoikeudelliset palvelut: asiakkaiden osuus väestöstä, "
        "loka–joulukuu 2023", "osuus", synthetic=syn),
    "series_chart": lambda syn: bf.series_chart(["2023Q1", "2023Q2"], [5.0, 6.0],
                                                title="t", synthetic=syn),
    "estimate_series_chart": lambda syn: bf.estimate_series_chart(_estimate_series(), "t",
                                                                  synthetic=syn),
    "county_chart": lambda syn: compare.county_chart(*_county_frames(), "08", "t",
                                                     synthetic=syn),
    "count_chart": lambda syn: bf.count_chart(
        ["1", "2", "3"], [443237.0, 64258.0, 5121.0],
        "Kuvio MP1. Asiakkaat palvelutehtävien lukumäärän mukaan, tammi–maaliskuu 2023",
        "palvelutehtäviä samalla asiakkaalla", "asiakkaita", synthetic=syn),
    "share_map": lambda syn: maps.share_map(
        published_municipal("2023Q4").query("service_task == 'iakkaat'"), "t",
        synthetic=syn),
}


@pytest.mark.parametrize("name", sorted(CHARTS))
@pytest.mark.parametrize("synthetic", [True, False])
def test_every_chart_function_draws_the_source_line(name, synthetic):
    fig = CHARTS[name](synthetic)
    try:
        texts = _texts(fig)
        assert (SYNTHETIC if synthetic else REAL) in texts
        if not synthetic:
            assert not any("synteettinen" in t for t in texts)
        # every text inside the figure: a long title ran beyond its right edge (MP1)
        canvas = FigureCanvasAgg(fig)   # a detached figure has no drawing canvas
        canvas.draw()
        r, box = canvas.get_renderer(), fig.bbox
        arts = list(fig.texts) + [a for ax in fig.axes for a in (ax.title, *ax.texts)]
        for a in arts:
            if a.get_text() and a.get_visible():
                e = a.get_window_extent(r)
                assert (e.x0 >= box.x0 - 1 and e.x1 <= box.x1 + 1 and e.y0 >= box.y0 - 1
                        and e.y1 <= box.y1 + 1), (name, a.get_text()[:40])
    finally:
        plt.close(fig)


def test_quartile_labels_never_print_on_top_of_each_other():
    """Equal quartiles ("0,1 %" three times: Kuvio PO1 printed "ylälkvartiili0,1%%") share
    one label; close ones are moved apart, their lines staying at their values; the labels
    of a drawn chart do not overlap."""
    assert bf.quartile_labels([(0.1, "alakvartiili"), (0.1, "mediaani"), (0.12, "yläkvartiili")],
                              (0.0, 10.0)) == [(0.1, f"alakvartiili = mediaani = yläkvartiili "
                                                     f"0,1{bf.NBSP}%")]
    got = bf.quartile_labels([(2.0, "alakvartiili"), (2.3, "mediaani"), (8.0, "yläkvartiili")],
                             (0.0, 10.0))
    assert [y for y, _ in got] == pytest.approx([2.0, 2.8, 8.0])
    fig = bf.share_chart(pd.Series([1.0, 2.0, 2.2, 2.4, 9.0], index=list("ABCDE")),
                         2.0, 2.2, 2.4, "t", "osuus", synthetic=True)
    try:
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        r = canvas.get_renderer()
        boxes = [t.get_window_extent(r) for t in fig.axes[0].texts]
        assert len(boxes) == 3
        assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    finally:
        plt.close(fig)


# --------------------------------------------------------------------------- the scan

_MAKERS = {"subplots", "figure", "subplot_mosaic"}


def _makes_figure(f: ast.expr) -> bool:
    """``plt.subplots(…)``, ``pyplot.figure(…)``, … or ``Figure(…)``."""
    if isinstance(f, ast.Name):
        return f.id == "Figure"
    return (isinstance(f, ast.Attribute) and f.attr in _MAKERS
            and isinstance(f.value, ast.Name) and f.value.id in ("plt", "pyplot"))


def functions_without_source_line(tree: ast.AST) -> list[str]:
    """Names of the functions that make a matplotlib figure (``plt.subplots(``,
    ``plt.figure(``, ``plt.subplot_mosaic(``, ``Figure(``) without calling ``source_line``
    themselves."""
    bad = []
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        calls = [n.func for n in ast.walk(fn) if isinstance(n, ast.Call)]
        makes = any(_makes_figure(f) for f in calls)
        draws = any((isinstance(f, ast.Name) and f.id == "source_line")
                    or (isinstance(f, ast.Attribute) and f.attr == "source_line")
                    for f in calls)
        if makes and not draws:
            bad.append(fn.name)
    return bad


def test_the_scan_finds_a_chart_that_bypasses_the_source_line():
    code = ("def good(synthetic):\n    fig, ax = plt.subplots()\n"
            "    return source_line(fig, synthetic)\n"
            "def bad():\n    fig, ax = plt.subplots()\n    return fig\n"
            "def also_bad():\n    return plt.figure()\n"
            "def not_a_chart(m):\n    return m.figure(1)\n")
    assert functions_without_source_line(ast.parse(code)) == ["bad", "also_bad"]


def test_no_function_of_the_package_makes_a_figure_without_its_source_line():
    found = {}
    for path in sorted(SRC.rglob("*.py")):
        bad = functions_without_source_line(ast.parse(path.read_text(encoding="utf-8")))
        if bad:
            found[str(path.relative_to(SRC))] = bad
    assert found == {}
    # and the package does make charts in every place the issue names (the scan is not
    # vacuous): book charts (the multi-task chart among them, bookfmt.count_chart), maps,
    # comparison pages, costs
    makers = set()
    for rel in ("publication/bookfmt.py", "publication/maps.py",
                "publication/compare.py", "costs/chapter.py"):
        tree = ast.parse((SRC / rel).read_text(encoding="utf-8"))
        makers |= {(rel, fn.name) for fn in ast.walk(tree)
                   if isinstance(fn, ast.FunctionDef)
                   and any(isinstance(n, ast.Call) and _makes_figure(n.func)
                           for n in ast.walk(fn))}
    assert {r for r, _ in makers} == {"publication/bookfmt.py", "publication/maps.py",
                                      "publication/compare.py", "costs/chapter.py"}
    assert ("publication/bookfmt.py", "count_chart") in makers
