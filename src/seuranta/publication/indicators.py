"""Stable indicator identifiers of the open data, with their metadata (as Sotkanet gives
each indicator a number that does not change between releases).

An *indicator* is one published table's figures for one service task: "Iäkkäiden palvelut:
asiakkaat ja osuus väestöpohjasta kunnittain" is ``SSR0101`` in every release, whatever
quarters, municipalities or rows a release has. Within an indicator the other keys (area,
quarter, age group, kind of total) are dimensions and the figures (clients, share,
estimate, interval, …) its measures, with the unit and decimals of
:data:`seuranta.publication.opendata.METRIC_FI`.

The identifier is ``SSR`` + the table's number (:data:`TABLES`) + the task's number
(:data:`TASK_NUMBER`), both declared here and nowhere else: never derived from the data
of a run, so two builds (and two releases) give the same id to the same indicator, and a
new task or table takes a new number without renumbering the others. A table or task not
declared here is refused (:class:`KeyError` naming it), so no open-data file goes out
without its id.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from seuranta.core.labels_en import TASK_EN
from seuranta.core.labels_fi import CREDIT_FI
from seuranta.core.labels_sv import TASK_SV
from seuranta.publication.bookfmt import task_name

PREFIX = "SSR"

#: The number of each service task in the ids (0: all tasks together, or a table that has
#: no task). Never renumber: append.
TASK_NUMBER = {"": 0, "kaikki": 0, "iakkaat": 1, "tyoikaiset": 2, "lapsiperheet": 3,
               "lastensuojelu": 4, "vammaispalvelut": 5, "paihdetyo": 6,
               "perheoikeudelliset": 7, "lastensuojelulaki": 8}

_ALL = {"fi": "Kaikki palvelutehtävät", "sv": "Alla serviceuppgifter", "en": "All service tasks"}


@dataclass(frozen=True)
class Table:
    """An indicator family: one published table. Titles have ``{task}`` for the task's
    name in the language (tables without tasks have none)."""
    number: int
    title_fi: str
    title_sv: str
    title_en: str
    definition_fi: str


#: Every published table of the open data with its number. Never renumber: append.
TABLES = {
    "municipal": Table(
        1, "{task}: asiakkaat ja osuus väestöpohjasta kunnittain",
        "{task}: klienter och andel av befolkningsunderlaget per kommun",
        "{task}: clients and share of the population base by municipality",
        "Kunnan asukkaat, jotka olivat palvelutehtävän asiakkaina vuosineljänneksen aikana, "
        "ja heidän osuutensa palvelutehtävän väestöpohjasta; luku näytetään vain kunnista, "
        "joiden tiedot arvioitiin kattaviksi."),
    "county_estimates": Table(
        2, "{task}: arvio asiakasmäärästä ja osuudesta hyvinvointialueittain",
        "{task}: skattat antal klienter och andel per välfärdsområde",
        "{task}: estimated clients and share by wellbeing services county",
        "Hyvinvointialueen asiakasmäärän mallipohjainen arvio (kattavien kuntien havaitut "
        "asiakkaat ja muiden kuntien ennuste), sen 95 %:n luottamusväli tai vaihteluväli ja "
        "osuus väestöpohjasta julkaisusäännön mukaan."),
    "estimates": Table(
        3, "{task}: koko maan arvio asiakasmäärästä ja osuudesta",
        "{task}: skattat antal klienter och andel i hela landet",
        "{task}: estimated clients and share, whole country",
        "Koko maan asiakasmäärän arvio kattavien kuntien tiedoista, sen 95 %:n "
        "luottamusväli tai vaihteluväli ja osuus väestöpohjasta julkaisusäännön mukaan, "
        "ikäryhmittäin."),
    "totals": Table(
        4, "{task}: rekisteriin kirjattujen asiakkaiden summat",
        "{task}: summor av registrerade klienter",
        "{task}: totals of registered clients",
        "Kuntien asiakasmäärien julkaistut summat (arviossa käytetyt kunnat, kaikki kunnat, "
        "hyvinvointialueittain ja koko maa) lajeittain."),
    "extremes": Table(
        5, "{task}: kuntien osuuksien kvartiilit ja ääriarvot",
        "{task}: kvartiler och extremvärden för kommunernas andelar",
        "{task}: quartiles and extremes of the municipal shares",
        "Kattavien kuntien osuuksien alakvartiili, mediaani, yläkvartiili, pienin ja suurin "
        "niistä kunnista, joiden asiakasmäärä julkaistaan."),
    "year": Table(
        6, "{task}: koko vuoden asiakkaat", "{task}: klienter under hela året",
        "{task}: clients over the whole year",
        "Kalenterivuoden aikana palvelutehtävän asiakkaina olleet eri henkilöt."),
    "tasks_per_client": Table(
        7, "Asiakkaat palvelutehtävien lukumäärän mukaan",
        "Klienter efter antal serviceuppgifter", "Clients by number of service tasks",
        "Rekisteriin kirjatut asiakkaat sen mukaan, monenko palvelutehtävän asiakkaina he "
        "olivat vuosineljänneksen aikana."),
    "multi_task": Table(
        8, "Samanaikaisten palvelutehtävien asiakkaat pareittain",
        "Klienter i två serviceuppgifter samtidigt", "Clients of two service tasks at once",
        "Asiakkaat, jotka olivat vuosineljänneksen aikana kahden palvelutehtävän asiakkaina."),
    "calibration": Table(
        20, "{task}: mallin ennusteiden osuvuus", "{task}: modellens prognosträffsäkerhet",
        "{task}: calibration of the model's predictions",
        "Mallin ennusteiden vertailu myöhemmin kattaviksi tulleiden kuntien havaittuihin "
        "asiakasmääriin (standardoitujen erotusten keskiarvo, hajonta ja osuus välillä ±1,96)."),
    "ledger": Table(
        21, "Rekisterin rivien kirjanpito", "Bokföring av registrets rader",
        "Ledger of the register's rows",
        "Rekisteriin toimitetut rivit ja mihin ne päätyivät (laskettu, hylätty syineen)."),
    "quality_reasons": Table(
        22, "{task}: kuntien laatuluokituksen syyt",
        "{task}: skäl till kommunernas kvalitetsklass",
        "{task}: reasons of the municipalities' quality classes",
        "Kuntien lukumäärä kunkin laatuluokituksen syyn mukaan."),
    "representativeness": Table(
        23, "{task}: kattavien kuntien edustavuus",
        "{task}: representativitet för kommuner med heltäckande uppgifter",
        "{task}: representativeness of the comprehensive municipalities",
        "Kattavien kuntien osuus väestöpohjasta ja ikärakenteen vakioinnin vaikutus arvioon."),
    "review_decisions": Table(
        24, "{task}: tarkastuskierroksen päätökset",
        "{task}: beslut i granskningsrundan", "{task}: decisions of the review round",
        "Hyvinvointialueiden tarkastuskierroksella tekemät päätökset kunnittain."),
    "review_effect": Table(
        25, "{task}: tarkastuskierroksen vaikutus koko maan arvioon",
        "{task}: granskningsrundans effekt på skattningen för hela landet",
        "{task}: effect of the review round on the national estimate",
        "Koko maan arvio ennen tarkastuskierroksen päätöksiä ja niiden jälkeen."),
    # Sote-tietopaketit (the cost year's published tables; no service task: number 00)
    "costs_packages": Table(
        30, "Sote-tietopaketit: kustannukset paketeittain",
        "Social- och hälsovårdspaket: kostnader per paket",
        "Social and health care packages: costs by package",
        "Hyvinvointialueiden sosiaali- ja terveydenhuollon kustannukset kohdennettuina "
        "Sote-tietopaketteihin koko maassa: euroa, osuus ja euroa asukasta kohden."),
    "costs_allocation": Table(
        31, "Sote-tietopaketit: kustannusten kohdentuminen hyvinvointialueittain",
        "Social- och hälsovårdspaket: fördelning av kostnaderna per välfärdsområde",
        "Social and health care packages: allocation of costs by county",
        "Hyvinvointialueen kirjanpidon kustannukset, paketeille kohdennettu ja kohdentamaton "
        "osuus."),
    "costs_unallocated": Table(
        32, "Sote-tietopaketit: kohdentamattomat kustannukset syittäin",
        "Social- och hälsovårdspaket: kostnader som inte fördelats, per orsak",
        "Social and health care packages: unallocated costs by reason",
        "Kustannukset, joita ei voitu kohdentaa paketeille, hyvinvointialueittain ja syittäin."),
    "costs_per_resident": Table(
        33, "Sote-tietopaketit: kustannukset asukasta kohden",
        "Social- och hälsovårdspaket: kostnader per invånare",
        "Social and health care packages: costs per resident",
        "Paketin kustannukset euroina asukasta ja kohderyhmän asukasta kohden "
        "hyvinvointialueittain."),
    "costs_per_client": Table(
        34, "Sote-tietopaketit: kustannukset asiakasta kohden",
        "Social- och hälsovårdspaket: kostnader per klient",
        "Social and health care packages: costs per client",
        "Paketin kustannukset euroina koko vuoden asiakasta kohden, kun asiakastiedot "
        "kattavat paketin palvelutehtävät riittävästi; asiakasmäärät tietosuojattuina."),
    "costs_dimensions": Table(
        35, "Sote-tietopaketit: kustannukset näkökulmittain",
        "Social- och hälsovårdspaket: kostnader efter perspektiv",
        "Social and health care packages: costs by perspective",
        "Pakettien kustannukset näkökulmittain (esimerkiksi palvelumuoto) koko maassa."),
}


def indicator_id(table: str, task: str = "") -> str:
    """The id of a table's indicator for a task ("SSR0101"); KeyError for a table or a
    task not declared in this module."""
    if table not in TABLES:
        raise KeyError(f"open data: table {table!r} has no indicator number "
                       "(seuranta.publication.indicators.TABLES)")
    task = "" if task is None or (isinstance(task, float) and pd.isna(task)) else str(task)
    if task not in TASK_NUMBER:
        raise KeyError(f"open data: service task {task!r} of table {table!r} has no indicator "
                       "number (seuranta.publication.indicators.TASK_NUMBER)")
    return f"{PREFIX}{TABLES[table].number:02d}{TASK_NUMBER[task]:02d}"


def row_ids(table: str, df: pd.DataFrame) -> pd.Series:
    """The indicator id of every row of a published table (by its ``service_task``)."""
    tasks = df["service_task"] if "service_task" in df.columns else pd.Series("", index=df.index)
    return pd.Series([indicator_id(table, t) for t in tasks], index=df.index, dtype=object)


def titles(table: str, task: str = "") -> dict[str, str]:
    """The indicator's title in Finnish, Swedish and English."""
    t = TABLES[table]
    task = "" if task is None or (isinstance(task, float) and pd.isna(task)) else str(task)
    if task in ("", "kaikki"):
        names = _ALL
    else:
        names = {"fi": task_name(task), "sv": TASK_SV[task], "en": TASK_EN[task]}
    return {"fi": t.title_fi.format(task=names["fi"]), "sv": t.title_sv.format(task=names["sv"]),
            "en": t.title_en.format(task=names["en"])}


