"""Sealed releases (issue 23): reproducible bytes, the seal of a release, `verify-release`,
the check of kept releases before `publish` uses them, and the book phase's swap."""

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from seuranta import pipeline
from seuranta.cli import main as cli_main
from seuranta.core import reproducible
from seuranta.core.errors import InputError
from seuranta.core.params import PROJECT_DIR, load_params
from seuranta.core.provenance import (
    file_sha256,
    input_hashes,
    params_values,
    provenance,
    recorded_params,
)
from seuranta.publication import releases
from seuranta.verification import kind_of

QUARTERS = ["2023Q1", "2023Q2"]


# --------------------------------------------------------------------------- environment

def test_source_date_epoch_is_noon_of_the_date_in_helsinki():
    # by hand: 2024-03-15 12:00 EET (UTC+2) = 10:00 UTC; 2024-07-01 12:00 EEST = 09:00 UTC
    assert reproducible.source_date_epoch(dt.date(2024, 3, 15)) == 1710496800
    assert reproducible.source_date_epoch(dt.date(2024, 7, 1)) == 1719824400


def test_the_publication_date_is_pinned_once(monkeypatch):
    params = load_params()
    assert reproducible.pin_publication_date(params) is params      # given: kept
    values = {k: v for k, v in params.items()}
    values["publication"] = {**params["publication"], "date": None}
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    pinned = reproducible.pin_publication_date(values, today=dt.date(2025, 1, 2))
    assert pinned["publication"]["date"] == "2025-01-02"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1710496800")
    assert reproducible.pin_publication_date(values)["publication"]["date"] == "2024-03-15"


