"""Maps: a choropleth of municipal shares per service task and quarter, with data quality.

Takes a quarter's *published* municipal rows (the disclosure gate's output: ``share_pct``
with its ``share_pct_symbol``, the quality class), never the exact tables. Gives a
matplotlib figure, in the book (HTML) and the PDF alike, and a text description of it
written from the same rows (the figure's text alternative).

What a municipality looks like on the map:

* comprehensive data: coloured by its share (five classes, quintiles of the visible shares);
* comprehensive but flagged for checking (``tarkistettava``): coloured, with a thick outline;
* partial data: light grey, hatched (no colour: the share is not comparable);
* no data / not comprehensive: grey;
* suppressed (``..``): white with a dot pattern and no value, whatever its quality.

County borders are dissolved from the municipal polygons (shapely ``unary_union``): the
boundary file has municipalities only. Åland is drawn pale (outside the register).

Why plain matplotlib polygons and shapely rather than geopandas: the boundary file is
small (309 polygons, 6 016 vertices, WGS84), the map needs no reprojection beyond a
latitude aspect ratio, and geopandas would bring pyproj, pyogrio and GDAL wheels for one
dissolve. shapely alone (one wheel with GEOS) does the dissolve.
"""

from __future__ import annotations

import json
import math
import textwrap
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.ops import unary_union

from seuranta.core import precision, reference, symbols
from seuranta.core.figures import source_line
from seuranta.core.fmt import fi_number, fi_pct
from seuranta.core.precision import SHARE_DECIMALS

#: Attribution shown on every map (CC BY 4.0 requires it).
ATTRIBUTION = "Lähde: Maanmittauslaitos, hallinnolliset aluejaot 1:4 500 000, 2023, CC BY 4.0"

#: Styles of a municipality on the map (the legend lists them in this order).
STYLE_VALUE, STYLE_FLAGGED, STYLE_PARTIAL, STYLE_NONE, STYLE_SUPPRESSED = (
    "value", "flagged", "partial", "none", "suppressed")
STYLE_LABEL_FI = {
    STYLE_FLAGGED: "kattava, tarkistettava (paksu reuna)",
    STYLE_PARTIAL: "osittaiset tiedot",
    STYLE_NONE: "ei kattavia tietoja",
    STYLE_SUPPRESSED: f"salattu ({symbols.SUPPRESSED})",
}
FACE_PARTIAL, FACE_NONE, FACE_SUPPRESSED, FACE_OUTSIDE = "#e4e4e4", "#bdbdbd", "#ffffff", "#f4f4f4"
CMAP = "YlGnBu"
N_CLASSES = 5
#: Latitude of the map's aspect ratio (the middle of mainland Finland).
LAT0 = 64.5
#: Quality values and flag columns that mean "tarkistettava" (H2a's flag).
FLAG_QUALITIES = {"tarkistettava", "flagged"}
FLAG_COLUMNS = ("tarkistettava", "flagged", "flag")


# --------------------------------------------------------------------------- geometry

@cache
def municipal_shapes(ref_dir: str = str(reference.REFERENCE_DIR)) -> dict[str, Polygon | MultiPolygon]:
    """Municipality code → polygon (WGS84 lon/lat), all 309 municipalities."""
    with open(Path(ref_dir) / reference.BOUNDARIES_FILE, encoding="utf-8") as f:
        gj = json.load(f)
    return {ft["properties"]["NATCODE"]: shape(ft["geometry"]) for ft in gj["features"]}


@cache
def county_shapes(ref_dir: str = str(reference.REFERENCE_DIR)) -> dict[str, Polygon | MultiPolygon]:
    """County code → the union of its municipalities (the 22 areas of the register)."""
    shapes = municipal_shapes(ref_dir)
    mun = reference.mainland_municipalities(Path(ref_dir))
    out = {}
    for code, g in mun.groupby("county_code"):
        out[code] = unary_union([shapes[m] for m in g["municipality_code"]]).buffer(0)
    return out


