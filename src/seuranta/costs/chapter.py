"""What the Sote-tietopaketit chapter says: the computation behind ``notebooks/costs.md``.

:func:`chapter` reads a cost year's tables as the disclosure gate published them
(``OUT/costs/<year>/published``, :func:`published_tables`: every euro, share and
percentage of the text and tables comes from there; of the internal tables in
``OUT/costs/<year>/tables`` only the metadata and the count of quarantined ledger rows) and
returns the chapter's sentences (``facts``, Markdown glued into the notebook), its tables (``tables``:
caption, frame of formatted cells, right-aligned columns, note) and figures with their
alternative texts written from the data (``figures``). The notebook only displays them.
€ per client is published only where the county's register coverage reaches
``costs.per_client_min_coverage_pct``, and clients and € per client are shown as the
disclosure gate published them (``OUT/costs/<year>/published``,
:func:`seuranta.costs.model.per_client_shown`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from seuranta.core import symbols
from seuranta.core.errors import InputError
from seuranta.core.figures import source_line
from seuranta.core.fmt import fi_count, fi_number, fi_pct
from seuranta.core.params import as_params
from seuranta.core.symbols import NOT_AVAILABLE, SUPPRESSED
from seuranta.costs import model as costs

GROUP_FI = {"65-74+75+": "65 vuotta täyttäneet", "0-17": "alle 18-vuotiaat",
            "18-64+65-74": "18–74-vuotiaat"}
BASIS_FI = {"quality": "kunnat, joiden tiedot arvioitiin kattaviksi vuoden kaikilla neljällä "
                       "neljänneksellä",
            "counts": "kunnat, joilta rekisterissä oli asiakkaita vuoden kaikilla neljällä "
                      "neljänneksellä",
            "none": ""}

#: Finnish Markdown templates of the chapter's data-dependent sentences.
TEXT = {
    "lead": ("Sote-tietopaketit kokoavat palvelujen järjestäjän kaikki sosiaali- ja "
             "terveyspalvelujen kustannukset 15 tietopakettiin: 11 perustietopakettiin ja "
             "neljään laajennettuun pakettiin. Vuonna {year} kustannusaineistossa oli "
             "kustannuksia yhteensä {total} miljardia euroa, joista sosiaalihuollon "
             "palveluluokkien osuus oli {social} miljardia euroa. Perustietopaketteihin "
             "kohdentui {basic} miljardia ja laajennettuihin paketteihin {extended} miljardia "
             "euroa. {allocated}"),
    "allocated_same": ("Kaikkiaan kustannuksista kohdentui tietopaketteihin {pct} eli saman "
                       "verran kuin vuoden 2017 arvioinnissa."),
    "allocated": ("Kaikkiaan kustannuksista kohdentui tietopaketteihin {pct}, kun vuoden 2017 "
                  "arvioinnissa osuus oli {benchmark}."),
    "largest": ("Suurimmat tietopaketit olivat {a} ({a_share} kustannuksista, {a_eur} euroa "
                "asukasta kohden) ja {b} ({b_share})."),
    "allocation": ("Jokainen kustannusrivi kohdennetaan palveluluokkansa perusteella "
                   "täsmälleen yhteen tietopakettiin tai kohdentamattomiin, eikä mitään euroa "
                   "lasketa kahdesti. Koko maassa kohdentumisaste oli {pct}. Alueittain aste "
                   "vaihteli {lo}:sta ({lo_area}) {hi}:iin ({hi_area}); {below} alueella "
                   "22:sta se jäi vertailuarvon alle. {unallocated}{quarantine}"),
    # the unallocated euros: by reason when there are several, else the one reason (the
    # total is not repeated as its only part)
    "unallocated_parts": "Kohdentamattomia kustannuksia oli {eur} milj. euroa: {parts}.",
    "unallocated_one": ("Kohdentamattomia kustannuksia oli {eur} milj. euroa, kaikki samasta "
                        "syystä: {reason}."),
    "unallocated_none": "Kohdentamattomia kustannuksia ei ollut.",
    "quarantine": (" Lisäksi aineistosta jätettiin pois {rows} (esimerkiksi puuttuva tai "
                   "negatiivinen kustannus); rivikohtainen syy on kirjattu sisäiseen taulukkoon."),
    "notice": ("Myös tämän luvun kustannukset on laskettu synteettisestä "
               "harjoitusaineistosta, eivätkä ne kuvaa todellisia sosiaali- ja "
               "terveydenhuollon kustannuksia."),
    "std_item": ("- {package}: koko maassa {eur} euroa kohdeväestön ({group}) asukasta "
                 "kohden; ikävakioituna suurin {max_area} ({max_eur} €) ja pienin {min_area} "
                 "({min_eur} €)."),
    "alt_total": ("Kuvio 1: sote-kustannukset asukasta kohden alueittain {year}, pienimmästä "
                  "suurimpaan. Koko maassa {nat} euroa; pienin {lo_area} {lo} euroa ja suurin "
                  "{hi_area} {hi} euroa."),
    "alt_std": ("Kuvio 2: ikävakioidut kustannukset kohdeväestön asukasta kohden alueittain "
                "{year} tietopaketeittain ({packages}); luvut ovat kuvion alla olevassa "
                "luettelossa."),
    "no_clients": ("Sosiaalihuollon seurantarekisterin koko vuoden asiakasmääriä vuodelta "
                   "{year} ei ole käytettävissä, joten kustannuksia asiakasta kohden ei voitu "
                   "laskea."),
    "per_client": ("Asiakasmäärät ovat sosiaalihuollon seurantarekisterin koko vuoden eri "
                   "asiakkaita palvelutehtävittäin (kaikki lähteet yhteensä), laskettuina "
                   "yhteen alueen kunnista. Rekisterin kattavuus on se osuus alueen "
                   "väestöpohjasta, joka asuu kunnissa, joiden tiedot ovat mukana koko vuoden "
                   "({basis}). {none}**Kun kattavuus on osittainen, rekisterin asiakasmäärä on "
                   "liian pieni ja kustannus asiakasta kohden liian suuri.** Siksi lukua ei "
                   "julkaista, kun rekisterin kattavuus on alle {min_pct}; sen sijalla on "
                   "symboli {symbol}. Alueittaisissa luvuissa (taulukko 4) näin kävi {n_low} "
                   "alueella."),
    "per_client_none": ("Kattavuutta ei voitu arvioida, koska vuoden kaikkien neljännesten "
                        "laatutietoja ei ole. "),
}


def say(key: str, **values) -> str:
    return TEXT[key].format(**values)


def unallocated_sentence(total_eur: float, by_reason: pd.Series) -> str:
    """The unallocated euros of the whole country (millions, one decimal) and their
    reasons (``by_reason``: reason code → euros): each reason with its euros, largest
    first, when there are several; the one reason alone when there is one."""
    by_reason = by_reason[by_reason != 0].sort_values(ascending=False, kind="mergesort")
    if by_reason.empty:
        return say("unallocated_none")
    names = [costs.UNALLOCATED_REASONS_FI[r].lower() for r in by_reason.index]
    if len(by_reason) == 1:
        return say("unallocated_one", eur=_milj(total_eur), reason=names[0])
    return say("unallocated_parts", eur=_milj(total_eur),
               parts="; ".join(f"{n} {_milj(v)} milj. euroa"
                               for n, v in zip(names, by_reason)))


@dataclass
class CostChapter:
    facts: dict[str, str] = field(default_factory=dict)
    #: key → (caption, frame, right-aligned columns, note)
    tables: dict[str, tuple[str, pd.DataFrame, list[str], str]] = field(default_factory=dict)
    figures: dict[str, tuple[object, str]] = field(default_factory=dict)


#: The gate's published cost tables (``gate.publish_costs``) the chapter reads, by the cost
#: stage's name of the table each publishes.
PUBLISHED_TABLES = {"packages": "costs_packages", "allocation": "costs_allocation",
                    "unallocated": "costs_unallocated", "per_resident": "costs_per_resident",
                    "dimensions": "costs_dimensions", "per_client": "costs_per_client"}
_TEXT_COLUMNS = ("county_code", "package_code", "kind", "target_group", "reason",
                 "service_class", "category", "dimension", "service_tasks", "note",
                 "clients_symbol", "eur_per_client_symbol")


def published_tables(published_dir: Path | str) -> dict[str, pd.DataFrame]:
    """A cost year's tables as the disclosure gate published them, in the cost stage's
    column names (``region_code``, ``ALL`` for the whole country; a dimension's category
    as ``value``) so that the chapter reads them as it read the internal ones. A missing
    table is a one-line error naming it: the chapter writes no figure the gate did not
    publish."""
    out = {}
    for name, pub in PUBLISHED_TABLES.items():
        p = Path(published_dir) / f"{pub}.csv"
        if not p.is_file():
            raise InputError(f"{p}: the gate's published cost table is missing (the chapter "
                             "reads its figures from there: `seuranta costs` or `seuranta "
                             "publish` writes it)")
        head = pd.read_csv(p, nrows=0).columns
        df = pd.read_csv(p, dtype={c: str for c in head if c in _TEXT_COLUMNS},
                         keep_default_na=False, na_values=[""])
        for c in set(_TEXT_COLUMNS) & set(df.columns):
            df[c] = df[c].fillna("")
        if "county_code" in df.columns:
            df.insert(0, "region_code", df.pop("county_code").replace({"": costs.ALL}))
        out[name] = df.rename(columns={"category": "value"})
    return out


def _milj(eur, decimals=1):
    return fi_number(eur / 1e6, decimals)


def _mrd(eur, decimals=1):
    return fi_number(eur / 1e9, decimals)


def chapter(tables_dir: Path | str, year: int, params: dict, *, synthetic: bool) -> CostChapter:
    """Everything the chapter shows for one cost year (``synthetic``: the charts' source
    line says so)."""
    import matplotlib.pyplot as plt  # heavy dependency: loaded only when figures are drawn

    year = int(year)
    cp = costs.cost_params(params)
    T = costs.read_tables(Path(tables_dir))       # metadata and quarantined rows
    published = Path(tables_dir).parent / "published"
    P = published_tables(published)                # every figure of the text and tables
    meta = dict(zip(T["meta"]["key"], T["meta"]["value"].astype(str)))
    names = _Names.make()
    ch = CostChapter()
    _packages_section(ch, P, names, year, meta)
    _allocation_section(ch, P, len(T["quarantine"]), names, year)
    plt.rcParams.update({"figure.dpi": 100, "font.size": 9, "axes.spines.top": False,
                         "axes.spines.right": False})
    _total_figure(ch, P["per_resident"], names, year, synthetic)
    _standardised_section(ch, P["per_resident"], names, year, synthetic)
    ch.facts["pairs"] = "; ".join(
        f"{names.package[p].lower()} ↔ " + costs.task_names("+".join(ts)).lower()
        for p, ts in cp["package_tasks"].items())
    ch.facts["mapping_version"] = meta.get("mapping_version", "")
    ch.facts["population_year"] = meta.get("population_year", "")
    pc = T["per_client"]
    if not pc["clients"].notna().any():
        ch.facts["per_client"] = say("no_clients", year=year)
        return ch
    _per_client_section(ch, pc, P, published, params, names, year, meta)
    return ch


@dataclass
class _Names:
    """Finnish names of the packages and regions, the package list in its order."""

    packages: pd.DataFrame
    package: dict
    region: dict

    @classmethod
    def make(cls) -> _Names:
        packages = costs.load_packages()
        pname = dict(zip(packages["package_code"], packages["name_fi"]))
        pname.update({"unallocated": "Kohdentamaton", "ALL": "Yhteensä"})
        rname = costs.region_names()
        rname["ALL"] = "Koko maa"
        return cls(packages, pname, rname)

    def short(self, code):
        return costs.REGION_SHORT_FI.get(code, self.region.get(code, code))


def _national(P: dict) -> tuple[pd.Series, float]:
    """The whole country's allocation row and the benchmark percentage."""
    nat = P["allocation"][P["allocation"]["region_code"] == "ALL"].iloc[0]
    return nat, float(nat["benchmark_pct"])


