"""Excel annexes of a quarter (Liite): municipal shares per service task, national estimates.

``write_annexes`` reads a quarter's *published* tables (``build/<Q>/published/*.csv``, the
output of the disclosure gate :mod:`seuranta.publication.gate`) and writes
``annex/liite_<Q>.xlsx`` in the layout of THL's "Liite VA1": one sheet per
estimated service task with county, municipality, municipality code, the quality class of
every quarter, the share (%) of the population base for every quarter from the first
up to this one, and the source (SHA / ET / SHA+ET); a sheet of national estimates as the
publication rule allows them (the published method only: a point estimate with its 95 %
interval, or a range, or no estimate with the reason); and a first sheet
"Tietoja" with the source, date, symbols, disclosure rule, methods link and, for demo
data, the synthetic-data notice (also written to the workbook's title and description).

The workbook is written by the one accessible Excel writer (:mod:`seuranta.core.excel`):
one header row, Excel tables, values never formulas, numbers numeric with number formats.
Cells that cannot show a number carry a symbol of :mod:`seuranta.core.symbols`, explained on
the "Tietoja" sheet.

Disclosure control, the publication rule and the precision are the gate's: the annex
shows what ``published/*.csv`` show (a share whose count is suppressed is ``..``, an
estimate the rule withholds is ``.``), and computes nothing from the exact tables.
Internal tables under ``build/`` stay exact.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pandas as pd

from seuranta.core import excel, reference, symbols
from seuranta.core.errors import InputError
from seuranta.core.labels_fi import AGE_GROUP_FI, CREDIT_FI, ESTIMATION_METHOD_FI, PUBLISH_AS_FI, QUALITY_FI
from seuranta.core.params import as_params, section_of
from seuranta.core.quarters import Quarter, today
from seuranta.core.tables import itertuples
from seuranta.publication import published as pub_tables
from seuranta.publication.bookfmt import rule_reason_fi
from seuranta.publication.published import published_dir_of

NO_DATA = symbols.NOT_AVAILABLE         # no data, or not comprehensive (quality column says which)
PARTIAL = symbols.NOT_AVAILABLE
SUPPRESSED = symbols.SUPPRESSED
NOT_APPLICABLE = symbols.NOT_APPLICABLE  # e.g. a population base of zero

#: Names of the rows of estimates.csv that are not one of the seven service tasks.
EXTRA_TASK_FI = {"lastensuojelulaki": ("Lastensuojelulain mukainen asiakkuus",
                                       "alle 18-vuotiaat"),
                 "kaikki": ("Kaikki palvelutehtävät", "koko väestö")}
#: Short sheet names for task names longer than Excel's 31 characters.
SHORT_SHEET_NAMES = {"paihdetyo": "Päihde- ja riippuvuustyö"}

#: The methods page under the book's public URL (``params['publication']['book_url']``).
METHODS_PAGE = "book/menetelmat.html"

NOTES_SHEET = "Tietoja"
ESTIMATES_SHEET = "Arviot koko maa"
COUNTY_SHEET = "Hyvinvointialueet VA1"
AGE_SHEET = "Ikäryhmät"
MULTI_SHEET = "Usean palvelutehtävän asiakkaat"
YEAR_SHEET = "Koko vuosi"
HEADER_SOURCE = "Lähdeaineisto (uusin neljännes)"
#: The figures of a published estimate under the publication rule (column, header).
RULE_COLUMNS = [
    ("estimate_rounded", "Arvioitu asiakasmäärä"),
    ("share_pct", "Osuus väestöpohjasta, %"),
    ("ci_low", "95 %:n luottamusväli, alaraja"),
    ("ci_high", "95 %:n luottamusväli, yläraja"),
    ("range_low", "Vaihteluväli, alaraja"),
    ("range_high", "Vaihteluväli, yläraja"),
    ("range_low_pct", "Vaihteluväli, osuus väestöpohjasta alaraja, %"),
    ("range_high_pct", "Vaihteluväli, osuus väestöpohjasta yläraja, %"),
]
ESTIMATE_HEADER = (
    ["Neljännes", "Palvelutehtävä", "Väestöpohja", "Menetelmä", "Julkaisutapa"]
    + [h for _, h in RULE_COLUMNS]
    + ["Peruste", "Arviossa käytetyt kunnat", "Asiakkaat arviossa käytetyissä kunnissa"])
#: Share columns (number format with one decimal).
SHARE_HEADERS = [h for c, h in RULE_COLUMNS if c.endswith("_pct")]


# --------------------------------------------------------------------------- helpers

def round_half_up(x: float, decimals: int = 0) -> float | int:
    """Round as a person does (0.25 → 0.3), returned as a plain float (int at 0 decimals)."""
    d = Decimal(repr(float(x))).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    return int(d) if decimals == 0 else float(d)


def round_to(x: float, step: int) -> int:
    """Round to the nearest ``step`` (half up): 134 351 → 134 400 with step 100."""
    d = (Decimal(repr(float(x))) / step).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return int(d) * step


def quarter_header(q: Quarter) -> str:
    """Column header of a quarter's share: ``Tammi–maaliskuu 2023, %``."""
    name = q.name_fi
    return f"{name[0].upper()}{name[1:]}, %"