def _path(geom):
    """A matplotlib Path of a (multi)polygon, holes included."""
    from matplotlib.path import Path as MPath  # heavy dependency: loaded only when drawing
    verts, codes = [], []
    polys = geom.geoms if isinstance(geom, MultiPolygon) else [geom]
    for p in polys:
        for ring in [p.exterior, *p.interiors]:
            xy = np.asarray(ring.coords)
            verts.append(xy)
            codes += [MPath.MOVETO] + [MPath.LINETO] * (len(xy) - 2) + [MPath.CLOSEPOLY]
    return MPath(np.concatenate(verts), codes)


# --------------------------------------------------------------------------- classes

def _flagged(rows: pd.DataFrame) -> pd.Series:
    flag = rows["quality"].isin(FLAG_QUALITIES)
    for c in FLAG_COLUMNS:
        if c in rows.columns:
            flag |= rows[c].fillna(False).astype(str).str.lower().isin(["1", "true", "kyllä"])
    return flag


def map_styles(rows: pd.DataFrame, mainland_codes: list[str]) -> pd.DataFrame:
    """Every mainland municipality's style and shown value (NaN unless coloured).

    ``rows``: published rows of one task and quarter with ``municipality_code``,
    ``share_pct``, ``share_pct_symbol`` and ``quality``. A municipality without a row has
    no data. A suppressed share never gets a value, whatever the numeric column holds.
    """
    r = rows.drop_duplicates("municipality_code").set_index("municipality_code")
    r = r.reindex(mainland_codes)
    sym = (r["share_pct_symbol"].fillna("").astype(str) if "share_pct_symbol" in r.columns
           else pd.Series("", index=r.index))
    quality = r["quality"].fillna("none").astype(str).replace("", "none")
    suppressed = sym == symbols.SUPPRESSED
    flagged = _flagged(r.assign(quality=quality))
    comprehensive = quality.eq("comprehensive") | quality.isin(FLAG_QUALITIES)
    value = pd.to_numeric(r["share_pct"], errors="coerce")
    style = np.select(
        [suppressed, comprehensive & value.notna() & flagged, comprehensive & value.notna(),
         quality.eq("partial")],
        [STYLE_SUPPRESSED, STYLE_FLAGGED, STYLE_VALUE, STYLE_PARTIAL], default=STYLE_NONE)
    out = pd.DataFrame({"municipality_code": mainland_codes, "style": style,
                        "value": value.to_numpy()})
    out.loc[~out["style"].isin([STYLE_VALUE, STYLE_FLAGGED]), "value"] = np.nan
    return out


def bin_decimals(lo: float, hi: float) -> int:
    """Decimals of the class edges: enough for some 20 steps over the range, never more
    than the shares have (:data:`seuranta.core.precision.SHARE_DECIMALS`)."""
    span = hi - lo
    return SHARE_DECIMALS if span <= 0 else int(
        min(SHARE_DECIMALS, max(0, math.ceil(-math.log10(span / 20)))))


def share_bins(values, n: int = N_CLASSES) -> list[float]:
    """Class edges: quantiles of the values rounded (outward at the ends), strictly rising;
    equal widths between the rounded ends when quantiles coincide (many zeros), fewer
    classes when the published shares (one decimal) have fewer distinct steps."""
    v = pd.Series(values, dtype=float).dropna()
    if v.empty:
        return []
    q = np.quantile(v, np.linspace(0, 1, n + 1))
    d = bin_decimals(q[0], q[-1])
    f = 10 ** d
    edges = ([math.floor(q[0] * f) / f] + [round(x, d) for x in q[1:-1]]
             + [math.ceil(q[-1] * f) / f])
    out = []
    for e in edges:
        if not out or e > out[-1]:
            out.append(e)
    if len(out) == 1:
        return [out[0], out[0] + 1 / f]
    if len(out) < n + 1:   # equal widths of at least one step; the largest value inside
        lo, hi = out[0], out[-1]
        k = min(n, round((hi - lo) * f) + 1)
        step = math.ceil(round((hi - lo + 1 / f) / k * f, 9)) / f
        out = [round(lo + i * step, d) for i in range(k + 1)]
    return out


