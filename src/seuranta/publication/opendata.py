"""Open data of a release: every published table as CSV and as a JSON-stat 2.0 dataset,
described by a Frictionless ``datapackage.json``.

Takes the *published* tables (the disclosure gate's output, :mod:`.published`) of every
quarter of a release. Gives ``<target>/`` with, per quarter and table:

* ``<table>_<quarter>.csv``: the published table as it is (UTF-8, LF, ``,``), with a
  ``release_id`` column first, so that every file says which vintage it is, and the
  row's stable ``indicator_id`` (:mod:`.indicators`) second; the whole country's empty
  area code is written ``SSS`` (:data:`WHOLE_COUNTRY`), as in the JSON-stat;
* ``<table>_<quarter>.json``: a JSON-stat 2.0 dataset (the format of THL's open cube API
  and PxWeb): the identifying columns are its dimensions, the published figures its
  ``mittari`` (metric) dimension with units; a suppressed or missing cell has the value
  ``null`` and its symbol in ``status`` (:mod:`seuranta.core.symbols`); a cell that the
  table does not have at all (a combination without a row) is ``null`` with status ``.``;
  metadata: source, reference period, release id and date, symbols, the synthetic notice;
* ``indikaattorit.csv``: every indicator of the files with its titles (fi/sv/en),
  definition, source and, per measure, unit and decimals;
* ``datapackage.json``: the Frictionless data package listing every file, with a table
  schema (types, missing values) for each CSV.

Text attributes of a row (quality class, reasons, notes) are in the CSV only: JSON-stat
values are numbers. Columns that another identifying column determines (``county_code``
given ``municipality_code``) are attributes, not dimensions.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from seuranta.core import reference, symbols
from seuranta.core.labels_fi import CREDIT_FI
from seuranta.core.precision import SHARE_DECIMALS
from seuranta.core.quarters import Quarter
from seuranta.core.tables import write_csv
from seuranta.publication import indicators
from seuranta.publication import published as pub

LICENSE = {"name": "CC-BY-4.0", "title": "Creative Commons Attribution 4.0",
           "path": "https://creativecommons.org/licenses/by/4.0/"}
#: Name of the metric dimension (PxWeb's "Tiedot").
METRIC = "mittari"
#: Identifying columns in the order they become dimensions (others follow).
DIM_ORDER = ["quarter", "service_task", "age_group", "municipality_code", "county_code",
             "source", "method"]
DIM_LABEL_FI = {"quarter": "Vuosineljännes", "service_task": "Palvelutehtävä",
                "age_group": "Ikäryhmä", "county_code": "Hyvinvointialue",
                "municipality_code": "Kunta", "source": "Tietolähde", "method": "Menetelmä",
                METRIC: "Tiedot"}
#: Figures: Finnish label, unit label, decimals (shares: the declared precision of
#: :mod:`seuranta.core.precision`, as the gate rounds them).
METRIC_FI = {
    "clients": ("Asiakkaat", "henkilöä", 0),
    "population_base": ("Väestöpohja", "henkilöä", 0),
    "share_pct": ("Osuus väestöpohjasta", "prosenttia", SHARE_DECIMALS),
    "range_low": ("Vaihteluvälin alaraja", "henkilöä", 0),
    "range_high": ("Vaihteluvälin yläraja", "henkilöä", 0),
    "range_low_pct": ("Vaihteluvälin alaraja, osuus väestöpohjasta", "prosenttia",
                      SHARE_DECIMALS),
    "range_high_pct": ("Vaihteluvälin yläraja, osuus väestöpohjasta", "prosenttia",
                       SHARE_DECIMALS),
    "base_coverage_pct": ("Kattavien kuntien osuus väestöpohjasta", "prosenttia",
                          SHARE_DECIMALS),
    "estimate": ("Arvio asiakasmäärästä", "henkilöä", 0),
    "estimate_rounded": ("Arvio asiakasmäärästä, pyöristetty", "henkilöä", 0),
    "ci_low": ("95 %:n luottamusvälin alaraja", "henkilöä", 0),
    "ci_high": ("95 %:n luottamusvälin yläraja", "henkilöä", 0),
    "se": ("Keskivirhe", "henkilöä", 0),
    "clients_used": ("Arviossa käytetyt asiakkaat", "henkilöä", 0),
    "municipalities_used": ("Arviossa käytetyt kunnat", "kuntaa", 0),
    "old_value": ("Aiempi arvo", "", 4),
    "new_value": ("Uusi arvo", "", 4),
    "population_used": ("Arviossa käytetty väestöpohja", "henkilöä", 0),
    "national_base": ("Koko maan väestöpohja", "henkilöä", 0),
    "clients_observed": ("Havaitut asiakkaat kattavissa kunnissa", "henkilöä", 0),
    "municipalities": ("Kuntia", "kuntaa", 0),
    "municipalities_comprehensive": ("Kattavia kuntia", "kuntaa", 0),
    "comprehensive": ("Kaikki alueen kunnat kattavia (1 = kyllä)", "", 0),
    "whole_county": ("Summa kattaa koko alueen (1 = kyllä)", "", 0),
    "n": ("Kuntia", "kuntaa", 0),
    "n_shown": ("Kuntia, joiden osuus julkaistaan", "kuntaa", 0),
    "n_comprehensive": ("Kattavia kuntia", "kuntaa", 0),
    "q1": ("Alakvartiili", "prosenttia", SHARE_DECIMALS),
    "median": ("Mediaani", "prosenttia", SHARE_DECIMALS),
    "q3": ("Yläkvartiili", "prosenttia", SHARE_DECIMALS),
    "min": ("Pienin osuus", "prosenttia", SHARE_DECIMALS),
    "max": ("Suurin osuus", "prosenttia", SHARE_DECIMALS),
    "mean_z": ("Standardoitujen ennustevirheiden keskiarvo", "", 2),
    "sd_z": ("Standardoitujen ennustevirheiden keskihajonta", "", 2),
    "within_196_pct": ("Ennustevirhe välillä ±1,96", "prosenttia", SHARE_DECIMALS),
    "rows": ("Rivejä", "riviä", 0),
    "age_adjusted_diff_pct": ("Ikävakioinnin vaikutus arvioon", "prosenttia", SHARE_DECIMALS),
    "size_differs": ("Kattavat kunnat poikkeavat koko maasta (1 = kyllä)", "", 0),
    "n_include": ("Hyväksyttyjä kuntia", "kuntaa", 0),
    "n_exclude": ("Arviosta pois jätettyjä kuntia", "kuntaa", 0),
    "n_note": ("Huomautuksia", "kpl", 0),
    "municipalities_used_before": ("Arviossa käytetyt kunnat ennen tarkastusta", "kuntaa", 0),
    "municipalities_used_after": ("Arviossa käytetyt kunnat tarkastuksen jälkeen", "kuntaa", 0),
    "estimate_before": ("Arvio ennen tarkastusta", "henkilöä", 0),
    "estimate_after": ("Arvio tarkastuksen jälkeen", "henkilöä", 0),
    "estimate_change_pct": ("Arvion muutos", "prosenttia", SHARE_DECIMALS),
}
TABLE_TITLE_FI = {
    "tarkentuneet_luvut": "Tarkentuneet luvut",
    "counts": "Asiakkaat kunnittain, palvelutehtävittäin ja tietolähteittäin",
    "cwa_counts": "Lastensuojelulain mukaiset asiakkaat kunnittain",
    "estimates": "Koko maan arviot palvelutehtävittäin",
    "county_estimates": "Hyvinvointialueiden arviot palvelutehtävittäin",
    "quality": "Kuntien tietojen laatu palvelutehtävittäin",
    "age_counts": "Asiakkaat ikäryhmittäin",
    "quartiles": "Kuntien osuuksien kvartiilit",
    "ledger": "Rekisterin rivien kirjanpito",
    "quality_reasons": "Kuntien laatuluokituksen syyt",
    "representativeness": "Kattavien kuntien edustavuus",
    "review_decisions": "Tarkastuskierroksen päätökset",
    "review_effect": "Tarkastuskierroksen päätösten vaikutus koko maan arvioon",
}

# Sote-tietopaketit (issue 25): the published cost tables of the newest cost year
# (gate.publish_costs), files ``<table>_<year>.csv/.json``.
COST_TITLE_FI = {
    "costs_packages": "Sote-kustannukset tietopaketeittain, koko maa",
    "costs_allocation": "Sote-kustannusten kohdentuminen tietopaketteihin alueittain",
    "costs_unallocated": "Kohdentamattomat sote-kustannukset palveluluokittain ja syyn mukaan",
    "costs_per_resident": "Sote-kustannukset asukasta kohden tietopaketeittain ja alueittain",
    "costs_per_client": "Sote-kustannukset rekisterin koko vuoden asiakasta kohden",
    "costs_dimensions": ("Sote-kustannukset asiakasryhmän, rahoituskanavan, tuottajan ja "
                         "toimialan mukaan, koko maa"),
}
COST_DIM_FI = {"package_code": "Tietopaketti", "kind": "Tietopaketin tyyppi",
               "service_class": "Palveluluokka", "reason": "Kohdentamattomuuden syy",
               "target_group": "Kohdeväestön ikäryhmät", "dimension": "Näkökulma",
               "category": "Luokka", "year": "Vuosi"}
COST_METRIC_FI = {
    "cost_eur": ("Kustannukset", "euroa", 2),
    "ledger_eur": ("Kustannukset yhteensä", "euroa", 2),
    "allocated_eur": ("Kohdennettu", "euroa", 2),
    "unallocated_eur": ("Kohdentamaton", "euroa", 2),
    "allocation_pct": ("Kohdentumisaste", "prosenttia", 1),
    "benchmark_pct": ("Vertailuarvo 2017", "prosenttia", 1),
    "rows": ("Kustannusrivejä", "riviä", 0),
    "population_year": ("Väestön vuosi", "vuosi", 0),
    "population": ("Väestö", "henkilöä", 0),
    "eur_per_resident": ("Euroa asukasta kohden", "euroa", 2),
    "target_population": ("Kohdeväestö", "henkilöä", 0),
    "eur_per_target_resident": ("Euroa kohdeväestön asukasta kohden", "euroa", 2),
    "eur_per_target_resident_std": ("Ikävakioitu, euroa kohdeväestön asukasta kohden",
                                    "euroa", 2),
    "eur_per_client": ("Euroa asiakasta kohden", "euroa", 0),
    "coverage_pct": ("Rekisterin kattavuus", "prosenttia", 1),
}
#: Disclosure control of the cost tables, for their metadata.
COST_DISCLOSURE_FI = (
    "Eurot, osuudet ja euroa asukasta kohden ovat hyvinvointialueiden kustannuksia eivätkä "
    "kuvaa henkilöitä, joten niihin ei sovelleta tietosuojasuojausta. Asiakasmäärät ovat "
    "henkilömääriä: pienet ja muista luvuista pääteltävissä olevat asiakasmäärät ja niiden "
    "euroa asiakasta kohden on salattu (..), kuten julkaisun muissakin taulukoissa.")
DIM_LABEL_FI = {**DIM_LABEL_FI, **COST_DIM_FI}
METRIC_FI = {**METRIC_FI, **COST_METRIC_FI}


# --------------------------------------------------------------------------- structure

def _ordered_candidates(df: pd.DataFrame) -> list[str]:
    vals = set(pub.value_columns(df))
    cands = [c for c in df.columns if c not in vals and not c.endswith(pub.SYMBOL_SUFFIX)
             and (c in pub.TEXT_COLUMNS or not pd.api.types.is_numeric_dtype(df[c]))]
    first = [c for c in DIM_ORDER if c in cands]
    return first + [c for c in cands if c not in first]


def dimensions(df: pd.DataFrame) -> list[str]:
    """The identifying columns: the fewest of the text columns that keep rows unique,
    dropping from the end of DIM_ORDER (attributes such as county_code, quality, notes).
    A constant column of DIM_ORDER stays (a dimension of size 1: the quarter, "kaikki")."""
    dims = _ordered_candidates(df)
    for c in reversed(list(dims)):
        if c in DIM_ORDER and df[c].nunique(dropna=False) == 1:
            continue
        rest = [d for d in dims if d != c]
        if rest and not df.duplicated(rest).any():
            dims = rest
    if df.duplicated(dims).any():   # a numeric key (e.g. a class number): first that helps
        for c in df.columns:
            if c not in dims and not c.endswith(pub.SYMBOL_SUFFIX) and \
                    f"{c}{pub.SYMBOL_SUFFIX}" not in df.columns:
                dims = dims + [c]
                if not df.duplicated(dims).any():
                    break
    if df.duplicated(dims).any():
        raise ValueError(f"published table has duplicate rows over {dims}")
    return dims


def figures(df: pd.DataFrame, dims: list[str] | None = None) -> list[str]:
    """The numeric columns (published figures, with or without a symbol column);
    ``dims``: :func:`dimensions` of ``df`` when already found."""
    dims = set(_ordered_candidates(df)) | set(dimensions(df) if dims is None else dims)
    return [c for c in df.columns if c not in dims and not c.endswith(pub.SYMBOL_SUFFIX)
            and c != "release_id" and pd.api.types.is_numeric_dtype(df[c])]


#: JSON-stat category id of an empty key: the whole country (THL's code "SSS") for an area,
#: else "_".
WHOLE_COUNTRY = "SSS"


#: The area columns, whose empty value is the whole country.
AREA_COLUMNS = ("county_code", "municipality_code")


def category_id(dim: str, value) -> str:
    """The JSON-stat category id of a key value ('' → SSS for areas, '_' otherwise)."""
    v = "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
    if v:
        return v
    return WHOLE_COUNTRY if dim in AREA_COLUMNS else "_"


def whole_country_coded(text: pd.DataFrame) -> pd.DataFrame:
    """A published table read as text with the whole country's empty area code written
    :data:`WHOLE_COUNTRY`, the code its JSON-stat uses (one code in both formats)."""
    text = text.copy()
    for c in AREA_COLUMNS:
        if c in text.columns:
            text[c] = text[c].replace("", WHOLE_COUNTRY)
    return text


def _category_labels(dim: str, ids: list[str]) -> dict[str, str]:
    if dim == "municipality_code":
        m = reference.municipalities()
        names = dict(zip(m["municipality_code"], m["name_fi"]))
    elif dim == "county_code":
        m = reference.municipalities()
        names = dict(zip(m["county_code"], m["county_name_fi"]))
    elif dim == "service_task":
        t = reference.service_tasks()
        names = dict(zip(t["service_task"], t["name_fi"]))
        names.setdefault("lastensuojelulaki", "Lastensuojelulain mukainen asiakkuus")
    elif dim == "quarter":
        names = {q: Quarter.parse(q).name_fi for q in ids}
    else:
        names = {}
    names.setdefault(WHOLE_COUNTRY, "Koko maa")
    return {i: names.get(i, i) for i in ids}


# --------------------------------------------------------------------------- JSON-stat

def to_jsonstat(df: pd.DataFrame, name: str, quarter: str, release_id: str, released: str,
                synthetic: bool, labels: dict[str, dict[str, str]] | None = None,
                notice: str | None = None, indicator_ids: pd.Series | None = None) -> dict:
    """A published table as a JSON-stat 2.0 dataset (dense, row-major, metric last;
    quarters in time order). ``indicator_ids``: the rows' indicator ids
    (:func:`.indicators.row_ids`), given in ``extension.indicator_id`` when one id serves
    the whole table, else in the ``extension.indicator_id`` of the dimension that
    determines them (category → id), with their titles in ``extension.indicators``."""
    dims = dimensions(df)
    figs = figures(df, dims)
    d = df.copy()
    for c in dims:
        d[c] = [category_id(c, v) for v in d[c]]
    cats = {c: sorted(pd.unique(d[c])) if c == "quarter" else list(pd.unique(d[c]))
            for c in dims}
    sizes = [len(cats[c]) for c in dims] + [len(figs)]
    n = int(np.prod(sizes))
    value: list = [None] * n
    status: dict[str, str] = {}
    # row-major index of every (row, figure)
    idx = np.zeros(len(d), dtype=np.int64)
    for c, size in zip(dims, sizes[:-1]):
        pos = {v: i for i, v in enumerate(cats[c])}
        idx = idx * size + d[c].map(pos).to_numpy(np.int64)
    present = np.zeros(n, dtype=bool)
    for j, f in enumerate(figs):
        cell = idx * len(figs) + j
        present[cell] = True
        vals = pd.to_numeric(d[f], errors="coerce").to_numpy(float)
        sym = (d[f"{f}{pub.SYMBOL_SUFFIX}"].fillna("").astype(str).to_numpy()
               if f"{f}{pub.SYMBOL_SUFFIX}" in d.columns else np.full(len(d), ""))
        for k, v, s in zip(cell.tolist(), vals.tolist(), sym.tolist()):
            if s:
                status[str(k)] = s          # a symbol: never a value beside it
            elif np.isnan(v):
                status[str(k)] = symbols.NOT_AVAILABLE
            else:
                value[k] = int(v) if float(v).is_integer() else v
    for k in np.flatnonzero(~present).tolist():
        status[str(k)] = symbols.NOT_AVAILABLE
    dimension = {}
    for c in dims:
        dimension[c] = {"label": DIM_LABEL_FI.get(c, c),
                        "category": {"index": cats[c],
                                     "label": (labels or {}).get(c) or _category_labels(c, cats[c])}}
    dimension[METRIC] = {"label": DIM_LABEL_FI[METRIC], "category": {
        "index": figs,
        "label": {f: METRIC_FI.get(f, (f, "", 0))[0] for f in figs},
        "unit": {f: {"label": METRIC_FI.get(f, (f, "", 0))[1],
                     "decimals": METRIC_FI.get(f, (f, "", 0))[2]} for f in figs}}}
    extension = {}
    if indicator_ids is not None:
        extension = _indicator_extension(d, dims, dimension, indicator_ids)
    role = {"metric": [METRIC]}
    if "quarter" in dims:
        role["time"] = ["quarter"]
    geo = [c for c in ("municipality_code", "county_code") if c in dims]
    if geo:
        role["geo"] = geo
    q = Quarter.parse(quarter)
    period = sorted(Quarter.parse(x) for x in d["quarter"].unique()) if "quarter" in d else [q]
    notes = [f"{s} = {fi}" for s, (fi, _) in symbols.SYMBOLS.items()]
    if synthetic:
        notes.insert(0, _required_notice(notice))
    return {
        "version": "2.0", "class": "dataset",
        "label": f"{TABLE_TITLE_FI.get(name, name)}, {q.name_fi}",
        "source": CREDIT_FI, "updated": released,
        "id": dims + [METRIC], "size": sizes, "role": role, "dimension": dimension,
        "value": value, "status": status, "note": notes,
        "extension": {"release_id": release_id, "table": name,
                      "reference_period": {"quarter": str(q),
                                           "start": period[0].start.isoformat(),
                                           "end": period[-1].end.isoformat()},
                      "symbols": {s: {"fi": fi, "sv": sv} for s, (fi, sv) in symbols.SYMBOLS.items()},
                      "synthetic": bool(synthetic), "license": LICENSE["name"],
                      **extension},
    }


def _indicator_extension(d: pd.DataFrame, dims: list[str], dimension: dict,
                         ids: pd.Series) -> dict:
    """Place the rows' indicator ids in a JSON-stat dataset (see :func:`to_jsonstat`);
    returns the dataset's extension entries."""
    ids = pd.Series(list(ids), index=d.index)
    out = {"indicators": {i: {"title": indicators.titles_of(i)} for i in sorted(ids.unique())}}
    if ids.nunique() == 1:
        out["indicator_id"] = str(ids.iloc[0])
        return out
    for c in dims:
        if ids.groupby(d[c]).nunique().max() == 1:
            by_cat = ids.groupby(d[c]).first()
            dimension[c]["extension"] = {"indicator_id": {k: str(v) for k, v in by_cat.items()}}
            return out
    raise ValueError("indicator ids determined by no single dimension: "
                     f"{sorted(ids.unique())}")


