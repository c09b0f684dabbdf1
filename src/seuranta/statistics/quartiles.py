"""Quartiles of the municipal shares (%) over the comprehensive municipalities, and the
Finnish sentence the publication prints from them.

Quartiles are unweighted (each municipality counts once) and use pandas' default linear
interpolation (``Series.quantile``), the same as R's type 7. Ties for the smallest or
largest share go to the municipality with the smallest code.
"""

from __future__ import annotations

import math

import pandas as pd

from seuranta.core.fmt import fi_pct

QUARTILE_COLUMNS = ["quarter", "service_task", "n", "q1", "median", "q3", "min",
                    "min_municipality", "max", "max_municipality",
                    "min_municipality_code", "max_municipality_code"]


def quartile_row(shares: pd.Series, codes: pd.Series, names: dict[str, str]) -> dict:
    """n, q1, median, q3, min/max with the municipality's Finnish name for one group.

    ``shares``: the municipalities' shares in per cent; ``codes``: their codes (aligned).
    """
    d = pd.DataFrame({"share": pd.Series(shares).to_numpy(float),
                      "code": pd.Series(codes).astype(str).to_numpy()}).dropna(subset=["share"])
    n = len(d)
    if n == 0:
        return {"n": 0, "q1": math.nan, "median": math.nan, "q3": math.nan,
                "min": math.nan, "min_municipality": "", "max": math.nan,
                "max_municipality": "", "min_municipality_code": "",
                "max_municipality_code": ""}
    s = d["share"]
    lo = d.sort_values(["share", "code"], kind="mergesort").iloc[0]
    hi = d.sort_values(["share", "code"], ascending=[False, True], kind="mergesort").iloc[0]
    return {"n": n, "q1": float(s.quantile(0.25)), "median": float(s.quantile(0.5)),
            "q3": float(s.quantile(0.75)), "min": float(lo["share"]),
            "min_municipality": names.get(lo["code"], lo["code"]),
            "max": float(hi["share"]), "max_municipality": names.get(hi["code"], hi["code"]),
            "min_municipality_code": lo["code"], "max_municipality_code": hi["code"]}


def quartile_table(counts: pd.DataFrame, quality: pd.DataFrame, names: dict[str, str]
                   ) -> pd.DataFrame:
    """quartiles.csv from counts (source ALL rows used) and quality (comprehensive rows).

    ``counts``: quarter, municipality_code, service_task, [source], share_pct;
    ``quality``: quarter, municipality_code, service_task, quality.
    """
    c = counts
    if "source" in c.columns:
        c = c[c["source"] == "ALL"]
    comp = quality[quality["quality"] == "comprehensive"][
        ["quarter", "municipality_code", "service_task"]]
    d = c.merge(comp, on=["quarter", "municipality_code", "service_task"], how="inner")
    rows = []
    keys = counts[["quarter", "service_task"]].drop_duplicates()
    for k in keys.itertuples(index=False):
        g = d[(d["quarter"] == k.quarter) & (d["service_task"] == k.service_task)]
        rows.append({"quarter": k.quarter, "service_task": k.service_task,
                     **quartile_row(g["share_pct"], g["municipality_code"], names)})
    out = pd.DataFrame(rows, columns=QUARTILE_COLUMNS)
    return out.sort_values(["quarter", "service_task"]).reset_index(drop=True)


def quartile_sentence(row, decimals: int = 1) -> str:
    """The seed's sentence from one quartiles row (a dict or a namedtuple/Series).

    "Neljänneksessä kuntia osuus oli 1,6 % tai pienempi ja neljänneksessä 3,1 % tai
    suurempi. Pienin osuus oli 0,5 % (Hailuoto) ja suurin 4,3 % (Pomarkku)."
    """
    get = row.get if hasattr(row, "get") else (lambda k: getattr(row, k))
    n = int(get("n") or 0)
    if n == 0:
        return "Kattavia kuntia ei ollut, joten osuuksien jakaumaa ei voitu laskea."
    if n < 4:
        return (f"Kattavia kuntia oli vain {n}, joten neljänneksiä ei esitetä. "
                f"Pienin osuus oli {fi_pct(get('min'), decimals)} ({get('min_municipality')}) "
                f"ja suurin {fi_pct(get('max'), decimals)} ({get('max_municipality')}).")
    return (f"Neljänneksessä kuntia osuus oli {fi_pct(get('q1'), decimals)} tai pienempi ja "
            f"neljänneksessä {fi_pct(get('q3'), decimals)} tai suurempi. "
            f"Pienin osuus oli {fi_pct(get('min'), decimals)} ({get('min_municipality')}) "
            f"ja suurin {fi_pct(get('max'), decimals)} ({get('max_municipality')}).")