def quality_header(q: Quarter) -> str:
    """Column header of a quarter's quality class: ``Laatu tammi–maaliskuu 2023``."""
    return f"Tietojen laatu {q.name_fi}"


_FI_ORDER = str.maketrans({"å": "{", "ä": "|", "ö": "}", "Å": "{", "Ä": "|", "Ö": "}",
                           "é": "e", "É": "e", "ü": "y", "Ü": "y"})


def fi_sort_key(text: str) -> str:
    """Finnish alphabetical order (… z, å, ä, ö), case-insensitive."""
    return str(text).lower().translate(_FI_ORDER)


def sheet_name(task: str, name_fi: str) -> str:
    """Excel sheet name of a task: its Finnish name, at most 31 characters, no []:*?/\\."""
    name = SHORT_SHEET_NAMES.get(task, name_fi)
    name = re.sub(r"[\[\]:*?/\\]", " ", name).strip()
    return name[:31]


def _rounding(params: dict) -> int:
    value = params["estimate"]["rounding"]
    try:
        value = int(value)
    except (TypeError, ValueError):
        value = 0
    if value < 1:
        raise InputError("parameters: estimate.rounding must be a positive integer")
    return value


def _min_count(params: dict) -> int:
    value = section_of(params, "disclosure")["min_count"]
    try:
        value = int(value)
    except (TypeError, ValueError):
        raise InputError(f"parameters: disclosure.min_count is not an integer: {value!r}") \
            from None
    if value < 1:
        raise InputError(f"parameters: disclosure.min_count must be at least 1, not {value}")
    return value


# --------------------------------------------------------------------------- content

def task_sheet_frame(task: str, quarter: Quarter, quarters: list[Quarter],
                     municipal: pd.DataFrame, municipalities: pd.DataFrame) -> pd.DataFrame:
    """One task's sheet as a DataFrame whose cells are what the annex shows.

    ``municipal``: the gate's published ``municipal.csv`` (quarter, municipality_code,
    service_task, quality, sources, population_base, clients and its symbol).
    """
    mun = municipalities[["county_code", "county_name_fi", "name_fi",
                          "municipality_code"]].copy()
    key = ["quarter", "municipality_code"]
    cells = (pd.MultiIndex.from_product([[str(q) for q in quarters], mun["municipality_code"]],
                                        names=key).to_frame(index=False))
    pm = municipal[municipal["service_task"] == task]
    cells = cells.merge(pm[key + ["quality", "sources", "population_base", "clients",
                                  "clients_symbol", "share_pct", "share_pct_symbol"]],
                        on=key, how="left", validate="one_to_one")
    missing_q = cells["quality"].isna() & (cells["quarter"] == str(quarter))
    if missing_q.any():
        m = cells.loc[missing_q, "municipality_code"].iloc[0]
        raise InputError(f"annex: quality.csv has no row for {quarter} {task} municipality {m}")

    def cell(qual, clients_symbol, share_symbol, share):
        if pd.isna(qual) or qual == "none":
            return NO_DATA
        if qual == "partial":
            return PARTIAL
        sym = clients_symbol or share_symbol
        if sym:
            return sym
        return float(share)   # as the gate rounded it (one decimal)

    # row by row over each column's values (not ``.at`` per cell: 1 500 rows per task)
    cells["cell"] = list(map(cell, *(cells[c].tolist() for c in (
        "quality", "clients_symbol", "share_pct_symbol", "share_pct"))))
    cells["quality_fi"] = cells["quality"].map(QUALITY_FI).fillna(QUALITY_FI["none"])
    wide = cells.pivot(index="municipality_code", columns="quarter", values="cell")
    wide_q = cells.pivot(index="municipality_code", columns="quarter", values="quality_fi")
    now = cells[cells["quarter"] == str(quarter)].set_index("municipality_code")
    out = pd.DataFrame({
        "Hyvinvointialue": mun["county_name_fi"].to_numpy(),
        "Kunta": mun["name_fi"].to_numpy(),
        "Kuntakoodi": mun["municipality_code"].to_numpy(),
    })
    codes = mun["municipality_code"]
    for q in quarters:
        out[quarter_header(q)] = codes.map(wide[str(q)]).to_numpy(dtype=object)
    for q in quarters:
        out[quality_header(q)] = codes.map(wide_q[str(q)]).to_numpy(dtype=object)
    src = now["sources"].fillna("").astype(str).str.strip().replace("", "ei tietoja")
    out[HEADER_SOURCE] = codes.map(src).to_numpy()
    county_codes = mun["county_code"].to_numpy()
    names, mcodes = out["Kunta"].tolist(), out["Kuntakoodi"].tolist()
    order = sorted(range(len(out)), key=lambda i: (county_codes[i], fi_sort_key(names[i]),
                                                   mcodes[i]))
    return out.iloc[order].reset_index(drop=True)