def test_fixed_environment_is_set_for_children_and_restored(monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    with reproducible.fixed_environment(load_params()):
        out = subprocess.run([sys.executable, "-c", "import os, time; print(os.environ['TZ'],"
                              " os.environ['SOURCE_DATE_EPOCH'], os.environ['PYTHONHASHSEED'],"
                              " time.strftime('%z', time.localtime(1710496800)))"],
                             capture_output=True, text=True, check=True).stdout.split()
    assert out == ["Europe/Helsinki", "1710496800", "0", "+0200"]
    assert os.environ["TZ"] == "America/New_York" and "SOURCE_DATE_EPOCH" not in os.environ


def test_a_zip_is_the_same_bytes_whatever_the_files_times(tmp_path):
    day = dt.date(2024, 3, 15)
    made = []
    for i, names in enumerate((["b.csv", "a.json"], ["a.json", "b.csv"])):
        d = tmp_path / f"d{i}"
        d.mkdir()
        for n in names:   # written in another order, at other times
            (d / n).write_text(f"{n}\n", encoding="utf-8")
            os.utime(d / n, (1_600_000_000 + 1000 * i, 1_600_000_000 + 1000 * i))
        made.append(d)
    a = reproducible.write_zip(made[0], tmp_path / "a.zip", day)
    b = reproducible.write_zip(made[1], tmp_path / "b.zip", day)
    assert a.read_bytes() == b.read_bytes()
    with zipfile.ZipFile(a) as z:
        assert [i.filename for i in z.infolist()] == ["a.json", "b.csv"]
        assert {i.date_time for i in z.infolist()} == {(2024, 3, 15, 0, 0, 0)}
    # the safeguard bypassed: shutil's archive takes each file's time
    shutil.make_archive(str(tmp_path / "s0"), "zip", made[0])
    shutil.make_archive(str(tmp_path / "s1"), "zip", made[1])
    assert (tmp_path / "s0.zip").read_bytes() != (tmp_path / "s1.zip").read_bytes()


@pytest.mark.skipif(shutil.which("xelatex") is None, reason="no xelatex")
def test_xelatex_makes_the_same_pdf_in_the_fixed_environment(tmp_path):
    tex = ("\\documentclass{article}\\usepackage{fontspec}\\usepackage{hyperref}"
           "\\begin{document}Julkaistu \\today.\\end{document}\n")

    def compile_in(name: str) -> bytes:
        d = tmp_path / name
        d.mkdir()
        (d / "t.tex").write_text(tex, encoding="utf-8")
        subprocess.run(["xelatex", "-interaction=nonstopmode", "t.tex"], cwd=d, check=True,
                       capture_output=True)
        return (d / "t.pdf").read_bytes()

    with reproducible.fixed_environment(load_params()):
        a = compile_in("a")
        time.sleep(1.1)
        b = compile_in("toinen-kansio")
    assert a == b
    # the safeguard bypassed: without SOURCE_DATE_EPOCH the time of the run is in the PDF
    time.sleep(1.1)
    assert compile_in("c") != a


def test_an_executed_notebook_has_no_path_and_the_same_bytes(tmp_path):
    from nbformat.v4 import new_code_cell, new_notebook

    from seuranta.publication import notebooks

    def run(where: Path) -> Path:
        (where / "tables").mkdir(parents=True)
        nb = new_notebook(cells=[new_code_cell("tables_dir = ''", metadata={"tags": ["parameters"]}),
                                 new_code_cell("print(len(tables_dir) > 0)"),
                                 new_code_cell("1 + 1")])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                     "language": "python"}
        (where / "notebooks").mkdir()
        out = where / "notebooks" / "n.ipynb"
        notebooks._papermill(nb, out, {"tables_dir": str((where / "tables").resolve()),
                                       "params_file": str(PROJECT_DIR / "parameters.yml")},
                             "notebook n.ipynb", "parameters.yml")
        return out

    a, b = run(tmp_path / "eka"), run(tmp_path / "toinen" / "syvemmalla")
    assert a.read_bytes() == b.read_bytes()
    text = a.read_text(encoding="utf-8")
    assert str(tmp_path) not in text and str(PROJECT_DIR) not in text
    cells = json.loads(text)["cells"]
    assert [c["id"] for c in cells] == ["c0", "c1", "c2", "c3"]
    assert 'tables_dir = "../tables"' in "".join(cells[1]["source"])
    assert [c["execution_count"] for c in cells] == [1, 2, 3, 4]
    # the safeguard bypassed: papermill's own output has the paths (and random cell ids)
    import nbformat
    raw = nbformat.read(a, as_version=4)
    raw.cells[1].source = "tables_dir = " + repr(str((tmp_path / "eka" / "tables").resolve()))
    nbformat.write(raw, a)
    notebooks._hide_injected(a)   # without the parameters: the cell is left as it is
    assert str(tmp_path) in a.read_text(encoding="utf-8")


def test_formulas_are_the_same_bytes_whatever_order_dvisvgm_wrote_them():
    import base64

    from seuranta.publication import book

    head = b"<?xml version='1.0'?>\n<svg version='1.1'>\n<defs>\n"
    defs = [b"<path id='g1-1' d='M1 2Z'/>", b"<use id='g2-1' xlink:href='#g1-1'/>",
            b"<path id='g1-50' d='M5 3Z'/>"]
    tail = b"\n</defs>\n<g><use x='1' xlink:href='#g2-1'/></g>\n</svg>"
    one = head + b"\n".join(defs) + tail
    other = head + b"\n".join(reversed(defs)) + tail          # as another run wrote it
    assert one != other and book.canonical_svg(one) == book.canonical_svg(other)
    assert sorted(book.canonical_svg(one).split(b"\n")) == sorted(one.split(b"\n"))
    page = '<img src="data:image/svg+xml;base64,{}"/>'
    assert book.canonical_math(page.format(base64.b64encode(one).decode())) == \
        book.canonical_math(page.format(base64.b64encode(other).decode()))
    # definitions over several lines (not dvisvgm's) are left as they are
    multi = head + b"<style>\nx{}\n</style>\n<path id='a' d='M0Z'/>" + tail
    assert book.canonical_svg(multi) == multi


# --------------------------------------------------------------------------- parameters