def class_label(lo: float, hi: float) -> str:
    """A legend class "11,7–12,5 %": its edges with the decimals of the shares in the text
    (:data:`seuranta.core.precision.SHARE_DECIMALS`), rounded outward so that the label
    never narrows the class."""
    step = precision.share_step()
    return (f"{fi_number(precision.round_down(lo, step), SHARE_DECIMALS)}–"
            f"{fi_pct(precision.round_up(hi, step), SHARE_DECIMALS)}")


# --------------------------------------------------------------------------- drawing

def share_map(rows: pd.DataFrame, title: str, ref_dir: Path = reference.REFERENCE_DIR,
              bins: list[float] | None = None, figsize=(7.5, 7.2), *, synthetic: bool):
    """The choropleth of one task and quarter; returns the matplotlib figure.

    Each municipality is one patch whose ``gid`` is its code (tests and SVG readers find
    it); county borders are drawn over them; the map's attribution is in the figure's
    corner, the data's source line below it (:func:`seuranta.core.figures.source_line`).
    """
    import matplotlib.pyplot as plt  # heavy dependency: loaded only when drawing
    from matplotlib.colors import BoundaryNorm
    from matplotlib.patches import Patch, PathPatch

    ref_dir = str(ref_dir)
    shapes = municipal_shapes(ref_dir)
    mainland = reference.mainland_municipalities(Path(ref_dir))
    codes = list(mainland["municipality_code"])
    st = map_styles(rows, codes)
    bins = share_bins(st["value"]) if bins is None else bins
    cmap = plt.get_cmap(CMAP, max(len(bins) - 1, 1))
    norm = BoundaryNorm(bins, cmap.N) if len(bins) >= 2 else None

    fig, ax = plt.subplots(figsize=figsize)
    # patches added as artists: add_patch would also grow the data limits patch by patch
    # (most of the map's time), and the limits are set from the shapes' bounds below
    ax.set_aspect(1 / math.cos(math.radians(LAT0)))
    ax.set_axis_off()
    for code, geom in shapes.items():   # Åland (outside the register) first, pale
        if code not in set(codes):
            ax.add_artist(PathPatch(_path(geom), facecolor=FACE_OUTSIDE, edgecolor="#cccccc",
                                   linewidth=0.2, gid=f"outside-{code}"))
    for row in st.itertuples():
        kw = {"edgecolor": "#ffffff", "linewidth": 0.25, "gid": row.municipality_code}
        if row.style in (STYLE_VALUE, STYLE_FLAGGED):
            kw["facecolor"] = cmap(norm(row.value)) if norm is not None else cmap(0.5)
            if row.style == STYLE_FLAGGED:
                kw.update(edgecolor="#d7301f", linewidth=1.3)
        elif row.style == STYLE_PARTIAL:
            kw.update(facecolor=FACE_PARTIAL, hatch="////", edgecolor="#8c8c8c")
        elif row.style == STYLE_SUPPRESSED:
            kw.update(facecolor=FACE_SUPPRESSED, hatch="..", edgecolor="#7a7a7a")
        else:
            kw["facecolor"] = FACE_NONE
        ax.add_artist(PathPatch(_path(shapes[row.municipality_code]), **kw))
    for code, geom in county_shapes(ref_dir).items():
        ax.add_artist(PathPatch(_path(geom), facecolor="none", edgecolor="#333333",
                               linewidth=0.7, gid=f"county-{code}"))
    xs = np.concatenate([np.asarray(shapes[c].bounds)[[0, 2]] for c in shapes])
    ys = np.concatenate([np.asarray(shapes[c].bounds)[[1, 3]] for c in shapes])
    ax.set_xlim(xs.min() - 0.2, xs.max() + 0.2)
    ax.set_ylim(ys.min() - 0.1, ys.max() + 0.1)

    handles = []
    if norm is not None:
        for lo, hi in zip(bins[:-1], bins[1:]):
            handles.append(Patch(facecolor=cmap(norm((lo + hi) / 2)), edgecolor="#ffffff",
                                 label=class_label(lo, hi)))
    present = set(st["style"])
    for s in (STYLE_FLAGGED, STYLE_PARTIAL, STYLE_NONE, STYLE_SUPPRESSED):
        if s not in present:
            continue
        face = {STYLE_FLAGGED: "#ffffff", STYLE_PARTIAL: FACE_PARTIAL, STYLE_NONE: FACE_NONE,
                STYLE_SUPPRESSED: FACE_SUPPRESSED}[s]
        hatch = {STYLE_PARTIAL: "////", STYLE_SUPPRESSED: ".."}.get(s)
        edge = "#d7301f" if s == STYLE_FLAGGED else "#7a7a7a"
        handles.append(Patch(facecolor=face, hatch=hatch, edgecolor=edge, label=STYLE_LABEL_FI[s]))
    handles.append(Patch(facecolor="none", edgecolor="#333333", label="hyvinvointialueen raja"))
    handles.append(Patch(facecolor=FACE_OUTSIDE, edgecolor="#cccccc",
                         label="Ahvenanmaa (ei rekisterissä)"))
    ax.legend(handles=handles, loc="upper left", fontsize=8, frameon=False, alignment="left",
              title="Osuus, kattavat kunnat", title_fontsize=8, bbox_to_anchor=(1.0, 0.98))
    fig.suptitle(textwrap.fill(title, 80), fontsize=10, x=0.02, ha="left")
    fig.text(0.02, 0.01, ATTRIBUTION, fontsize=6.5, color="#444444", ha="left", va="bottom")
    fig.subplots_adjust(left=0.02, right=0.58, top=0.91, bottom=0.04)
    return source_line(fig, synthetic)