def _required_notice(notice: str | None) -> str:
    """The run's synthetic-data notice (``bookfmt.notice_text(True, params)``): synthetic
    open data are never written without it."""
    if not notice:
        raise ValueError("synthetic open data: give the run's synthetic-data notice "
                         "(bookfmt.notice_text(True, params))")
    return notice


# --------------------------------------------------------------------------- package

def _field_type(text: pd.Series, col: str) -> str:
    """Frictionless type of a CSV column from its text (codes and symbols stay strings)."""
    if col in pub.TEXT_COLUMNS or col.endswith(pub.SYMBOL_SUFFIX) or col in (
            "release_id", "indicator_id"):
        return "string"
    v = text[text != ""]
    if v.empty:
        return "string"
    if v.str.fullmatch(r"-?\d+").all():
        return "integer"
    if pd.to_numeric(v, errors="coerce").notna().all():
        return "number"
    return "string"


def _schema(text: pd.DataFrame, dims: list[str]) -> dict:
    """Table schema of a CSV read as text."""
    df = text
    fields = []
    for c in df.columns:
        f = {"name": c, "type": _field_type(df[c], c)}
        if c in METRIC_FI:
            f["title"] = METRIC_FI[c][0]
            f["description"] = f"Yksikkö: {METRIC_FI[c][1]}"
        elif c.endswith(pub.SYMBOL_SUFFIX):
            f["description"] = ("Symboli, kun lukua ei näytetä: "
                                + "; ".join(f"{s} = {fi}" for s, (fi, _) in symbols.SYMBOLS.items()))
        elif c in DIM_LABEL_FI:
            f["title"] = DIM_LABEL_FI[c]
        elif c == "indicator_id":
            f["title"] = "Indikaattorin tunniste"
            f["description"] = (f"Pysyvä tunniste; nimet, määritelmä ja yksiköt tiedostossa "
                                f"{INDICATOR_FILE}.")
        fields.append(f)
    return {"fields": fields, "missingValues": [""], "primaryKey": ["release_id"] + dims}