def test_recorded_values_are_used_and_other_values_refused():
    params = load_params()
    manifest = {"parameters": provenance(params)["parameters"]}
    assert manifest["parameters"]["file"] == "parameters.yml"    # a name, not a path
    rec = recorded_params(manifest)
    assert params_values(rec) == params_values(params)
    # the same object, key order included (a free mapping's order reached the book's text)
    assert json.dumps(params_values(rec)) == json.dumps(params_values(params))
    assert rec.get("_file") is None and rec["_name"] == "parameters.yml"
    assert rec["_sha256"] == params["_sha256"]
    assert params_values(recorded_params(manifest, params)) == params_values(params)
    other = json.loads(json.dumps(params_values(params)))
    other["estimate"]["z"] = 2.5
    with pytest.raises(InputError, match=r"estimate\.z: 2\.5 != 1\.96"):
        recorded_params(manifest, other)
    with pytest.raises(InputError, match="no parameter values"):
        recorded_params({"parameters": {"file": "/x/parameters.yml", "sha256": "a"}})


# --------------------------------------------------------------------------- the seal

def _fake_out(out: Path, value: str = "1") -> Path:
    """OUT with one file of every public kind, as publish leaves it."""
    for q in QUARTERS:
        p = out / q / "published"
        p.mkdir(parents=True, exist_ok=True)
        (p / "municipal.csv").write_text(f"quarter,clients\n{q},{value}\n", encoding="utf-8")
        for sub, name in (("annex", f"liite_{q}.xlsx"), ("notebooks", "yhteenveto.ipynb")):
            (out / q / sub).mkdir(exist_ok=True)
            (out / q / sub / name).write_bytes(f"{sub} {q}".encode())
        (out / q / "manifest.json").write_text(json.dumps(
            {"quarter": q, "data_dir": "/secret/data", "tables": {"counts": "x"},
             "inputs": {"a.csv": "1"}}), encoding="utf-8")
    (out / "pdf").mkdir(exist_ok=True)
    (out / "pdf" / "2023Q2.pdf").write_bytes(b"%PDF")
    html = out / "book" / "_build" / "html"
    (html / "_static").mkdir(parents=True, exist_ok=True)
    (html / "index.html").write_text("<html></html>", encoding="utf-8")
    (html / "_static" / "x.js").write_text("x", encoding="utf-8")
    (html / ".buildinfo").write_text("config: 1", encoding="utf-8")
    (out / "avoindata" / "r1").mkdir(parents=True, exist_ok=True)
    (out / "avoindata" / "r1" / "datapackage.json").write_text("{}", encoding="utf-8")
    (out / "book" / "avoindata_r1.zip").write_bytes(b"PK")
    return out


def test_the_seal_lists_every_public_file_and_finds_each_change(tmp_path):
    out = _fake_out(tmp_path / "out")
    rel = releases.write_release(out, QUARTERS, "r1", {"parameters": {"values": {"a": 1}}})
    m = releases.read_manifest(rel)
    assert {kind_of(p) for p in m["files"]} == {"published", "annex", "notebooks", "manifest",
                                                "pdf", "html", "avoindata", "zip"}
    assert "html/.buildinfo" not in m["files"] and "html/index.html" in m["files"]
    assert m["parameters"] == {"values": {"a": 1}} and m["format"] == releases.FORMAT
    public = json.loads((rel / "2023Q1" / "manifest.json").read_text(encoding="utf-8"))
    assert public == {"quarter": "2023Q1", "inputs": {"a.csv": "1"}}   # no path, no tables
    assert releases.check_release(rel) == []
    for p in rel.rglob("*"):
        assert p.is_dir() or p.stat().st_mode & 0o222 == 0, p    # kept read-only

    target = rel / "2023Q1" / "annex" / "liite_2023Q1.xlsx"
    target.chmod(0o644)
    target.write_bytes(b"annex 2023Q1!")
    (rel / "pdf" / "2023Q2.pdf").unlink()
    (rel / "html" / "lisatty.html").write_text("x", encoding="utf-8")
    assert releases.check_release(rel) == [("2023Q1/annex/liite_2023Q1.xlsx", "edited"),
                                           ("html/lisatty.html", "extra"),
                                           ("pdf/2023Q2.pdf", "missing")]
    # the seal itself: a value edited in the manifest breaks its seal
    mpath = rel / "manifest.json"
    mpath.chmod(0o644)
    mpath.write_text(mpath.read_text(encoding="utf-8").replace('"a": 1', '"a": 2'),
                     encoding="utf-8")
    assert ("manifest.json", "edited") in releases.check_release(rel)