def rule_cells(r) -> list:
    """The figures of a published estimate row (:data:`RULE_COLUMNS`): the value, or the
    symbol the gate gave it."""
    out = []
    for col, _ in RULE_COLUMNS:
        sym = str(getattr(r, f"{col}_symbol", "") or "")
        v = getattr(r, col, None)
        if sym:
            out.append(sym)
        elif v is None or pd.isna(v):
            out.append(NO_DATA)
        else:
            out.append(float(v) if col.endswith("_pct") else int(v))
    return out


def estimates_frame(estimates: pd.DataFrame, tasks: pd.DataFrame) -> pd.DataFrame:
    """The national estimates sheet: every quarter, task (and age group) of the published
    method, as the gate's published ``estimates.csv`` shows them under the publication
    rule (a figure with a symbol shows it)."""
    names = dict(zip(tasks["service_task"], tasks["name_fi"]))
    bases = dict(zip(tasks["service_task"], tasks["base_fi"]))
    order = {t: i for i, t in enumerate(list(tasks["service_task"]) + list(EXTRA_TASK_FI))}
    e = estimates.copy()
    if "age_group" not in e.columns:
        e["age_group"] = "kaikki"
    e["age_group"] = e["age_group"].fillna("kaikki")
    unknown = sorted(set(e["service_task"]) - set(order))
    if unknown:
        raise InputError(f"annex: estimates.csv has unknown service tasks: {unknown}")
    e["_t"] = e["service_task"].map(order)
    e = e.sort_values(["quarter", "_t", "age_group"], kind="mergesort")
    rows = []
    for r in itertuples(e, index=False):
        task, age = r.service_task, r.age_group
        if task in EXTRA_TASK_FI:
            name, base = EXTRA_TASK_FI[task]
        else:
            name, base = names[task], bases[task]
        if age != "kaikki":
            base = AGE_GROUP_FI.get(age, age)
            name = f"{name}, {base}"
        kind = str(r.publish_as)
        rows.append([
            quarter_header(Quarter.parse(r.quarter))[:-3],
            name, base, ESTIMATION_METHOD_FI.get(r.method, r.method), PUBLISH_AS_FI.get(kind, kind),
            *rule_cells(r),
            rule_reason_fi(r.rule_reason) if kind != "point" else "",
            NO_DATA if pd.isna(r.municipalities_used) else int(r.municipalities_used),
            r.clients_used_symbol or (NO_DATA if pd.isna(r.clients_used) else int(r.clients_used)),
        ])
    return pd.DataFrame(rows, columns=ESTIMATE_HEADER)