def _packages_section(ch: CostChapter, P: dict, names: _Names, year: int, meta: dict) -> None:
    """The lead paragraph, Table 1 (packages) and the largest packages."""
    pname = names.package
    nat, benchmark = _national(P)
    pk, dims = P["packages"], P["dimensions"]
    sec = dims[(dims["dimension"] == "sector") & (dims["package_code"] == "ALL")]
    sec = dict(zip(sec["value"], sec["cost_eur"]))
    pct = fi_pct(nat["allocation_pct"])
    allocated = (say("allocated_same", pct=pct) if pct == fi_pct(benchmark)
                 else say("allocated", pct=pct, benchmark=fi_pct(benchmark)))
    ch.facts["lead"] = say("lead", year=year, total=_mrd(nat["ledger_eur"]),
                           social=_mrd(sec.get("sos", 0)),
                           basic=_mrd(pk[pk["kind"] == "basic"]["cost_eur"].sum()),
                           extended=_mrd(pk[pk["kind"] == "extended"]["cost_eur"].sum(), 2),
                           allocated=allocated)

    t = pk     # the published rows are in the packages' order
    kind_fi = {"basic": "perus", "extended": "laajennettu"}
    tab = pd.DataFrame({
        "Tietopaketti": [pname[c] for c in t["package_code"]],
        "Tyyppi": [kind_fi.get(k, "") for k in t["kind"]],
        "Kustannukset, milj. €": [_milj(v) for v in t["cost_eur"]],
        "Osuus": [fi_pct(v) for v in t["share_pct"]],
        "€ / asukas": [fi_number(v) for v in t["eur_per_resident"]],
    })
    ch.tables["packages"] = (
        f"Taulukko 1. Kustannukset tietopaketeittain vuonna {year}, koko maa (manner-Suomi)",
        tab, list(tab.columns[2:]), f"Asukasluku 31.12.{meta['population_year']}.")
    top = t[~t["package_code"].isin(["ALL", "unallocated"])].nlargest(2, "cost_eur")
    a, b = top.iloc[0], top.iloc[1]
    ch.facts["largest"] = say("largest", a=pname[a["package_code"]].lower(),
                              a_share=fi_pct(a["share_pct"]),
                              a_eur=fi_number(a["eur_per_resident"]),
                              b=pname[b["package_code"]].lower(), b_share=fi_pct(b["share_pct"]))