def test_publish_refuses_a_kept_release_that_differs_before_any_work(tmp_path):
    out = _fake_out(tmp_path / "out")
    rel = releases.write_release(out, QUARTERS, "r1")
    table = rel / "2023Q1" / "published" / "municipal.csv"
    table.chmod(0o644)
    table.write_text("quarter,clients\n2023Q1,2\n", encoding="utf-8")
    data = tmp_path / "data"   # empty: publish would generate demo data first
    with pytest.raises(InputError, match=re.escape(str(table)) + ": edited"):
        pipeline.publish(data, out, load_params())
    assert not data.exists()                      # refused before anything was made
    # the safeguard bypassed: the gate would read the edited table as known to the reader
    assert table.parent in releases.prior_dirs(out, "r2")


def test_a_prior_that_is_gone_or_resealed_is_refused(tmp_path):
    out = _fake_out(tmp_path / "out")
    r1 = releases.write_release(out, QUARTERS, "r1")
    _fake_out(out, value="2")
    r2 = releases.write_release(out, QUARTERS, "r2",
                                {"priors": releases.prior_record(out, "r2")})
    assert releases.read_manifest(r2)["priors"][0]["release_id"] == "r1"
    assert releases.check_kept_releases(out) == [r1, r2]
    # r1 edited and sealed again, consistently: it checks alone, but not against r2's record
    table = r1 / "2023Q1" / "published" / "municipal.csv"
    table.chmod(0o644)
    table.write_text("quarter,clients\n2023Q1,9\n", encoding="utf-8")
    m = releases.read_manifest(r1)
    m["files"]["2023Q1/published/municipal.csv"] = file_sha256(table)
    m.pop("seal")
    m["seal"] = releases.seal_of(m)
    (r1 / "manifest.json").chmod(0o644)
    (r1 / "manifest.json").write_text(json.dumps(m), encoding="utf-8")
    assert releases.check_release(r1) == []
    with pytest.raises(InputError, match="r1/manifest.json: differs from the hash recorded"):
        releases.check_kept_releases(out)
    shutil.rmtree(r1)
    with pytest.raises(InputError, match="r1: missing: release r2 was made with it"):
        releases.check_kept_releases(out)


# --------------------------------------------------------------------------- whole release

@pytest.fixture(scope="module")
def sealed(release):
    """The session's small release (tests/conftest.py) and its sealed folder."""
    rels = releases.kept_releases(release["out"])
    assert len(rels) == 1
    return {**release, "rel": rels[0], "manifest": releases.read_manifest(rels[0])}


@pytest.mark.slow
@pytest.mark.xdist_group("release")
def test_a_release_seals_every_public_file_and_its_record(sealed):
    m, rel, out = sealed["manifest"], sealed["rel"], sealed["out"]
    assert {kind_of(p) for p in m["files"]} == {"published", "annex", "notebooks", "manifest",
                                                "costs", "pdf", "html", "avoindata", "zip"}
    html = out / "book" / "_build" / "html"
    assert {f"html/{p.relative_to(html).as_posix()}" for p in html.rglob("*") if p.is_file()
            and p.name != ".buildinfo"} == {p for p in m["files"] if p.startswith("html/")}
    assert {p.name for p in (out / "pdf").glob("*.pdf")} == \
        {p.split("/")[1] for p in m["files"] if p.startswith("pdf/")}
    assert releases.check_release(rel) == []
    params = reproducible.pin_publication_date(sealed["params"])
    assert m["parameters"]["values"] == params_values(params)
    assert m["inputs"] == input_hashes(sealed["data"])
    assert m["environment"]["TZ"] == "Europe/Helsinki" and m["pdf"] is True
    assert int(m["environment"]["SOURCE_DATE_EPOCH"]) == reproducible.source_date_epoch(
        dt.date.fromisoformat(params["publication"]["date"]))
    assert m["priors"] == [] and m["code"]["commit"] and m["packages"]["sphinx"]
    assert m["tools"]["xelatex"].startswith("XeTeX")