def notes_frame(quarter: Quarter, quarters: list[Quarter], sheets: list[tuple[str, str]],
                synthetic: bool, notice: str, date: dt.date, min_count: int,
                methods_link: str, rounding: int = 100, source: str = "THL"
                ) -> list[tuple[str, str]]:
    """The notes sheet's rows (Kohta, Tieto) after the title; the writer adds one row per
    sheet and per symbol used."""
    rows = []
    if synthetic:
        rows.append(("Synteettinen aineisto", notice))
    rows += [
        ("Lähde", f"Lähde: {CREDIT_FI}."),
        ("Tekijä", source),
        ("Julkaisupäivä", date.strftime("%-d.%-m.%Y")),
        ("Tilastointijakso", f"{quarters[0].name_fi} – {quarter.name_fi}"),
        ("Menetelmäkuvaus", methods_link),
    ]
    rows += [
        ("Tietojen arvioitu laatu",
         "Kattavat: lähde kattaa koko neljänneksen ja tarkistukset menivät läpi; "
         "Osittaiset: tiedot kattavat vain osan neljänneksestä tai asiakkaita on selvästi "
         "vähemmän kuin vertailukunnissa; Ei tietoja: kunnasta ei ole tietoja. Laatu on "
         "omassa sarakkeessaan jokaiselta neljännekseltä; osuudet julkaistaan vain "
         "kattavilta neljänneksiltä."),
        ("Lähdeaineisto",
         "SHA: Kanta-palveluiden sosiaalihuollon asiakastiedon arkisto; ET: erillistoimitus; "
         f"SHA+ET: molemmat ({quarter.name_fi})."),
        ("Osuus", "Palvelutehtävän asiakkaiden osuus (%) väestöpohjasta (edellisen vuoden "
                  "31.12. väestö), pyöristetty yhteen desimaaliin."),
        ("Arviot", "Koko maan arviot julkaistavalla menetelmällä (vain sillä). Pistearvio on "
                   f"pyöristetty {rounding} asiakkaan tarkkuuteen ja sen 95 %:n luottamusväli "
                   "ulospäin. Kun tiedot eivät riitä pistearvioon, julkaistaan vain "
                   "vaihteluväli (ja sen osuus väestöpohjasta), ja pistearvion, luottamusvälin "
                   f"ja osuuden paikalla on {symbols.NOT_AVAILABLE}; kun tiedot eivät riitä "
                   f"vaihteluväliinkään, kaikkien lukujen paikalla on {symbols.NOT_AVAILABLE} "
                   "ja peruste on sarakkeessa Peruste."),
        ("Tietosuoja",
         f"Osuutta ei julkaista, jos sen asiakasmäärä on 1–{min_count - 1}. Lisäksi "
         "salataan tarvittaessa muita lukuja, jottei salattua lukua voi päätellä "
         "julkaistuista summista (kattavien kuntien asiakkaat yhteensä, "
         "hyvinvointialueiden summat) eikä aiemmin julkaistuista luvuista; jos tämä ei "
         "riitä, salataan summa. Sama salaus on kaikissa julkaisun osissa. Arviot ja "
         f"luottamusvälit on pyöristetty {rounding} asiakkaan tarkkuuteen."),
    ]
    return rows


# --------------------------------------------------------------------------- writing

#: Number formats of the annex's columns (shares with one decimal, as published).
SHARE_FORMAT = "0.0"


def publication_date(params: dict) -> dt.date:
    """Date printed in the annex: parameters' publication.date, else SOURCE_DATE_EPOCH,
    else today."""
    value = (params.get("publication") or {}).get("date")
    if value:
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            raise InputError(f"parameters: publication.date is not a date: {value!r}") from None
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return dt.datetime.fromtimestamp(int(epoch), dt.UTC).date()
    return today()


# --------------------------------------------------------------------------- further sheets