def _allocation_section(ch: CostChapter, P: dict, quarantined: int, names: _Names,
                        year: int) -> None:
    """The allocation paragraph and Table 2 (allocation by region)."""
    short = names.short
    al = P["allocation"]
    nat, benchmark = _national(P)
    areas = al[al["region_code"] != "ALL"]
    pct = fi_pct(nat["allocation_pct"])
    lo = areas.loc[areas["allocation_pct"].idxmin()]
    hi = areas.loc[areas["allocation_pct"].idxmax()]
    un = P["unallocated"]
    reasons = un[un["region_code"] == "ALL"].groupby("reason")["cost_eur"].sum()
    ch.facts["allocation"] = say(
        "allocation", pct=pct, lo=fi_pct(lo["allocation_pct"]), lo_area=short(lo["region_code"]),
        hi=fi_pct(hi["allocation_pct"]), hi_area=short(hi["region_code"]),
        below=int((areas["allocation_pct"] < benchmark).sum()),
        unallocated=unallocated_sentence(float(nat["unallocated_eur"]), reasons),
        quarantine=say("quarantine", rows=fi_count(quarantined, "virheellinen kustannusrivi",
                                                   "virheellistä kustannusriviä"))
        if quarantined else "")
    tab = pd.DataFrame({
        "Alue": [short(c) for c in al["region_code"]],
        "Kustannukset, milj. €": [_milj(v) for v in al["ledger_eur"]],
        "Kohdennettu, milj. €": [_milj(v) for v in al["allocated_eur"]],
        "Kohdentamaton, milj. €": [_milj(v) for v in al["unallocated_eur"]],
        "Kohdentumisaste": [fi_pct(v) for v in al["allocation_pct"]],
    })
    ch.tables["allocation"] = (
        f"Taulukko 2. Kustannusten kohdentuminen tietopaketteihin alueittain vuonna {year}",
        tab, list(tab.columns[1:]), f"Vertailuarvo {fi_pct(benchmark)} (arviointi 2017).")