def titles_of(ident: str) -> dict[str, str]:
    """The titles of an indicator by its id (the inverse of :func:`indicator_id`)."""
    table = {f"{t.number:02d}": name for name, t in TABLES.items()}[ident[len(PREFIX):-2]]
    task = {f"{n:02d}": k for k, n in TASK_NUMBER.items() if k != "kaikki"}[ident[-2:]]
    return titles(table, task)


def metadata(table: str, task: str, measures: list[str],
             metric: dict[str, tuple[str, str, int]]) -> list[dict]:
    """Rows of the open data's indicator list (``indikaattorit.csv``): one per measure of
    the indicator, with its titles, definition, source, unit and decimals (``metric``:
    :data:`seuranta.publication.opendata.METRIC_FI`)."""
    head = {"indicator_id": indicator_id(table, task), "table": table,
            "service_task": "" if task in (None, "") else str(task)}
    head.update({f"title_{k}": v for k, v in titles(table, task).items()})
    head.update({"definition_fi": TABLES[table].definition_fi, "source": CREDIT_FI})
    out = []
    for m in measures or [""]:
        label, unit, decimals = metric.get(m, (m, "", 0)) if m else ("", "", "")
        out.append({**head, "measure": m, "measure_fi": label, "unit": unit,
                    "decimals": decimals})
    return out