def county_frame(totals: pd.DataFrame | None, tasks: pd.DataFrame, quarter: Quarter
                 ) -> pd.DataFrame | None:
    """THL's Taulukko VA1 of the quarter, from the gate's ``totals.csv``: per estimated task
    (and the child-welfare-act clients) the clients of the municipalities the estimate used,
    for the whole country and per county, and whether every municipality of the county was
    among them (else "Osin")."""
    if totals is None:
        return None
    t = totals[(totals["quarter"] == str(quarter))
               & totals["kind"].isin(["used", "county_used"])].copy()
    if t.empty:
        return None
    cnames = dict(zip(reference.counties()["county_code"], reference.counties()["county_name_fi"]))
    names = dict(zip(tasks["service_task"], tasks["name_fi"]))
    names.update({k: v[0] for k, v in EXTRA_TASK_FI.items()})
    order = {k: i for i, k in enumerate(list(tasks["service_task"]) + list(EXTRA_TASK_FI))}
    t["county_code"] = t["county_code"].fillna("").astype(str)
    t["_t"] = t["service_task"].map(order)
    t["_c"] = t["county_code"].replace("", "00")
    t = t.sort_values(["_t", "_c"], kind="mergesort")

    def cell(v, sym):
        return sym if sym else int(v)
    return pd.DataFrame({
        "Neljännes": quarter_header(quarter)[:-3],
        "Palvelutehtävä": t["service_task"].map(names).to_numpy(),
        "Aluekoodi": t["county_code"].replace("", "koko maa").to_numpy(),
        "Alue": [("Kattavat kunnat yhteensä (koko maa)" if c == "" else cnames.get(c, c))
                 for c in t["county_code"]],
        "Kaikki alueen kunnat mukana": ["" if c == "" else ("Kyllä" if int(w) == 1 else "Osin")
                                        for c, w in zip(t["county_code"],
                                                        t["whole_county"].fillna(0))],
        "Kattavia kuntia": t["municipalities"].astype(int).to_numpy(),
        "Asiakkaat kattavissa kunnissa": [cell(v, s) for v, s in zip(t["clients"],
                                                                      t["clients_symbol"])],
    })


def age_frame(estimates: pd.DataFrame) -> pd.DataFrame:
    """National estimates of distinct clients (all tasks) by age group and quarter, from
    the gate's published ``estimates.csv``, under the publication rule."""
    e = estimates[estimates["service_task"] == "kaikki"].copy()
    e["age_group"] = e["age_group"].fillna("kaikki")
    order = {"kaikki": 0, "0-17": 1, "18-64": 2, "65+": 3, "85+": 4}
    e = e.assign(_a=e["age_group"].map(order)).sort_values(["quarter", "_a"])
    rows = []
    for r in itertuples(e, index=False):
        kind = str(r.publish_as)
        rows.append([quarter_header(Quarter.parse(r.quarter))[:-3],
                     "koko väestö" if r.age_group == "kaikki"
                     else AGE_GROUP_FI.get(r.age_group, r.age_group),
                     PUBLISH_AS_FI.get(kind, kind), *rule_cells(r),
                     rule_reason_fi(r.rule_reason) if kind != "point" else "",
                     NO_DATA if pd.isna(r.municipalities_used) else int(r.municipalities_used)])
    return pd.DataFrame(rows, columns=["Neljännes", "Ikäryhmä", "Julkaisutapa"]
                        + [h.replace("väestöpohjasta", "ikäryhmästä") for _, h in RULE_COLUMNS]
                        + ["Peruste", "Arviossa käytetyt kunnat"])


def multi_frame(tpc: pd.DataFrame | None, totals: pd.DataFrame | None,
                quarter: Quarter) -> pd.DataFrame | None:
    """Clients by the number of service tasks they had in the quarter (whole country), and
    per county the clients and those of two or more tasks (gate's ``tasks_per_client`` and
    ``totals`` kinds ``tpc_total``/``tpc_multi``)."""
    if tpc is None or tpc.empty:
        return None
    cnames = dict(zip(reference.counties()["county_code"], reference.counties()["county_name_fi"]))
    rows = []
    t = tpc[tpc["county_code"].fillna("").astype(str) == ""].copy()
    for r in itertuples(t.sort_values("n_tasks", key=lambda s: s.astype(int))):
        rows.append(["koko maa", "Koko maa", f"{int(r.n_tasks)} palvelutehtävää",
                     r.clients_symbol or int(r.clients)])
    if totals is not None:
        tt = totals[(totals["quarter"] == str(quarter))
                    & totals["kind"].isin(["tpc_total", "tpc_multi"])].copy()
        tt["county_code"] = tt["county_code"].fillna("").astype(str)
        for r in itertuples(tt.sort_values(["county_code", "kind"], key=lambda s: s.replace(
                {"": "99"}) if s.name == "county_code" else s, kind="mergesort")):
            code = r.county_code or "koko maa"
            label = ("kaikki asiakkaat" if r.kind == "tpc_total"
                     else "vähintään 2 palvelutehtävää")
            rows.append([code, cnames.get(r.county_code, "Koko maa"), label,
                         r.clients_symbol or int(r.clients)])
    return pd.DataFrame(rows, columns=["Aluekoodi", "Alue", "Palvelutehtäviä samalla asiakkaalla",
                                       "Asiakkaat"])