def revisions_frame(rev: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """The revisions table as a JSON-stat-ready frame: one dimension ``muutos`` (one
    category per changed figure, labelled with its quarter, table, keys and figure) and
    the old and new values with their symbols."""
    ids = [f"m{i + 1}" for i in range(len(rev))]
    keys = [c for c in ("service_task", "age_group", "method", "kind", "county_code",
                        "municipality_code", "n_tasks", "task_a", "task_b") if c in rev.columns]
    label = {i: " · ".join([r["quarter"], r["table"]] + [str(r[k]) for k in keys if str(r[k])]
                          + [r["figure"]]) for i, (_, r) in zip(ids, rev.iterrows())}
    df = pd.DataFrame({"quarter": rev["quarter"].to_numpy(), "muutos": ids,
                       "old_value": rev["old_value"].to_numpy(float),
                       "old_value_symbol": rev["old_symbol"].to_numpy(),
                       "new_value": rev["new_value"].to_numpy(float),
                       "new_value_symbol": rev["new_symbol"].to_numpy()})
    return df, label


def _cost_labels() -> dict[str, dict[str, str]]:
    p = pd.read_csv(reference.REFERENCE_DIR / "cost_packages.csv", dtype=str,
                    keep_default_na=False)
    names = dict(zip(p["package_code"], p["name_fi"]))
    names.update({"unallocated": "Kohdentamaton", "ALL": "Yhteensä"})
    return {"package_code": names}


def _write_table_csv(pdir: Path, name: str, release_id: str, path: Path
                     ) -> tuple[pd.DataFrame, pd.Series]:
    """A published table's CSV in the open data: the published text byte for byte but the
    whole country coded :data:`WHOLE_COUNTRY`, with the release id and each row's indicator
    id first. Returns that text and the ids."""
    text = pd.read_csv(pdir / f"{name}.csv", dtype=str, keep_default_na=False)
    ids = indicators.row_ids(name, text)
    text = whole_country_coded(text)
    text.insert(0, "release_id", release_id)
    text.insert(1, "indicator_id", ids)
    write_csv(text, path)
    return text, ids


def _write_costs(pdir: Path, target: Path, year: str, release_id: str, released: str,
                 synthetic: bool, notice: str | None,
                 described: dict[tuple[str, str], list[str]]) -> list[dict]:
    """One cost year's published tables (``OUT/costs/<year>/published``) as CSV and
    JSON-stat, and their data-package resources; the reference period is the year. Each
    table's indicator is added to ``described``."""
    resources = []
    labels = _cost_labels()
    for name in pub.table_names(pdir):
        df = pub.read(pdir, name)
        if df.empty:
            continue
        base = f"{name}_{year}"
        text, ids = _write_table_csv(pdir, name, release_id, target / f"{base}.csv")
        described.setdefault((name, ""), figures(df))
        title = f"{COST_TITLE_FI.get(name, name)}, {year}"
        schema = _schema(text, dimensions(df))
        resources.append({"name": base.lower(), "path": f"{base}.csv", "title": title,
                          "description": COST_DISCLOSURE_FI, "format": "csv",
                          "mediatype": "text/csv", "encoding": "utf-8",
                          "dialect": {"delimiter": ",", "header": True}, "schema": schema})
        js = to_jsonstat(df, name, f"{year}Q4", release_id, released, synthetic,
                         labels=labels, notice=notice, indicator_ids=ids)
        js["label"] = title
        js["source"] = "Sote-tietopakettien kustannusaineisto; " + CREDIT_FI
        js["note"].append(COST_DISCLOSURE_FI)
        js["extension"]["reference_period"] = {"year": int(year), "start": f"{year}-01-01",
                                               "end": f"{year}-12-31"}
        (target / f"{base}.json").write_text(json.dumps(js, ensure_ascii=False, sort_keys=True),
                                             encoding="utf-8")
        resources.append({"name": f"{base.lower()}-jsonstat", "path": f"{base}.json",
                          "title": f"{title} (JSON-stat 2.0)", "format": "json",
                          "mediatype": "application/json", "encoding": "utf-8"})
    return resources


#: The open data's list of indicators (:func:`_indicator_list`).
INDICATOR_FILE = "indikaattorit.csv"


def _indicator_list(described: dict[tuple[str, str], list[str]], target: Path) -> dict:
    """Write :data:`INDICATOR_FILE` (every indicator of the files, one row per measure:
    :func:`.indicators.metadata`) and return its data-package resource."""
    rows = [r for (table, task) in sorted(described)
            for r in indicators.metadata(table, task, described[(table, task)], METRIC_FI)]
    frame = pd.DataFrame(rows)
    write_csv(frame, target / INDICATOR_FILE)
    text = pd.read_csv(target / INDICATOR_FILE, dtype=str, keep_default_na=False)
    schema = _schema(text, [])
    schema["primaryKey"] = ["indicator_id", "measure"]
    return {"name": "indikaattorit", "path": INDICATOR_FILE,
            "title": "Indikaattorit: tunnisteet, nimet (fi, sv, en), määritelmät, yksiköt "
                     "ja desimaalit", "format": "csv", "mediatype": "text/csv",
            "encoding": "utf-8", "dialect": {"delimiter": ",", "header": True},
            "schema": schema}


def write_open_data(published_dirs: dict[str, Path], target: Path, release_id: str,
                    released: str, synthetic: bool, revisions: pd.DataFrame | None = None,
                    notice: str | None = None, costs: dict[str, Path] | None = None,
                    extract: Path | None = None) -> Path:
    """Write every quarter's published tables as CSV + JSON-stat and the data package
    (and ``costs``: cost year → its published folder, the Sote-tietopaketit tables;
    ``extract``: the extract-wide published folder, ``OUT/register/published``, whose
    tables, the row ledger, are of the whole extract: ``<table>.csv``, CSV only).

    ``notice``: the synthetic-data notice of the run's parameters (required when
    ``synthetic``).

    ``published_dirs``: quarter → its published folder. ``released``: ISO date of the
    release. Returns the path of ``datapackage.json``.
    """
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    if synthetic:
        notice = _required_notice(notice)
    described: dict[tuple[str, str], list[str]] = {}   # (table, task) → its measures
    meta = {"release_id": release_id, "released": released, "synthetic": synthetic,
            "notice": notice}
    resources = _quarter_resources(published_dirs, target, meta, described)
    for name in pub.table_names(extract) if extract is not None else []:
        resources.append(_extract_resource(Path(extract), name, target, release_id))
    for year, pdir in sorted((costs or {}).items()):
        resources += _write_costs(Path(pdir), target, str(year), release_id, released,
                                  synthetic, notice, described)
    if revisions is not None:   # "Tarkentuneet luvut": changes since the previous release
        resources += _revision_resources(revisions, target, meta)
    resources.append(_indicator_list(described, target))
    package = _package(resources, meta)
    p = target / "datapackage.json"
    p.write_text(json.dumps(package, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")
    return p


def _quarter_resources(published_dirs: dict[str, Path], target: Path, meta: dict,
                       described: dict[tuple[str, str], list[str]]) -> list[dict]:
    """Every quarter's published tables as CSV (and JSON-stat for tables with figures)
    into ``target``; returns their data-package resources and records each table × task's
    measures in ``described``. ``meta``: release_id, released, synthetic, notice."""
    resources = []
    for quarter in sorted(published_dirs):
        pdir = Path(published_dirs[quarter])
        for name in pub.table_names(pdir):
            df = pub.read(pdir, name)
            if df.empty:
                continue
            base = f"{name}_{quarter}"
            text, ids = _write_table_csv(pdir, name, meta["release_id"], target / f"{base}.csv")
            dims = dimensions(df)
            figs = figures(df, dims)
            for task in (text["service_task"].unique() if "service_task" in text else [""]):
                described.setdefault((name, task), figs)
            title = f"{TABLE_TITLE_FI.get(name, name)}, {Quarter.parse(quarter).name_fi}"
            resources.append({"name": base.lower(), "path": f"{base}.csv", "title": title,
                              "format": "csv", "mediatype": "text/csv", "encoding": "utf-8",
                              "dialect": {"delimiter": ",", "header": True},
                              "schema": _schema(text, dims)})
            if not figs:     # text only (e.g. quality classes): CSV only
                continue
            js = to_jsonstat(df, name, quarter, meta["release_id"], meta["released"],
                             meta["synthetic"], notice=meta["notice"], indicator_ids=ids)
            (target / f"{base}.json").write_text(json.dumps(js, ensure_ascii=False, sort_keys=True),
                                                 encoding="utf-8")
            resources.append({"name": f"{base.lower()}-jsonstat", "path": f"{base}.json",
                              "title": f"{title} (JSON-stat 2.0)", "format": "json",
                              "mediatype": "application/json", "encoding": "utf-8"})
    return resources


def _extract_resource(extract: Path, name: str, target: Path, release_id: str) -> dict:
    """An extract-wide published table (the row ledger) as CSV only; its resource."""
    text, _ = _write_table_csv(extract, name, release_id, target / f"{name}.csv")
    return {"name": name.lower(), "path": f"{name}.csv",
            "title": f"{TABLE_TITLE_FI.get(name, name)}, koko poiminta",
            "format": "csv", "mediatype": "text/csv", "encoding": "utf-8",
            "dialect": {"delimiter": ",", "header": True},
            "schema": _schema(text, dimensions(pub.read(extract, name)))}


def _revision_resources(revisions: pd.DataFrame, target: Path, meta: dict) -> list[dict]:
    """"Tarkentuneet luvut" (the figures that changed since the previous release) as CSV,
    and as JSON-stat when any changed; their resources."""
    release_id = meta["release_id"]
    base = f"tarkentuneet_luvut_{release_id}"
    write_csv(revisions, target / f"{base}.csv")
    text = pd.read_csv(target / f"{base}.csv", dtype=str, keep_default_na=False)
    rev_ids = [indicators.indicator_id(t, s)   # the id of the figure that changed
               for t, s in zip(text["table"], text["service_task"])]
    text = whole_country_coded(text)
    text.insert(list(text.columns).index("release_id") + 1, "indicator_id", rev_ids)
    write_csv(text, target / f"{base}.csv")
    title = "Tarkentuneet luvut: aiemmin julkaistut luvut, jotka muuttuivat tässä julkaisussa"
    schema = _schema(text, [])
    del schema["primaryKey"]
    resources = [{"name": base.lower().replace(".", "-"), "path": f"{base}.csv",
                  "title": title, "format": "csv", "mediatype": "text/csv",
                  "encoding": "utf-8", "dialect": {"delimiter": ",", "header": True},
                  "schema": schema}]
    if len(revisions):
        frame, label = revisions_frame(revisions)
        js = to_jsonstat(frame, "tarkentuneet_luvut", max(frame["quarter"]), release_id,
                         meta["released"], meta["synthetic"], labels={"muutos": label},
                         notice=meta["notice"], indicator_ids=pd.Series(rev_ids))
        js["label"] = title
        (target / f"{base}.json").write_text(json.dumps(js, ensure_ascii=False, sort_keys=True),
                                             encoding="utf-8")
        resources.append({"name": f"{base.lower().replace('.', '-')}-jsonstat",
                          "path": f"{base}.json", "title": f"{title} (JSON-stat 2.0)",
                          "format": "json", "mediatype": "application/json",
                          "encoding": "utf-8"})
    return resources


def _package(resources: list[dict], meta: dict) -> dict:
    """The data package's descriptor (datapackage.json) over ``resources``."""
    release_id, released = meta["release_id"], meta["released"]
    return {
        "name": f"seuranta-{release_id}".lower().replace("_", "-"),
        "title": "Sosiaalihuollon asiakkaat: avoin data",
        "description": ("Sosiaalihuollon seurantarekisterin julkaistut taulukot (tietosuoja "
                        "huomioitu): CSV ja JSON-stat 2.0. Symbolit: "
                        + "; ".join(f"{s} = {fi}" for s, (fi, _) in symbols.SYMBOLS.items())
                        + (" " + meta["notice"] if meta["synthetic"] else "")),
        "version": release_id,
        "created": released if "T" in released else f"{released}T00:00:00Z",
        "sources": [{"title": CREDIT_FI}],
        "licenses": [LICENSE],
        "keywords": ["sosiaalihuolto", "palvelutehtävä", "THL"],
        "resources": resources,
    }
