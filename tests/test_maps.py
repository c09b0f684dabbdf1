"""Maps: every mainland municipality is drawn, suppressed ones show no value, quality
classes and county borders are drawn as the legend says, the attribution is on the map."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from published_fixture import published_municipal  # noqa: E402

from seuranta.core import reference, symbols  # noqa: E402
from seuranta.publication import maps, published  # noqa: E402


@pytest.fixture(scope="module")
def rows():
    m = published_municipal("2023Q4")
    return m[m["service_task"] == "perheoikeudelliset"]   # many suppressed cells


def _patches(fig):
    ax = fig.axes[0]
    return {p.get_gid(): p for p in ax.patches}


def test_every_mainland_municipality_is_drawn_once_with_its_own_shape(rows):
    fig = maps.share_map(rows, "test", synthetic=True)
    try:
        ax = fig.axes[0]
        gids = [p.get_gid() for p in ax.patches]
        mainland = set(reference.mainland_municipalities()["municipality_code"])
        assert len(mainland) == 293
        drawn = [g for g in gids if g in mainland]
        assert sorted(drawn) == sorted(mainland)          # each exactly once
        shapes = maps.municipal_shapes()
        p = _patches(fig)
        for code in mainland:                              # the patch is that municipality
            ext = p[code].get_path().get_extents()
            assert np.allclose([ext.x0, ext.y0, ext.x1, ext.y1], shapes[code].bounds)
        # and inside the visible area
        x0, x1 = ax.get_xlim()
        y0, y1 = ax.get_ylim()
        for code in mainland:
            b = shapes[code].bounds
            assert x0 <= b[0] and b[2] <= x1 and y0 <= b[1] and b[3] <= y1
    finally:
        plt.close(fig)


def test_suppressed_municipalities_show_no_value_even_if_a_value_leaks_into_the_row(rows):
    sup = rows[rows["share_pct_symbol"] == symbols.SUPPRESSED]["municipality_code"]
    assert len(sup) >= 5
    leaky = rows.copy()   # a gate bypassed: the numeric column still holds the exact share
    leaky.loc[leaky["share_pct_symbol"] == symbols.SUPPRESSED, "share_pct"] = 0.7777
    for frame in (rows, leaky):
        fig = maps.share_map(frame, "test", synthetic=True)
        try:
            p = _patches(fig)
            for code in sup:
                assert mcolors.to_hex(p[code].get_facecolor()) == maps.FACE_SUPPRESSED
                assert p[code].get_hatch() == ".."
            cmap_colours = {mcolors.to_hex(plt.get_cmap(maps.CMAP, 8)(i)) for i in range(8)}
            assert not {mcolors.to_hex(p[c].get_facecolor()) for c in sup} & cmap_colours
        finally:
            plt.close(fig)
        st = maps.map_styles(frame, list(reference.mainland_municipalities()["municipality_code"]))
        assert st.set_index("municipality_code").loc[list(sup), "value"].isna().all()
        text = maps.describe(frame, {c: f"KUNTA{c}" for c in frame["municipality_code"]}, "x")
        assert "0,8 %" not in text
        assert not any(f"KUNTA{c}" in text for c in sup)


def test_quality_classes_colours_and_county_borders(rows):
    fig = maps.share_map(rows, "test", synthetic=True)
    try:
        p = _patches(fig)
        r = rows.set_index("municipality_code")
        visible = r[(r["share_pct_symbol"] == "") & r["quality"].isin(["comprehensive", "tarkistettava"])]
        # colour classes by hand: the largest visible share is in the darkest class
        top = visible["share_pct"].idxmax()
        assert mcolors.to_hex(p[top].get_facecolor()) == mcolors.to_hex(
            plt.get_cmap(maps.CMAP, 5)(4))
        low = visible["share_pct"].idxmin()
        assert mcolors.to_hex(p[low].get_facecolor()) == mcolors.to_hex(
            plt.get_cmap(maps.CMAP, 5)(0))
        seen = set()
        for code, q in r.loc[r["share_pct_symbol"] != symbols.SUPPRESSED, "quality"].items():
            seen.add(q)
            if q == "partial":
                assert p[code].get_hatch() == "////"
            elif q == "none":
                assert mcolors.to_hex(p[code].get_facecolor()) == maps.FACE_NONE
            elif q == "tarkistettava":
                assert p[code].get_linewidth() > 1           # flagged: outlined
        assert seen == {"comprehensive", "partial", "none", "tarkistettava"}
        counties = [g for g in p if str(g).startswith("county-")]
        assert len(counties) == 22
        # the dissolve keeps the area: each county = the sum of its municipalities
        mun = reference.mainland_municipalities()
        shapes = maps.municipal_shapes()
        for cc, geom in maps.county_shapes().items():
            total = sum(shapes[m].area for m in mun.loc[mun["county_code"] == cc, "municipality_code"])
            assert geom.area == pytest.approx(total, rel=1e-3), cc
        assert any(t.get_text() == maps.ATTRIBUTION for t in fig.texts)
    finally:
        plt.close(fig)


def test_share_bins_are_rising_and_cover_the_values():
    v = [0.05, 1.23, 2.5, 2.5, 7.77, 12.0]
    b = maps.share_bins(v)
    assert b[0] <= min(v) and b[-1] >= max(v) and len(b) == 6
    assert all(x < y for x, y in zip(b, b[1:]))
    assert maps.share_bins([]) == []
    assert maps.share_bins([3.0, 3.0]) == [3.0, 3.1]
    # family law: tiny shares, published with one decimal: the classes are the steps there
    # are, the largest share in the last class, no edge finer than the shares
    small = maps.share_bins([0.0, 0.0, 0.1, 0.1, 0.1, 0.2])
    assert small == [0.0, 0.1, 0.2, 0.3]
    assert all(round(x, 1) == x for x in maps.share_bins(v))


def test_municipal_rows_reads_published_tables(tmp_path):
    from published_fixture import write_published
    write_published(tmp_path, ["2023Q3", "2023Q4"])
    r = published.municipal_rows(published.published_dir(tmp_path, "2023Q4"), "iakkaat", "2023Q4")
    assert len(r) == 293 and (r["quarter"] == "2023Q4").all()
    assert set(r["quality"]) <= {"comprehensive", "partial", "none", "tarkistettava"}
    assert r["share_pct_symbol"].isin(["", symbols.SUPPRESSED, symbols.NOT_AVAILABLE]).all()
    assert pd.api.types.is_string_dtype(r["municipality_code"])