def year_sheet_frame(year: pd.DataFrame | None) -> pd.DataFrame | None:
    """Whole-year distinct clients per task and over all tasks, from the gate's published
    ``year`` table (a figure with a symbol shows the symbol)."""
    if year is None or year.empty:
        return None
    names = dict(zip(reference.service_tasks()["service_task"],
                     reference.service_tasks()["name_fi"]))

    def cell(v, sym, decimals=None):
        if sym:
            return sym
        if pd.isna(v):
            return NO_DATA
        return round_half_up(v, decimals) if decimals is not None else int(v)
    return pd.DataFrame({
        "Vuosi": year["year"].astype(int).to_numpy(),
        "Palvelutehtävä": year["service_task"].map(names).fillna(
            "Kaikki palvelutehtävät").to_numpy(),
        "Rekisteriin kirjatut eri asiakkaat": [cell(v, s) for v, s in
                                               zip(year["clients"], year["clients_symbol"])],
        "Koko vuoden kattavat kunnat": year["municipalities_full_year"].astype(int).to_numpy(),
        "Asiakkaat koko vuoden kattavissa kunnissa": [
            cell(v, s) for v, s in zip(year["clients_full_year"],
                                       year["clients_full_year_symbol"])],
        "Väestöpohja koko vuoden kattavissa kunnissa": year["base_full_year"].astype(int).to_numpy(),
        "Osuus väestöpohjasta niissä, %": [
            cell(v, s, 1) for v, s in zip(year["share_full_year_pct"],
                                          year["share_full_year_pct_symbol"])],
    })


def methods_link(params: dict) -> str:
    """The methods page under the book's public URL (``publication.book_url``)."""
    base = str(section_of(params, "publication")["book_url"]).strip()
    return base.rstrip("/") + "/" + METHODS_PAGE