def _contents(path: Path):
    """The bytes of a file and of what it packs (zip entries, PDF streams)."""
    data = path.read_bytes()
    yield data
    if path.suffix in (".zip", ".xlsx"):
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                yield z.read(name)
    if path.suffix == ".pdf":
        import zlib
        for s in re.finditer(rb"stream\r?\n(.*?)endstream", data, re.S):
            try:
                yield zlib.decompress(s.group(1))
            except zlib.error:
                pass


@pytest.mark.slow
@pytest.mark.xdist_group("release")
def test_no_public_file_holds_a_path_a_host_name_or_the_build_date(sealed):
    out = sealed["out"].resolve()
    today = dt.date.today()
    assert today.isoformat() != sealed["manifest"]["publication_date"]
    host = socket.gethostname()
    needles = [str(out).encode(), str(Path(sealed["data"]).resolve()).encode(),
               str(PROJECT_DIR).encode(), today.isoformat().encode(),
               f"D:{today:%Y%m%d}".encode()]
    if len(host) >= 6:   # a short name ("vm") is found in any base64 image by chance
        needles.append(host.encode())
    found = []
    for p in sorted(sealed["rel"].rglob("*")):
        if p.is_file():
            for blob in _contents(p):
                found += [f"{p.relative_to(sealed['rel'])}: {n.decode()}" for n in needles
                          if n in blob]
    assert found == []


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("SOURCE_DATE_EPOCH", "TZ")}
    env["PYTHONPATH"] = str(PROJECT_DIR / "src")
    env.update(extra)
    return env


