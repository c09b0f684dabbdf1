"""The reader's entry points, staged into the book: landing page, Swedish summary, county
comparison pages, the municipal table and the release's open data.

``stage_pages(stage, out_dir, quarters, synthetic)`` is called by
:func:`seuranta.publication.book.stage_book` after it has written the staged ``_toc.yml``
and ``_config.yml``; it adds:

* ``OUT/avoindata/<release id>/`` (:mod:`.opendata`, with the revisions of :mod:`.revisions`
  when an earlier release is kept) and a copy under the staged book's ``_extra/`` which
  Sphinx copies as is into the HTML (``html_extra_path``), so ``datapackage.json`` and its
  files keep their relative paths; a zip of the folder for the downloads page;
* ``uusimmat.md`` (landing page, first in the table of contents), ``svenska.md``;
* ``vertailu/``: an index, one page per county (its estimates beside the country's, a chart
  of the county against the others per task, its municipalities in a sortable table) and
  ``vertailu/kunnat.md`` (every municipality, sortable and filterable).

Everything comes from the published tables (``OUT/<Q>/published/``); when the newest
quarter has none (no disclosure gate run) nothing is staged.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import yaml

from seuranta.core import escape, reference, symbols
from seuranta.core.errors import InputError
from seuranta.core.fmt import fi_number
from seuranta.core.params import as_params
from seuranta.core.quarters import Quarter, today
from seuranta.core.reproducible import write_zip
from seuranta.inputs.datafolder import extract_date
from seuranta.publication import compare, landing, opendata, releases, revisions
from seuranta.publication import published as pub
from seuranta.publication.bookfmt import (
    alt_text,
    caption_tables,
    chart_png,
    drawn_side_by_side,
    notice_md,
    notice_text,
)
from seuranta.publication.notebooks import newest_costs_notebook

OPEN_DATA = "avoindata"
EXTRA = "_extra"
#: The heading of the open data section that :func:`stage_pages` adds to the page
#: "Lataukset" (``book.offer_pdfs`` rewrites the page's files above it).
OPEN_DATA_HEADING = "## Avoin data"


def current_release_id(out_dir: Path, newest: str, params: dict) -> str:
    """The id of the release being made, as the pipeline names it (:func:`releases.release_id`
    from the newest quarter and the extract date of the data folder in its manifest)."""
    man = Path(out_dir) / newest / "manifest.json"
    data_dir = json.loads(man.read_text(encoding="utf-8")).get("data_dir") if man.is_file() else None
    try:
        when = extract_date(Path(data_dir), params) if data_dir else None
    except InputError:
        when = None
    if when is None:
        given = (params.get("publication") or {}).get("release_id")
        return str(given) if given else f"{newest}-{today():%Y%m%d}"
    return releases.release_id(newest, when, params)


def release_date(params: dict) -> dt.date:
    d = (params.get("publication") or {}).get("date")
    return d if isinstance(d, dt.date) else (dt.date.fromisoformat(str(d)) if d else today())


def write_release_open_data(out_dir: Path, quarters: list[str], synthetic: bool,
                            params: dict | None = None, root: Path | None = None
                            ) -> tuple[Path, str, dt.date, str]:
    """OUT/avoindata/<release id>/ (under ``root`` instead of OUT when given: the book
    phase's temporary folder) from the release being made (``OUT/<Q>/published/``)
    with its revisions against the newest earlier release; returns (folder, release id,
    release date, revisions summary)."""
    params = as_params(params)   # the run's parameters (no default file)
    quarters = sorted(quarters)
    rid = current_release_id(out_dir, quarters[-1], params)
    released = release_date(params)
    dirs = {q: pub.published_dir(out_dir, q) for q in quarters}
    dirs = {q: d for q, d in dirs.items() if d.is_dir()}
    rev = revisions.current_revisions(out_dir, rid)
    target = Path(root if root is not None else out_dir) / OPEN_DATA / rid
    if target.exists():
        shutil.rmtree(target)
    costs_nb = newest_costs_notebook(out_dir)   # the cost year of this publication
    costs = {costs_nb.parent.parent.name: costs_nb.parent.parent / pub.PUBLISHED} \
        if costs_nb and (costs_nb.parent.parent / pub.PUBLISHED).is_dir() else None
    extract = pub.extract_published_dir(out_dir)   # the row ledger, once per release
    opendata.write_open_data(dirs, target, rid, released.isoformat(), synthetic, revisions=rev,
                             notice=notice_text(synthetic, params), costs=costs,
                             extract=extract if extract.is_dir() else None)
    return target, rid, released, revisions.summary_fi(rev)


def _save(fig, path: Path) -> None:
    path.write_bytes(chart_png(fig))   # a palette PNG: a third of matplotlib's RGBA file


def _county_page(pdirs: dict[str, Path], quarter: str, code: str, name: str, cf, nf,
                 img: Path, synthetic: bool, params, national=None, frames=None,
                 municipal=None) -> str:
    """A county's comparison page: its estimates of the newest quarter beside the other
    counties and the country, its shares over every quarter of the series (each quarter as
    its own published folder has it) and its municipalities. ``national``, ``frames``
    (:func:`compare.county_frames`) and ``municipal`` (the quarter's published table): as
    read once for every county's page (read here when not given)."""
    pdir = pdirs[quarter]
    lines = [f"# {name}: {COMPARISON_TITLE_FI}", ""]
    if synthetic:
        lines += [notice_md(True, params), ""]
    qname = Quarter.parse(quarter).name_fi
    if cf is not None and (cf["county_code"] == code).any():
        lines += [f"## Arviot {qname}", "",
                  "Alueen asiakasmäärän arvio palvelutehtävittäin (mallipohjainen arvio: "
                  "kattavien kuntien asiakkaat ja muiden kuntien ennuste) ja osuus "
                  "väestöpohjasta; vertailuna koko maan osuus.", "",
                  caption_tables(compare.county_table_md(cf, nf, code),
                                 [f"{name}: arviot palvelutehtävittäin, {qname}"]), ""]
        fig = compare.county_chart(cf, nf, code, f"{name} verrattuna muihin alueisiin, {qname}",
                                   synthetic=synthetic)
        if fig is not None:
            fname = f"{code}.png"
            _save(fig, img / fname)
            alt = compare.chart_alt(cf, nf, code, name)
            lines += [f"![{alt_text(alt)}](img/{fname})", "", escape.myst(alt), ""]
    else:
        lines += ["Alueen arvioita ei ole julkaistu tälle vuosineljännekselle.", ""]
    lines += _county_series_md(pdirs, code, name, img, synthetic, national, frames)
    tab, num = compare.municipal_table(pdir, quarter, code, municipal)
    lines += [f"## Kunnat {qname}", "",
              "Kuntien asiakkaiden osuus palvelutehtävän väestöpohjasta. Järjestä taulukko "
              "napsauttamalla sarakkeen otsikkoa; suodata kirjoittamalla ruutuun.", "",
              "```{raw} html",
              compare.sortable_table_html(tab, f"kunnat-{code}", f"{name}: kuntien osuudet, {qname}", num),
              "```", "", symbols.symbol_note_fi(), ""]
    return "\n".join(lines)


def _county_page_drawn(*args) -> str:
    """:func:`_county_page`, looked up when called (in the worker process too)."""
    return _county_page(*args)


#: What a county's comparison page is (its title beside the county's name; the county's
#: municipal tables of ``alueet/`` are "kuntien osuudet").
COMPARISON_TITLE_FI = "vertailu muihin alueisiin"


def _county_series_md(pdirs: dict[str, Path], code: str, name: str, img: Path,
                      synthetic: bool, national=None, frames=None) -> list[str]:
    """The section "Osuudet vuosineljänneksittäin" of a county's page: the table and chart
    of :func:`seuranta.publication.compare.county_series_table_md` and
    :func:`~seuranta.publication.compare.county_series_chart` (empty when the county has no
    published rows)."""
    series = compare.county_series(pdirs, code, frames)
    first, last = (Quarter.parse(q).name_fi for q in (min(pdirs), max(pdirs)))
    table = compare.county_series_table_md(
        series, f"{name}: asiakkaiden osuus väestöpohjasta vuosineljänneksittäin, "
                f"{first} – {last}")
    if table is None:
        return []
    lines = ["## Osuudet vuosineljänneksittäin", "",
             "Alueen arviot jokaiselta julkaistulta vuosineljännekseltä sellaisina kuin ne "
             "kyseisen vuosineljänneksen julkaisussa julkaistiin: pistearvio, vaihteluväli "
             "tai ei arviota.", "", table, ""]
    national = compare.national_series(pdirs) if national is None else national
    fig = compare.county_series_chart(series, national, f"{name}: osuudet "
                                      f"vuosineljänneksittäin, {first} – {last}",
                                      synthetic=synthetic)
    if fig is not None:
        fname = f"{code}-sarja.png"
        _save(fig, img / fname)
        alt = compare.county_series_alt(series, name)
        lines += [f"![{alt_text(alt)}](img/{fname})", "", escape.myst(alt), ""]
    return lines


def stage_pages(stage: Path, out_dir: Path, quarters: list[str], synthetic: bool,
                params: dict | None = None, open_data_root: Path | None = None) -> list[str]:
    """Stage the pages and open data (see the module docstring; the open data under
    ``open_data_root`` instead of OUT when given); returns the staged documents (empty
    when there are no published tables)."""
    stage, out_dir = Path(stage), Path(out_dir)
    quarters = sorted(quarters)
    newest = quarters[-1]
    pdir = pub.published_dir(out_dir, newest)
    if not (pdir / "estimates.csv").is_file() or not (pdir / "municipal.csv").is_file():
        return []
    params = as_params(params)   # the run's parameters (no default file)
    od, rid, released, rev_text = write_release_open_data(out_dir, quarters, synthetic, params,
                                                          open_data_root)
    extra = stage / EXTRA / OPEN_DATA / rid
    shutil.copytree(od, extra)
    zipped = stage / f"avoindata_{rid}.zip"
    write_zip(od, zipped, released)   # fixed dates and order
    size_kb = max(zipped.stat().st_size // 1024, 1)   # what a reader downloads
    downloads = [(f"Avoin data, kuvaus (datapackage.json), julkaisu {rid}",
                  f"{OPEN_DATA}/{rid}/datapackage.json")]
    for p in sorted(od.iterdir()):
        if p.name != "datapackage.json":
            downloads.append((p.name, f"{OPEN_DATA}/{rid}/{p.name}"))
    has_downloads_page = (stage / "lataukset.md").is_file()
    pdirs = {q: pub.published_dir(out_dir, q) for q in quarters
             if (pub.published_dir(out_dir, q) / "estimates.csv").is_file()}
    docs = []

    md = landing.landing_md(pdir, newest, synthetic, released, rid,
                            (params.get("publication") or {}).get("release_calendar"),
                            rev_text, downloads[:1], swedish_doc="svenska",
                            downloads_doc="lataukset" if has_downloads_page else None,
                            params=params)
    md += (f"\nKoko avoin data yhtenä tiedostona: {{download}}`avoindata_{rid}.zip "
           f"<avoindata_{rid}.zip>` ({fi_number(size_kb)} kt). "
           f"Kuntien vertailu: {{doc}}`vertailu/kunnat`; hyvinvointialueet: "
           f"{{doc}}`vertailu/index`.\n")
    (stage / "uusimmat.md").write_text(md, encoding="utf-8")
    docs.append("uusimmat")
    (stage / "svenska.md").write_text(landing.swedish_md(pdirs, synthetic), encoding="utf-8")
    (stage / "english.md").write_text(landing.english_md(pdirs, synthetic), encoding="utf-8")
    docs += ["svenska", "english"]

    # comparison pages
    vdir = stage / "vertailu"
    (vdir / "img").mkdir(parents=True, exist_ok=True)
    frames = compare.county_frames(pdirs)   # every table the county pages show, read once
    cf = frames[newest]
    nf = compare.national_frame(pdir, newest)
    municipal = pub.read(pdir, "municipal")
    counties = reference.counties()
    national = compare.national_series(pdirs)
    index = ["# Vertailu", "", "Hyvinvointialueiden arviot ja kuntien osuudet "
             f"{Quarter.parse(newest).name_fi}: alue verrattuna muihin alueisiin ja koko "
             "maahan, ja alueen osuudet jokaiselta julkaistulta vuosineljännekseltä.", "",
             "- [Kaikki kunnat](kunnat.md)"]
    pages = drawn_side_by_side(_county_page_drawn, [
        (pdirs, newest, c.county_code, c.county_name_fi, cf, nf, vdir / "img", synthetic,
         params, national, frames, municipal) for c in counties.itertuples()])
    for c, page in zip(counties.itertuples(), pages):
        (vdir / f"{c.county_code}.md").write_text(page, encoding="utf-8")
        index.append(f"- [{c.county_name_fi}]({c.county_code}.md)")
    (vdir / "index.md").write_text("\n".join(index) + "\n", encoding="utf-8")
    tab, num = compare.municipal_table(pdir, newest, municipal=municipal)
    qname = Quarter.parse(newest).name_fi
    (vdir / "kunnat.md").write_text("\n".join([
        "# Kaikki kunnat", "", notice_md(synthetic, params),
        f"Manner-Suomen kuntien asiakkaiden osuus palvelutehtävän väestöpohjasta, {qname}. "
        "Osuus näytetään, kun kunnan tiedot arvioitiin kattaviksi. Järjestä taulukko "
        "napsauttamalla sarakkeen otsikkoa; suodata kirjoittamalla ruutuun (kunta tai alue).", "",
        "```{raw} html", compare.sortable_table_html(tab, "kunnat", f"Kuntien osuudet, {qname}", num),
        "```", "", symbols.symbol_note_fi(), ""]), encoding="utf-8")
    docs += ["vertailu/index", "vertailu/kunnat"] + [f"vertailu/{c}" for c in counties["county_code"]]

    if has_downloads_page:   # the open data on the downloads page
        with open(stage / "lataukset.md", "a", encoding="utf-8") as f:
            f.write(f"\n{OPEN_DATA_HEADING}\n\nJulkaisun taulukot koneluettavina: CSV (UTF-8) ja "
                    "JSON-stat 2.0 (sama muoto kuin THL:n avoimessa kuutiorajapinnassa ja "
                    "PxWebissä), kuvattuina Frictionless-tietopaketiksi. Salatut ja puuttuvat "
                    "solut on merkitty symbolein (JSON-statissa `status`).\n\n"
                    + "\n".join(f"- <a href=\"{u}\">{lab}</a>" for lab, u in downloads)
                    + f"\n- {{download}}`Kaikki yhtenä zip-tiedostona <avoindata_{rid}.zip>`\n")

    _patch_toc(stage)
    _patch_config(stage)
    return docs


def _patch_toc(stage: Path) -> None:
    toc_path = stage / "_toc.yml"
    toc = yaml.safe_load(toc_path.read_text(encoding="utf-8"))
    parts = [{"caption": "Uusimmat luvut",
              "chapters": [{"file": "uusimmat"}, {"file": "svenska"}, {"file": "english"}]},
             {"caption": "Vertailu",
              "chapters": [{"file": "vertailu/index", "sections": [
                  {"file": "vertailu/kunnat"}] + [{"file": f"vertailu/{c}"}
                                                 for c in reference.counties()["county_code"]]}]}]
    toc["parts"] = parts + [p for p in toc.get("parts", [])
                            if p.get("caption") not in ("Uusimmat luvut", "Vertailu")]
    toc_path.write_text(yaml.safe_dump(toc, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _patch_config(stage: Path) -> None:
    cfg_path = stage / "_config.yml"
    cfg = yaml.safe_load(cfg_path.read_text(encoding="utf-8"))
    sph = cfg.setdefault("sphinx", {}).setdefault("config", {})
    extra = list(sph.get("html_extra_path") or [])
    if EXTRA not in extra:
        extra.append(EXTRA)
    sph["html_extra_path"] = extra
    cfg_path.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), encoding="utf-8")