def _total_figure(ch: CostChapter, res: pd.DataFrame, names: _Names, year: int,
                  synthetic: bool) -> None:
    """Figure 1: costs per resident by region, with its alternative text."""
    import matplotlib.pyplot as plt

    short = names.short
    tot = res[(res["package_code"] == "ALL")].copy()
    tot_nat = float(tot.loc[tot["region_code"] == "ALL", "eur_per_resident"].iloc[0])
    tot = tot[tot["region_code"] != "ALL"].sort_values("eur_per_resident")
    fig, ax = plt.subplots(figsize=(7.5, 5.2))
    ax.barh([short(c) for c in tot["region_code"]], tot["eur_per_resident"], color="#4c78a8")
    ax.axvline(tot_nat, color="#e45756", lw=1.2)
    ax.text(tot_nat, len(tot) - 0.4, f"koko maa {fi_number(tot_nat)} € ", color="#e45756",
            fontsize=8, ha="right")
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: fi_number(v)))
    ax.set_xlabel("euroa asukasta kohden")
    ax.set_title(f"Kuvio 1. Sote-kustannukset asukasta kohden alueittain {year}", loc="left",
                 fontsize=10)
    fig.tight_layout()
    source_line(fig, synthetic, "costs")
    lo_r, hi_r = tot.iloc[0], tot.iloc[-1]
    ch.figures["total"] = (fig, say("alt_total", year=year, nat=fi_number(tot_nat),
                                    lo_area=short(lo_r["region_code"]),
                                    lo=fi_number(lo_r["eur_per_resident"]),
                                    hi_area=short(hi_r["region_code"]),
                                    hi=fi_number(hi_r["eur_per_resident"])))