def write_annexes(quarter: Quarter, tables_dir: Path, annex_dir: Path, synthetic: bool,
                  params: dict) -> list[Path]:
    """Write the quarter's Excel annex into ``annex_dir``; returns the files written."""
    quarter = quarter if isinstance(quarter, Quarter) else Quarter.parse(str(quarter))
    tables_dir, annex_dir = Path(tables_dir), Path(annex_dir)
    params = as_params(params)
    pub = params["publication"]
    min_count = _min_count(params)
    rounding = _rounding(params)
    first = Quarter.parse(str(pub["first_quarter"]))
    if first > quarter:
        first = quarter
    quarters = [first]
    while quarters[-1] < quarter:
        quarters.append(quarters[-1].next())

    pdir = published_dir_of(tables_dir)   # the gate's published tables, nothing else
    if not (pdir / "municipal.csv").is_file():
        raise InputError(f"annex: published table missing: {pdir / 'municipal.csv'} "
                         "(the disclosure gate has not run)")
    published = {n: pub_tables.read(pdir, n) for n in ("municipal", "estimates")}
    published.update({n: pub_tables.read(pdir, n, False) for n in (
        "totals", "tasks_per_client", "year")})
    municipal, estimates = published["municipal"], published["estimates"]
    tasks = reference.service_tasks()
    mun = reference.mainland_municipalities()

    sheets: list[excel.Sheet] = []
    share_cols = {quarter_header(q): SHARE_FORMAT for q in quarters}
    for t in itertuples(tasks[tasks["estimated"] == 1]):
        df = task_sheet_frame(t.service_task, quarter, quarters, municipal, mun)
        sheets.append(excel.Sheet(
            sheet_name(t.service_task, t.name_fi),
            f"{t.name_fi}: asiakkaiden osuus väestöpohjasta ({t.base_fi}) kunnittain ja "
            "neljänneksittäin, %, ja kunnan tietojen laatu", df, formats=share_cols))
    cwa_task = municipal[municipal["service_task"] == "lastensuojelulaki"]
    if len(cwa_task):
        df = task_sheet_frame("lastensuojelulaki", quarter, quarters, municipal, mun)
        sheets.append(excel.Sheet(
            "Lastensuojelulaki", "Lastensuojelulain mukaiset asiakkaat: osuus alle "
            "18-vuotiaista kunnittain ja neljänneksittäin, %, ja kunnan tietojen laatu "
            "(lastensuojelun palvelutehtävän laatuluokka)", df, formats=share_cols))
    for t in itertuples(tasks[tasks["estimated"] == 0]):
        if not (municipal["service_task"] == t.service_task).any():
            continue
        df = task_sheet_frame(t.service_task, quarter, quarters, municipal, mun)
        sheets.append(excel.Sheet(
            sheet_name(t.service_task, t.name_fi),
            f"{t.name_fi}: asiakkaiden osuus väestöpohjasta ({t.base_fi}) kunnittain ja "
            "neljänneksittäin, %; palvelutehtävästä ei laadita koko maan arviota", df,
            formats=share_cols))
    totals = published.get("totals")
    va1 = county_frame(totals, tasks, quarter)
    if va1 is not None:
        sheets.append(excel.Sheet(
            COUNTY_SHEET, f"Taulukko VA1 {quarter.name_fi}: arviossa käytettyjen (kattavien) "
            "kuntien asiakkaat koko maassa ja hyvinvointialueittain palvelutehtävittäin", va1))
    ages = age_frame(estimates)
    if len(ages):
        sheets.append(excel.Sheet(
            AGE_SHEET, "Sosiaalihuollon eri asiakkaat (kaikki arvioitavat palvelutehtävät) "
            "ikäryhmittäin, koko maan arviot neljänneksittäin julkaisusäännön mukaan", ages,
            formats={c: SHARE_FORMAT for c in ages.columns if c.endswith("%")}))
    multi = multi_frame(published.get("tasks_per_client"), totals, quarter)
    if multi is not None:
        sheets.append(excel.Sheet(
            MULTI_SHEET, f"Usean palvelutehtävän asiakkaat {quarter.name_fi}: rekisteriin "
            "kirjatut asiakkaat palvelutehtävien lukumäärän mukaan", multi))
    year = year_sheet_frame(published.get("year"))
    if year is not None:
        sheets.append(excel.Sheet(
            YEAR_SHEET, "Koko vuoden eri asiakkaat palvelutehtävittäin: henkilö lasketaan "
            "kerran, vaikka hän olisi asiakkaana usealla neljänneksellä", year,
            formats={"Osuus väestöpohjasta niissä, %": SHARE_FORMAT}))
    est = estimates_frame(estimates, tasks)
    method = ESTIMATION_METHOD_FI.get(str(params["estimate"]["published_method"]))
    sheets.append(excel.Sheet(
        ESTIMATES_SHEET, f"Arviot asiakasmääristä koko maassa ({method}) julkaisusäännön "
        "mukaan: pistearvio ja 95 %:n luottamusväli, vaihteluväli tai ei arviota", est,
        formats={"Osuus väestöpohjasta, %": SHARE_FORMAT,
                 **{h: SHARE_FORMAT for h in SHARE_HEADERS}}))
    notice = pub["synthetic_notice"]
    date = publication_date(params)
    link = methods_link(params)
    author = str(pub["author"])
    notes = notes_frame(quarter, quarters, [], synthetic, notice, date, min_count, link,
                        rounding, author)
    title = f"Sosiaalihuollon asiakkaat, {quarter.name_fi}: liitetaulukot"
    annex_dir.mkdir(parents=True, exist_ok=True)
    path = annex_dir / f"liite_{quarter}.xlsx"
    excel.write_workbook(
        path, sheets, title=title + (" (synteettinen aineisto)" if synthetic else ""),
        notes=notes, date=date, creator=author,
        subject="Sosiaalihuollon palvelutehtävien asiakkaat",
        description=(notice + " " if synthetic else "") + f"Lähde: {CREDIT_FI}.",
        links={"Menetelmäkuvaus": link})
    return [path]