def describe(rows: pd.DataFrame, names: dict[str, str], what: str,
             ref_dir: Path = reference.REFERENCE_DIR) -> str:
    """A text alternative of the map written from the same rows (Finnish)."""
    codes = list(reference.mainland_municipalities(Path(ref_dir))["municipality_code"])
    st = map_styles(rows, codes)
    n = st["style"].value_counts()
    shown = st.dropna(subset=["value"]).sort_values(["value", "municipality_code"])
    text = (f"Kartta: {what}, {fi_number(len(codes))} Manner-Suomen kuntaa. "
            f"Osuus näkyy {fi_number(len(shown))} kunnasta, joiden tiedot olivat kattavat")
    if n.get(STYLE_FLAGGED, 0):
        text += f" (niistä {fi_number(n[STYLE_FLAGGED])} tarkistettavia)"
    text += "."
    if len(shown) == 1:   # one municipality: its share, not "the smallest and the largest"
        one = shown.iloc[0]
        text += (f" Sen osuus on {fi_pct(one['value'], SHARE_DECIMALS)} "
                 f"({names.get(one['municipality_code'], one['municipality_code'])}).")
    elif len(shown):
        lo, hi = shown.iloc[0], shown.iloc[-1]
        text += (f" Pienin näkyvä osuus on {fi_pct(lo['value'], SHARE_DECIMALS)} "
                 f"({names.get(lo['municipality_code'], lo['municipality_code'])}) ja suurin "
                 f"{fi_pct(hi['value'], SHARE_DECIMALS)} "
                 f"({names.get(hi['municipality_code'], hi['municipality_code'])}).")
    parts = [f"{fi_number(n.get(s, 0))} {label}" for s, label in
             ((STYLE_PARTIAL, "osittaiset tiedot"), (STYLE_NONE, "ei kattavia tietoja"),
              (STYLE_SUPPRESSED, "salattu tietosuojan vuoksi")) if n.get(s, 0)]
    if parts:
        text += " Muut kunnat: " + ", ".join(parts) + "."
    return text