def _standardised_section(ch: CostChapter, res: pd.DataFrame, names: _Names, year: int,
                          synthetic: bool) -> None:
    """Figure 2 (age-standardised costs per target resident) and its paragraph."""
    import matplotlib.pyplot as plt

    short, pname = names.short, names.package
    std = res[res["eur_per_target_resident_std"].notna()]
    bound = [c for c in names.packages["package_code"] if c in set(std["package_code"])]
    if bound:
        fig, axes = plt.subplots(1, len(bound), figsize=(7.5, 5.4), sharey=True)
        axes = np.atleast_1d(axes)
        order = (res[(res["package_code"] == "ALL") & (res["region_code"] != "ALL")]
                 .sort_values("region_code")["region_code"].tolist())
        for ax, code in zip(axes, bound):
            s = res[(res["package_code"] == code)].set_index("region_code")
            ax.barh([short(c) for c in order], s["eur_per_target_resident_std"].reindex(order),
                    color="#72b7b2")
            ax.axvline(float(s.loc["ALL", "eur_per_target_resident_std"]), color="#e45756",
                       lw=1.2)
            ax.set_title(f"{pname[code]}\n€ / "
                         f"{GROUP_FI.get(s['target_group'].iloc[0], 'kohdeväestö')}", fontsize=8)
            ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: fi_number(v)))
            ax.xaxis.set_major_locator(plt.MaxNLocator(3))
            ax.tick_params(axis="x", labelsize=7)
        axes[0].invert_yaxis()
        fig.suptitle(f"Kuvio 2. Ikävakioidut kustannukset kohdeväestön asukasta kohden {year}",
                     x=0.01, ha="left", fontsize=10)
        fig.tight_layout()
        source_line(fig, synthetic, "costs")
        ch.figures["std"] = (fig, say("alt_std", year=year,
                                      packages=", ".join(pname[c].lower() for c in bound)))
    items = []
    for code in bound:
        s = std[(std["package_code"] == code) & (std["region_code"] != "ALL")]
        n = res[(res["package_code"] == code) & (res["region_code"] == "ALL")].iloc[0]
        if s.empty:
            continue
        mx = s.loc[s["eur_per_target_resident_std"].idxmax()]
        mn = s.loc[s["eur_per_target_resident_std"].idxmin()]
        items.append(say("std_item", package=pname[code],
                         eur=fi_number(n["eur_per_target_resident"]),
                         group=GROUP_FI.get(n["target_group"], n["target_group"]),
                         max_area=short(mx["region_code"]),
                         max_eur=fi_number(mx["eur_per_target_resident_std"]),
                         min_area=short(mn["region_code"]),
                         min_eur=fi_number(mn["eur_per_target_resident_std"])))
    ch.facts["standardised"] = "\n".join(items)


