"""Synthetic Sote-tietopaketit cost ledger for the demo data folder (``DATA/costs/``).

``generate_costs(data_dir, scale, seed)`` writes

* ``costs/ledger.csv`` — year, region_code, service_class, client_group, funding_channel,
  producer, cost_eur (euros as decimal strings with cents) for 2022 and 2023, and
* ``costs/package_mapping.csv`` — a copy of the project's service class → package mapping
  (``data/reference/service_class_mapping.csv``).

The national 2022 amounts per service class below are invented but plausible: about
€11 bn of social welfare and €23 bn of social and health care in all, of which about
2.8 % sits in service classes that the mapping does not cover (shared administration,
information management, "other" services, and a class whose mapping only starts in
2023), so that roughly 97 % allocates to the 15 packages — the level of the 2017
evaluation (97.2 %). The service class codes and names follow the style of the JHS /
State Treasury service classification but are illustrative, not the official codes.

Each class's cost is split over the client groups (age groups 0-17, 18-64, 65-74, 75+),
over the 22 areas in proportion to the area's population in that age group, with a
random area × package and area × class effect, and over funding channel and producer.
``scale`` multiplies every euro; the output is identical for the same seed and scale.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from seuranta.core import reference
from seuranta.inputs.population import population_path, read_population

MAPPING_FILE = reference.REFERENCE_DIR / "service_class_mapping.csv"

#: Client groups of the demo ledger (age groups that the population bands nest into).
CLIENT_GROUPS = ["0-17", "18-64", "65-74", "75+"]

# Age profiles: share of a class's cost per client group (0-17, 18-64, 65-74, 75+).
_ELDERLY = (0, 0, .22, .78)
_CHILD = (1, 0, 0, 0)
_ADULT = (0, .95, .05, 0)
_POP = (.18, .55, .16, .11)

#: service_class, name_fi, sector, national cost 2022 in M€, age profile.
#: Classes 29xx and 2144 (mapped from 2023 only) are not allocated to any package in 2022.
CLASSES: list[tuple[str, str, str, float, tuple]] = [
    ("2111", "Iäkkäiden kotihoito", "sos", 1700, _ELDERLY),
    ("2112", "Iäkkäiden ympärivuorokautinen palveluasuminen", "sos", 2300, (0, 0, .15, .85)),
    ("2113", "Iäkkäiden yhteisöllinen asuminen", "sos", 250, _ELDERLY),
    ("2114", "Omaishoidon tuki, iäkkäät", "sos", 350, (0, 0, .35, .65)),
    ("2115", "Iäkkäiden pitkäaikainen laitoshoito", "sos", 300, (0, 0, .1, .9)),
    ("2116", "Terveyskeskussairaalan osastohoito, iäkkäät", "ter", 700, (0, 0, .2, .8)),
    ("2121", "Lastensuojelun avohuolto", "sos", 450, _CHILD),
    ("2122", "Lastensuojelun sijaishuolto", "sos", 1200, _CHILD),
    ("2123", "Lapsiperheiden kotipalvelu ja perhetyö", "sos", 200, _CHILD),
    ("2124", "Neuvolapalvelut", "ter", 250, _CHILD),
    ("2125", "Koulu- ja opiskeluterveydenhuolto", "ter", 300, _CHILD),
    ("2126", "Kasvatus- ja perheneuvonta", "sos", 100, _CHILD),
    ("2127", "Lasten ja nuorten erikoissairaanhoito", "ter", 650, _CHILD),
    ("2131", "Vammaispalvelulain mukaiset palvelut", "sos", 1100, (.15, .6, .12, .13)),
    ("2132", "Kehitysvammaisten asumispalvelut", "sos", 900, (.05, .85, .08, .02)),
    ("2133", "Kehitysvammaisten työ- ja päivätoiminta", "sos", 300, (0, .95, .05, 0)),
    ("2141", "Aikuissosiaalityö", "sos", 400, _ADULT),
    ("2142", "Kuntouttava työtoiminta", "sos", 150, (0, 1, 0, 0)),
    ("2143", "Täydentävä ja ehkäisevä toimeentulotuki", "sos", 350, (0, .9, .07, .03)),
    ("2144", "Sosiaalinen luototus", "sos", 15, (0, .9, .07, .03)),
    ("2151", "Mielenterveyden avopalvelut", "ter", 450, (0, .85, .1, .05)),
    ("2152", "Mielenterveyskuntoutujien asumispalvelut", "sos", 450, (0, .9, .08, .02)),
    ("2153", "Päihdehuollon erityispalvelut", "sos", 200, (0, .9, .08, .02)),
    ("2154", "Psykiatrinen erikoissairaanhoito", "ter", 650, (0, .85, .1, .05)),
    ("2211", "Somaattinen erikoissairaanhoito, vuodeosastohoito", "ter", 1900, (0, .6, .4, 0)),
    ("2212", "Somaattinen erikoissairaanhoito, avohoito", "ter", 2200, (0, .68, .32, 0)),
    ("2221", "Lääkärin vastaanotto", "ter", 700, (.15, .5, .17, .18)),
    ("2222", "Hoitajan vastaanotto", "ter", 320, (.1, .5, .18, .22)),
    ("2223", "Etävastaanotto ja digitaaliset palvelut", "ter", 80, (.15, .7, .1, .05)),
    ("2231", "Yhteispäivystys", "ter", 520, (.15, .5, .15, .2)),
    ("2232", "Perusterveydenhuollon päivystys", "ter", 180, (.2, .5, .14, .16)),
    ("2241", "Suun terveydenhuolto", "ter", 650, (.25, .55, .12, .08)),
    ("2251", "Fysioterapia ja lääkinnällinen kuntoutus", "ter", 400, (.08, .4, .22, .3)),
    ("2252", "Apuvälinepalvelut", "ter", 150, (.05, .25, .25, .45)),
    ("2261", "Ensihoito", "ter", 450, (.06, .44, .2, .3)),
    ("2271", "Lääkehuolto ja sairaala-apteekki", "ter", 600, (.05, .45, .25, .25)),
    ("2281", "Sosiaalihuoltolain ja vammaispalvelulain mukaiset kuljetuspalvelut", "sos", 150,
     (.05, .45, .2, .3)),
    ("2282", "Terveydenhuollon potilassiirrot ja matkat", "ter", 60, (.05, .4, .25, .3)),
    ("2291", "Hyvinvoinnin ja terveyden edistäminen", "yht", 100, (.3, .5, .1, .1)),
    ("2292", "Seulonnat ja ehkäisevät terveyspalvelut", "ter", 100, (0, .7, .3, 0)),
    ("2301", "Työterveyshuolto", "ter", 150, (0, 1, 0, 0)),
    ("2901", "Sosiaalihuollon yhteinen hallinto", "sos", 150, _POP),
    ("2902", "Terveydenhuollon yhteinen hallinto", "ter", 150, _POP),
    ("2903", "Tietohallinto ja digitaaliset tukipalvelut", "yht", 200, _POP),
    ("2909", "Muut sosiaali- ja terveyspalvelut", "yht", 140, _POP),
]

#: Classes whose 2022 cost sits mostly in housing: a larger share paid by client fees.
_HOUSING = {"2112", "2113", "2115", "2132", "2152"}

FUNDING = ["valtion_rahoitus", "asiakasmaksut", "muut_tulot"]
PRODUCERS = ["oma_tuotanto", "ostopalvelu", "palveluseteli"]

#: Growth of each class's cost from 2022 to 2023 (mean; each class varies around it).
GROWTH_2023 = 1.06

YEARS = [2022, 2023]


def _client_group_of_band(band: str) -> str:
    lo, _ = reference._band_bounds(band)
    if lo < 18:
        return "0-17"
    if lo < 65:
        return "18-64"
    if lo < 75:
        return "65-74"
    return "75+"


def _population_by_region(data_dir: Path) -> pd.DataFrame:
    """Population (latest year up to 2022) per region × client group, 22 mainland areas."""
    p = population_path(data_dir)
    pop = (read_population(p) if p.is_file()
           else reference.reference_population())
    years = sorted(int(y) for y in pop["year"].unique())
    year = max([y for y in years if y <= 2022] or years[:1])
    pop = pop[pop["year"].astype(int) == year]
    mun = reference.mainland_municipalities()[["municipality_code", "county_code"]]
    pop = pop.merge(mun, on="municipality_code", how="inner")
    pop["client_group"] = pop["age_group"].map(_client_group_of_band)
    g = pop.groupby(["county_code", "client_group"])["population"].sum().unstack(fill_value=0)
    return g.reindex(columns=CLIENT_GROUPS, fill_value=0).sort_index()


def _package_of_class() -> dict[str, str]:
    m = pd.read_csv(MAPPING_FILE, dtype=str, keep_default_na=False)
    return dict(zip(m["service_class"], m["package_code"]))


def _cents_str(cents: np.ndarray) -> list[str]:
    return [f"{c // 100}.{c % 100:02d}" for c in cents.tolist()]


def build_ledger(pop: pd.DataFrame, scale: float, seed: int) -> pd.DataFrame:
    """The ledger rows (without the deliberately bad rows) as a DataFrame of strings."""
    rng = np.random.default_rng([seed, 7_001])
    regions = list(pop.index)
    pkg = _package_of_class()
    packages = sorted(set(pkg.values()) | {"(none)"})
    # area × package effect (shared by the package's classes), area × class effect
    pkg_eff = {p: rng.lognormal(0, 0.10, len(regions)) for p in packages}
    popm = pop.to_numpy(float)                           # regions × groups
    share_rg = popm / popm.sum(axis=0, keepdims=True)    # each group's population by area
    rows = []
    for year in YEARS:
        for code, _name, sector, meur, profile in CLASSES:
            growth = 1.0 if year == 2022 else GROWTH_2023 * rng.lognormal(0, 0.02)
            eff = pkg_eff[pkg.get(code, "(none)")] * rng.lognormal(0, 0.05, len(regions))
            total = meur * 1e6 * growth * scale
            for gi, grp in enumerate(CLIENT_GROUPS):
                if profile[gi] == 0:
                    continue
                w = share_rg[:, gi] * eff
                amounts = total * profile[gi] * w / w.sum()
                if sector == "sos":
                    prod = np.array([.60, .33, .07])
                else:
                    prod = np.array([.85, .13, .02])
                fund = np.array([.78, .20, .02]) if code in _HOUSING else np.array([.90, .07, .03])
                for ri, region in enumerate(regions):
                    p = prod * rng.lognormal(0, 0.15, 3)
                    p /= p.sum()
                    f = fund * rng.lognormal(0, 0.10, 3)
                    f /= f.sum()
                    cell = amounts[ri] * np.outer(f, p)          # funding × producer
                    cents = np.rint(cell * 100).astype(np.int64)
                    for fi, fc in enumerate(FUNDING):
                        for pi, pc in enumerate(PRODUCERS):
                            if cents[fi, pi] > 0:
                                rows.append((year, region, code, grp, fc, pc, int(cents[fi, pi])))
    df = pd.DataFrame(rows, columns=["year", "region_code", "service_class", "client_group",
                                     "funding_channel", "producer", "cents"])
    df = df.sort_values(["year", "region_code", "service_class", "client_group",
                         "funding_channel", "producer"], kind="mergesort").reset_index(drop=True)
    df["cost_eur"] = _cents_str(df.pop("cents").to_numpy())
    return df


#: Rows a real ledger might carry: a missing cost, a negative correction entry, a cost
#: written with a decimal comma. They are quarantined by the cost stage with a reason.
BAD_ROWS = [
    (2022, "05", "2111", "75+", "asiakasmaksut", "oma_tuotanto", ""),
    (2022, "07", "2221", "18-64", "valtion_rahoitus", "oma_tuotanto", "-15234.50"),
    (2023, "12", "2241", "0-17", "valtion_rahoitus", "ostopalvelu", "12345,00"),
]


def generate_costs(data_dir: Path, scale: float = 0.05, seed: int = 20240207) -> Path:
    """Write DATA/costs/ledger.csv and DATA/costs/package_mapping.csv; returns DATA/costs."""
    data_dir = Path(data_dir)
    out = data_dir / "costs"
    out.mkdir(parents=True, exist_ok=True)
    ledger = build_ledger(_population_by_region(data_dir), scale, seed)
    bad = pd.DataFrame(BAD_ROWS, columns=list(ledger.columns))
    ledger = pd.concat([ledger, bad], ignore_index=True)
    ledger["year"] = ledger["year"].astype(int)
    ledger.to_csv(out / "ledger.csv", index=False, lineterminator="\n")
    shutil.copyfile(MAPPING_FILE, out / "package_mapping.csv")
    return out