@pytest.mark.slow
@pytest.mark.xdist_group("release-b")   # the other worker (conftest.XDIST_ORDER)
def test_a_copy_elsewhere_verifies_and_is_made_again_byte_for_byte(sealed, tmp_path):
    """The release copied to another path verifies; published again from its record by
    another process, in another working directory, time zone and locale, later, every
    public file has the same hash."""
    rid = sealed["rel"].name
    moved = tmp_path / "muualla" / rid
    shutil.copytree(sealed["rel"], moved)
    cwd = tmp_path / "toinen"
    cwd.mkdir()
    env = _env(TZ="America/New_York", LC_ALL="C", LANG="C")
    cmd = [sys.executable, "-m", "seuranta.cli", "verify-release", str(moved)]
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines()[-1] == f"{rid}: every file identical to the manifest"
    keep = tmp_path / "uudelleen"
    r = subprocess.run(cmd + ["--data", str(sealed["data"]), "--keep", str(keep)], cwd=cwd,
                       env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert r.stdout.splitlines()[-1] == f"{rid}: every file identical, and made again identical"
    # no drift but, while developing, a checkout with uncommitted changes (both runs)
    assert [ln for ln in r.stdout.splitlines()
            if ln.startswith("warning") and "uncommitted changes" not in ln] == []
    again = releases.read_manifest(keep / "releases" / rid)
    assert again["files"] == sealed["manifest"]["files"]
    for rel_path, h in again["files"].items():   # the bytes on disk, not just the record
        assert file_sha256(keep / "releases" / rid / rel_path) == h, rel_path
    assert again == sealed["manifest"]


def _first(files: dict, pattern: str) -> str:
    return sorted(p for p in files if re.fullmatch(pattern, p))[0]


#: One file of each kind of a release (a pattern of its path in the manifest).
KINDS = {"pdf": r"pdf/20\d\dQ\d\.pdf", "html": r"html/index\.html",
         "open data": r"avoindata/estimates_20\d\dQ\d\.csv", "annex": r"20\d\dQ\d/annex/.*\.xlsx",
         "notebook": r"20\d\dQ\d/notebooks/yhteenveto\.ipynb",
         "published csv": r"20\d\dQ\d/published/municipal\.csv", "zip": r"avoindata_.*\.zip",
         "quarter manifest": r"20\d\dQ\d/manifest\.json",
         "costs annex": r"costs/\d{4}/annex/.*\.xlsx", "seal": r"manifest\.json"}


@pytest.fixture(scope="module")
def kept_copy(sealed, tmp_path_factory):
    """OUT with a copy of the release kept in it (the session's release stays untouched)."""
    out = tmp_path_factory.mktemp("kept") / "build"
    shutil.copytree(sealed["rel"], out / "releases" / sealed["rel"].name)
    return out


@pytest.mark.slow
@pytest.mark.xdist_group("release")
@pytest.mark.parametrize("kind", list(KINDS))
def test_an_edited_byte_is_reported_and_refused(kind, sealed, kept_copy, capsys):
    rel = kept_copy / "releases" / sealed["rel"].name
    name = _first(list(sealed["manifest"]["files"]) + ["manifest.json"], KINDS[kind])
    path = rel / name
    before = path.read_bytes()
    path.chmod(0o644)
    if kind == "seal":   # a recorded value, the JSON still valid
        edited = before.replace(b'"publication_date": "2024', b'"publication_date": "2025', 1)
    else:
        i = len(before) // 2
        edited = before[:i] + bytes([before[i] ^ 1]) + before[i + 1:]
    assert edited != before
    try:
        path.write_bytes(edited)
        capsys.readouterr()
        assert cli_main(["verify-release", str(rel)]) == 1
        assert f"{name}: DIFFERENT (edited after the release" in capsys.readouterr().out
        with pytest.raises(InputError, match=re.escape(f"{path}: edited")):
            pipeline.publish(sealed["data"], kept_copy, sealed["params"])
    finally:
        path.write_bytes(before)
        path.chmod(0o444)
    assert releases.check_release(rel) == []


def _hashes(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
@pytest.mark.xdist_group("release-b")   # the other worker (conftest.XDIST_ORDER)
def test_a_publish_killed_in_the_book_phase_leaves_the_previous_book(sealed, tmp_path):
    """The book phase of publish (``pipeline.build_book_phase``, the quarters done) killed
    with SIGKILL while Sphinx builds: the previous book, PDFs and open data are intact."""
    out = tmp_path / "build"
    shutil.copytree(sealed["out"], out, symlinks=True)
    watched = ["book", "pdf", "avoindata"]
    before = {w: _hashes(out / w) for w in watched}
    assert before["book"] and before["pdf"] and before["avoindata"]
    # the comparison pages' charts not drawn (tests/undrawn.py): the phase is killed before
    # any page is published, and its staging drew 44 of them first (11 CPU-s)
    phase = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
             "import pytest; from undrawn import undraw_charts; "
             "undraw_charts(pytest.MonkeyPatch()); "
             "from pathlib import Path; from seuranta import pipeline; "
             "from seuranta.core.params import load_params; "
             "from seuranta.core.reproducible import fixed_environment, pin_publication_date; "
             "p = pin_publication_date(load_params()); out = Path(sys.argv[1]); "
             "qs = sorted(q.name for q in out.glob('20[0-9][0-9]Q[1-4]'));\n"
             "with fixed_environment(p): pipeline.build_book_phase(out, qs, True, p, True)")
    proc = subprocess.Popen([sys.executable, "-c", phase, str(out)], env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    # wait until the phase has begun its Sphinx builds, then kill the whole group
    deadline = time.time() + 900
    while time.time() < deadline and proc.poll() is None:
        if any(out.glob(".tmp-book-*/book/_build")):
            break
        time.sleep(0.2)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail(f"the book phase never began its build (exit {proc.poll()})")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert list(out.glob(".tmp-book-*"))          # killed half-way: its folder is left
    assert {w: _hashes(out / w) for w in watched} == before
    pipeline.clean_stale(out)
    assert not list(out.glob(".tmp-*"))