def _per_client_section(ch: CostChapter, pc: pd.DataFrame, P: dict, published: Path,
                        params: dict, names: _Names, year: int, meta: dict) -> None:
    """Table 3 (€ per client, whole country), Table 4 (by region) and their paragraph."""
    short, pname, packages = names.short, names.package, names.packages
    cp = costs.cost_params(params)
    min_pct = float(cp["per_client_min_coverage_pct"])
    min_count = int(as_params(params)["disclosure"]["min_count"])
    clients_pub, eur_pub, _why, hid = costs.per_client_shown(pc, published, min_pct, min_count)
    # (per_client_shown checked that the published rows are these rows, in this order)
    pc = pc.assign(eur_pub=eur_pub, clients_pub=clients_pub, hid=hid,
                   cost_eur=P["per_client"]["cost_eur"].to_numpy(),
                   coverage_pct=P["per_client"]["coverage_pct"].to_numpy())
    n = pc[pc["region_code"] == "ALL"].copy()
    n["order"] = n["package_code"].map(dict(zip(packages["package_code"], packages["order"])))
    n = n.sort_values("order")
    tab = pd.DataFrame({
        "Tietopaketti": [pname[c] for c in n["package_code"]],
        "Palvelutehtävät": [costs.task_names(s) for s in n["service_tasks"]],
        "Kustannukset, milj. €": [_milj(v) for v in n["cost_eur"]],
        "Asiakkaat": [SUPPRESSED if h else fi_number(v)
                      for v, h in zip(n["clients_pub"], n["hid"])],
        "€ / asiakas": [SUPPRESSED if h else fi_number(v)
                        for v, h in zip(n["eur_pub"], n["hid"])],
        "Rekisterin kattavuus": [fi_pct(v) for v in n["coverage_pct"]],
    })
    ch.tables["per_client"] = (
        f"Taulukko 3. Kustannukset rekisterin koko vuoden asiakasta kohden vuonna {year}, "
        "koko maa", tab, list(tab.columns[2:]),
        f"{NOT_AVAILABLE} = ei julkaista: rekisterin kattavuus alle {fi_pct(min_pct, 0)}."
        + (f" {SUPPRESSED} = salattu tietosuojan vuoksi." if n["hid"].any() else ""))
    low = pc[(pc["region_code"] != "ALL") & pc["eur_pub"].isna() & ~pc["hid"]]
    ch.facts["per_client"] = say(
        "per_client", basis=BASIS_FI.get(meta.get("coverage_basis"), ""),
        none=say("per_client_none") if meta.get("coverage_basis") == "none" else "",
        min_pct=fi_pct(min_pct, 0), symbol=symbols.in_text(NOT_AVAILABLE), n_low=low["region_code"].nunique())
    w = pc[pc["region_code"] != "ALL"].copy()
    w["val"] = [SUPPRESSED if h else NOT_AVAILABLE if pd.isna(v) else fi_number(v)
                for v, h in zip(w["eur_pub"], w["hid"])]
    wide = w.pivot(index="region_code", columns="package_code", values="val")
    cols = [c for c in packages["package_code"] if c in wide.columns]
    wide = wide[cols]
    wide.insert(0, "Alue", [short(c) for c in wide.index])
    wide.columns = ["Alue"] + [pname[c] for c in cols]
    ch.tables["per_client_areas"] = (
        f"Taulukko 4. Kustannukset asiakasta kohden alueittain {year}, euroa",
        wide.reset_index(drop=True), list(wide.columns[1:]),
        f"{NOT_AVAILABLE} = ei julkaista: rekisterin kattavuus alueella alle "
        f"{fi_pct(min_pct, 0)} (asiakkaita puuttuisi, ja luku olisi liian suuri), tai alueella "
        f"ei ollut rekisterissä asiakkaita. {SUPPRESSED} = salattu tietosuojan vuoksi: "
        "asiakasmäärä on pieni tai pääteltävissä muista luvuista.")
