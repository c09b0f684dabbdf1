"""The publish cache (issue 24, :mod:`seuranta.core.cache`): a step is reused only when its
key (content of everything it is made from) and its outputs are exactly as recorded; an
unchanged re-publish runs no step and changes no byte; a corrupt or stale entry is a miss."""

from __future__ import annotations

import json
import shutil

import pytest

from seuranta import pipeline
from seuranta.core import cache as cache_mod
from seuranta.core.cache import StepCache, tree_hashes
from seuranta.core.params import load_params

PARAMS = load_params()


def _out(tmp_path):
    out = tmp_path / "out"
    (out / "2023Q1" / "tables").mkdir(parents=True)
    (out / "2023Q1" / "tables" / "counts.csv").write_text("a\n1\n", encoding="utf-8")
    return out, {"tables": out / "2023Q1" / "tables"}


def test_an_entry_is_reused_only_with_its_key_and_its_outputs_as_recorded(tmp_path):
    out, outputs = _out(tmp_path)
    StepCache(out).store("quarter-2023Q1", "k1", outputs)
    c = StepCache(out)
    assert c.lookup("quarter-2023Q1", "k1", outputs)
    assert c.steps == [("quarter-2023Q1", "cached")]
    assert not c.lookup("quarter-2023Q1", "k2", outputs)          # another key
    assert not StepCache(out, enabled=False).lookup("quarter-2023Q1", "k1", outputs)
    # an output edited, added or removed since the step made it
    f = out / "2023Q1" / "tables" / "counts.csv"
    f.write_text("a\n2\n", encoding="utf-8")
    assert not StepCache(out).lookup("quarter-2023Q1", "k1", outputs)
    f.write_text("a\n1\n", encoding="utf-8")
    (out / "2023Q1" / "tables" / "extra.csv").write_text("b\n", encoding="utf-8")
    assert not StepCache(out).lookup("quarter-2023Q1", "k1", outputs)
    (out / "2023Q1" / "tables" / "extra.csv").unlink()
    assert StepCache(out).lookup("quarter-2023Q1", "k1", outputs)
    shutil.rmtree(out / "2023Q1" / "tables")
    assert not StepCache(out).lookup("quarter-2023Q1", "k1", outputs)


def test_a_corrupt_entry_is_recomputed_not_trusted(tmp_path):
    out, outputs = _out(tmp_path)
    c = StepCache(out)
    c.store("s", "k", outputs)
    entry = out / cache_mod.CACHE_DIR / "s.json"
    good = entry.read_text(encoding="utf-8")
    for bad in ("", "{", good[: len(good) // 2], "[]", '{"key": "k"}',
                good.replace('"format"', '"formaatti"')):
        entry.write_text(bad, encoding="utf-8")
        assert not StepCache(out).lookup("s", "k", outputs), bad
    # an entry whose recorded hashes were edited to those of other outputs
    tampered = json.loads(good)
    tampered["outputs"]["tables"]["counts.csv"] = "0" * 64
    entry.write_text(json.dumps(tampered), encoding="utf-8")
    assert not StepCache(out).lookup("s", "k", outputs)


def test_an_entry_is_never_half_written(tmp_path, monkeypatch):
    """A write that fails (a killed run) leaves no entry and no temporary file; the entry
    is removed before a step replaces its outputs."""
    out, outputs = _out(tmp_path)

    def broken(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cache_mod.json, "dump", broken)
    with pytest.raises(KeyboardInterrupt):
        StepCache(out).store("s", "k", outputs)
    monkeypatch.undo()
    assert sorted(p.name for p in (out / cache_mod.CACHE_DIR).iterdir()) == []
    c = StepCache(out)
    c.store("s", "k", outputs)
    c.forget("s")
    assert not StepCache(out).lookup("s", "k", outputs)
    # a temporary file a killed run left is what clean_stale removes
    (out / cache_mod.CACHE_DIR / ".tmp-999999999-abc").write_text("{", encoding="utf-8")
    pipeline.clean_stale(out)
    assert not list((out / cache_mod.CACHE_DIR).glob(".tmp-*"))


def test_keys_change_with_exactly_what_each_step_is_made_from(tmp_path):
    """Parameters, code and inputs in a quarter's key; the templates only in the
    notebooks' key; the tables the notebooks read in theirs; the earlier quarters'
    published tables (the gate's priors) in a quarter's but not in its statistics'; the
    register files and the extract date only through the quarter's register cut."""
    data = tmp_path / "data"
    (data / "register").mkdir(parents=True)
    (data / "metadata.json").write_text('{"synthetic": true}', encoding="utf-8")
    (data / "register" / "a.csv").write_text("r\n", encoding="utf-8")
    templates = tmp_path / "templates"
    shutil.copytree(pipeline.NOTEBOOK_DIR, templates)
    out = tmp_path / "out"
    folder = out / "2023Q2"
    for n in ("tables", "published", "annex"):
        (folder / n).mkdir(parents=True)
        (folder / n / "t.csv").write_text("a\n1\n", encoding="utf-8")
    earlier = {"2023Q1": out / "2023Q1"}
    (out / "2023Q1" / "published").mkdir(parents=True)
    (out / "2023Q1" / "published" / "t.csv").write_text("x\n1\n", encoding="utf-8")

    def keys(params=PARAMS, cut="c0"):
        v = pipeline.Versions(data, params, "utf-8", templates)
        return (pipeline._quarter_key(v, "2023Q2", out, None, earlier, cut),
                pipeline._notebooks_key(v, "2023Q2", folder),
                pipeline._statistics_key(v, "2023Q2", cut))

    q0, n0, s0 = keys()
    assert keys() == (q0, n0, s0)
    changed = {**PARAMS, "estimate": {**PARAMS["estimate"],
                                      "rounding": PARAMS["estimate"]["rounding"] + 1}}
    q1, n1, s1 = keys(changed)
    assert q1 != q0 and n1 != n0 and s1 != s0         # a parameter: all
    md = sorted(templates.glob("*.md"))[0]
    md.write_text(md.read_text(encoding="utf-8") + "\nUusi virke.\n", encoding="utf-8")
    q2, n2, s2 = keys()
    assert (q2, s2) == (q0, s0) and n2 != n0          # a template: the notebooks only
    (folder / "annex" / "t.csv").write_text("a\n2\n", encoding="utf-8")
    assert keys() == (q2, n2, s2)                      # what the notebooks do not read
    (folder / "published" / "t.csv").write_text("a\n2\n", encoding="utf-8")
    q3, n3, s3 = keys()
    assert (q3, s3) == (q2, s2) and n3 != n2          # a table the notebooks read
    (out / "2023Q1" / "published" / "t.csv").write_text("x\n2\n", encoding="utf-8")
    q4, _, s4 = keys()
    assert q4 != q3 and s4 == s3                      # an earlier quarter's publication
    q5, _, s5 = keys(cut="c1")
    assert q5 != q4 and s5 != s4                      # the quarter's register cut
    (data / "register" / "a.csv").write_text("r2\n", encoding="utf-8")
    (data / "metadata.json").write_text('{"synthetic": true, "extract_date": "2024-02-20"}',
                                        encoding="utf-8")
    assert keys()[::2] == (q4, s4)                     # read through the cut only
    (data / "population.csv").write_text("p\n", encoding="utf-8")
    assert keys()[0] != q4                             # any other input file


def test_a_reused_quarter_keeps_every_part_its_statistics_step_made(tmp_path):
    """Whatever the statistics step writes into OUT/<Q> (the gate's internal
    ``disclosure/`` too) is an output of it: removed, the quarter is made again; when only
    the notebooks run again, every part is carried into the new folder."""
    target = tmp_path / "out" / "2023Q4"
    for name, text in (("tables/counts.csv", "a\n1\n"), ("published/t.csv", "b\n2\n"),
                       ("annex/liite.xlsx", "x"), ("disclosure/loss.csv", "c\n3\n"),
                       ("notebooks/yhteenveto.ipynb", "{}"), ("manifest.json", "{}")):
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        (target / name).write_text(text, encoding="utf-8")
    outputs = pipeline._quarter_outputs(target)
    assert set(outputs) == {"tables", "published", "annex", "disclosure", "manifest.json"}
    StepCache(target.parent).store("quarter-2023Q4", "k", outputs)
    assert StepCache(target.parent).lookup("quarter-2023Q4", "k",
                                           pipeline._quarter_outputs(target))
    again = tmp_path / "again"
    again.mkdir()
    pipeline.copy_statistics(target, again)
    assert tree_hashes(again) == {k: v for k, v in tree_hashes(target).items()
                                  if not k.startswith("notebooks/") and k != "manifest.json"}
    shutil.rmtree(target / "disclosure")
    assert not StepCache(target.parent).lookup("quarter-2023Q4", "k",
                                               pipeline._quarter_outputs(target))


def test_a_register_cut_is_the_csv_text_of_each_table_of_the_quarter():
    """Issue 24: :func:`pipeline.register_cuts` hashes each table's CSV text written once,
    a quarter's cut from its rows' lines; the digest is the one of each cut written on its
    own (``tables_for_quarter``, ``to_csv``), also for the tables whose text cannot be
    split so (a value over two lines; datetimes, written as dates only when every value of
    the column is at midnight) and for an empty cut, whose dtypes differ."""
    import hashlib

    import pandas as pd

    from seuranta.core.cache import digest
    from seuranta.core.quarters import Quarter
    from seuranta.register import stage as register

    qs = [Quarter.parse(q) for q in ("2023Q3", "2023Q4", "2024Q1")]
    counts = pd.DataFrame({"quarter": ["2023Q3", "2023Q4", "2023Q4", "2024Q1"],
                           "name": ["a", 'b,"c"', None, "ä"],
                           "n": pd.array([1, None, 3, 4], dtype="Int64"),
                           "share": [0.1, float("nan"), 1 / 3, 2.0]})
    tables = {"counts": counts, "series_counts": counts.copy(),
              "monthly": counts.assign(note=["x", "rivi\ntoinen", "y", "z"]),
              "age_counts": counts.assign(day=pd.to_datetime(
                  ["2023-07-01 00:00", "2023-10-01 12:00", "2023-11-01 00:00",
                   "2024-01-01 00:00"])),
              "year_counts": pd.DataFrame({"year": [2023, 2024], "n": [5, 6]}),
              "ledger": pd.DataFrame({"rows": [9]})}

    def by_hand(q):
        return digest({n: hashlib.sha256(df.to_csv(index=False).encode("utf-8")).hexdigest()
                       for n, df in sorted(register.tables_for_quarter(tables, q).items())})

    assert pipeline.register_cuts(tables, qs) == {str(q): by_hand(q) for q in qs}
    assert len(set(pipeline.register_cuts(tables, qs).values())) == 3


def _ledger(out):
    return {s["step"]: s["status"] for s in
            json.loads((out / cache_mod.CACHE_DIR / cache_mod.LAST_RUN).read_text())["steps"]}


def _published(out):
    """Every file a publish leaves in OUT (not the cache's records) → sha256."""
    return {k: v for k, v in tree_hashes(out).items() if not k.startswith(".cache/")}


@pytest.mark.slow   # two re-publishes of a copy of the session's small release
@pytest.mark.xdist_group("release")
def test_unchanged_republish_runs_no_step_and_a_broken_entry_or_output_is_made_again(
        release, tmp_path):
    """On a copy of the session's release (published once, cache recorded): an unchanged
    re-publish runs no step, not even the register stage, and changes no byte; then a
    corrupt entry of one quarter and an edited published table of another are both made
    again from their kept statistics (the same bytes come back), while their notebooks and
    the book, whose inputs are by content unchanged, are reused."""
    data, out = release["data"], tmp_path / "out"
    shutil.copytree(release["out"], out, symlinks=True)
    first = _ledger(out)
    quarters = release["quarters"]
    assert set(first.values()) == {"ran"} and "register" in first and "book" in first
    assert {f"quarter-{q}" for q in quarters} | {f"notebooks-{q}" for q in quarters} <= set(first)
    before = _published(out)

    pipeline.publish(data, out, release["params"], pdf=True)
    second = _ledger(out)
    assert set(second.values()) == {"cached"} and set(second) == set(first)
    assert _published(out) == before

    qa, qb = quarters[0], quarters[-1]
    (out / cache_mod.CACHE_DIR / f"quarter-{qa}.json").write_text("{", encoding="utf-8")
    table = sorted((out / qb / "published").glob("*.csv"))[0]
    table.chmod(0o644)
    table.write_text(table.read_text(encoding="utf-8") + "9,9,9\n", encoding="utf-8")
    pipeline.publish(data, out, release["params"], pdf=True)
    third = _ledger(out)
    # the statistics (and the register stage) are reused: only the two quarters' gate
    # and annexes run again, from their kept exact tables
    assert {s for s, st in third.items() if st == "ran"} == {f"quarter-{qa}", f"quarter-{qb}"}
    assert all(third[f"notebooks-{q}"] == "cached" for q in quarters)
    assert third["book"] == "cached"
    assert _published(out) == before


# --------------------------------------------------------------------------- what a quarter reads

def _tables_digest(tables) -> dict[str, str]:
    """Each table of a quarter (as ``quarter_tables`` returns them) → sha256 of its CSV."""
    import hashlib
    return {n: hashlib.sha256(df.to_csv(index=False).encode("utf-8")).hexdigest()
            for n, df in sorted(tables.items())}


class _Statistics:
    """The register stage of a data folder as a publish runs it (one stage for every
    quarter) and, made from it, the digest of each table of a quarter, computed
    independently of any key by the statistics of that quarter. These, and the stage's
    register cuts, are kept by the folder's exact content (every file's bytes): a folder
    with the same bytes as one already run gives the same results, whatever its path. The
    quarters share one estimation memo,
    as a publish's quarters do (:mod:`seuranta.statistics.memo`: a fit is reused only on a
    frame and arguments identical byte for byte)."""

    def __init__(self, params, quarters):
        from seuranta.statistics.memo import EstimationMemo
        self.params, self.quarters = params, quarters
        self.memo = EstimationMemo()
        self._stages: dict = {}
        self._cuts: dict = {}
        self._tables: dict = {}

    @staticmethod
    def _content(data) -> str:
        import hashlib
        h = hashlib.sha256()
        for p in sorted(data.rglob("*")):
            if p.is_file():
                h.update(str(p.relative_to(data)).encode("utf-8") + b"\0")
                h.update(hashlib.sha256(p.read_bytes()).digest())
        return h.hexdigest()

    def stage(self, data):
        """(the folder's content digest, its register stage's tables)."""
        from seuranta.register import stage as register
        c = self._content(data)
        if c not in self._stages:
            self._stages[c] = register.run_register_stage(data, self.quarters, self.params)
        return c, self._stages[c]

    def cuts(self, data):
        """Each quarter's register cut (:func:`seuranta.pipeline.register_cuts`) of the
        folder's register stage, kept by the folder's content as the stage is."""
        c, rt = self.stage(data)
        if c not in self._cuts:
            self._cuts[c] = pipeline.register_cuts(rt, self.quarters)
        return self._cuts[c]

    def tables(self, data, q):
        """The digest of each table of quarter ``q`` made from ``data``."""
        from seuranta.statistics.quarter import quarter_tables
        c, rt = self.stage(data)
        if (c, q) not in self._tables:
            self._tables[c, q] = _tables_digest(quarter_tables(
                q, data, self.params, register_tables=rt, memo=self.memo))
        return self._tables[c, q]


def _edit_csv(path, change):
    import pandas as pd
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    change(df).to_csv(path, index=False)


def _drop_a_register_row_starting_in(q):
    """An edit: drop one register row of a period that starts in quarter ``q`` and is its
    client's only row of that task (so that the quarter's count changes), from the file
    that holds it (rewritten as read: text)."""
    import pandas as pd

    def edit(d):
        files = sorted((d / "register").glob("*.csv"))
        frames = {f: pd.read_csv(f, dtype=str, keep_default_na=False) for f in files}
        every = pd.concat(frames.values())
        pairs = every.groupby(["client_id", "service_task"]).size()
        for f, df in frames.items():
            start = pd.to_datetime(df["start_date"], errors="coerce")
            only = [pairs.get((c, t), 0) == 1 for c, t in zip(df["client_id"], df["service_task"])]
            hit = df.index[(start >= pd.Timestamp(q.start)) & (start <= pd.Timestamp(q.end))
                           & pd.Series(only, index=df.index)]
            if len(hit):
                df.drop(index=hit[0]).to_csv(f, index=False, lineterminator="\n")
                return
        raise AssertionError(f"no register row of a period starting in {q}")
    return edit


def _key_check(tmp_path, base, stats, edits, versions=None, verified=None):
    """For each edit of a copy of ``base`` (name → (edit, the quarters whose key it must
    change)): the quarters whose key changed, and those of ``verified`` whose key did not
    change but whose tables, made again independently (``stats``: :class:`_Statistics`),
    did (stale: a needed input is not in the key). ``versions``: the class that makes the
    keys (pipeline.Versions)."""
    versions = versions or pipeline.Versions
    templates = pipeline.NOTEBOOK_DIR
    params, quarters = stats.params, stats.quarters
    cuts0 = stats.cuts(base)
    keys0 = {q: versions(base, params, "utf-8", templates).quarter_inputs(str(q), cuts0[str(q)])
             for q in quarters}
    stale, wrong = [], []
    for name, (edit, must_change) in edits.items():
        d = tmp_path / name.replace(" ", "_")
        shutil.copytree(base, d)
        edit(d)
        cuts = stats.cuts(d)
        v = versions(d, params, "utf-8", templates)
        changed = {q for q in quarters if v.quarter_inputs(str(q), cuts[str(q)]) != keys0[q]}
        if changed != must_change:
            wrong.append((name, sorted(map(str, changed)), sorted(map(str, must_change))))
        for q in verified or quarters:
            if q not in changed and stats.tables(d, q) != stats.tables(base, q):
                stale.append((name, str(q)))
    return wrong, stale


@pytest.mark.slow   # the register and statistics stages of a quarter, some twenty times
def test_a_quarter_key_holds_every_input_its_tables_are_made_from(tmp_path):
    """A quarter's key leaves out what a quarter does not read (the cost ledger, the demo's
    truth, review decisions on later quarters, the extract-wide ledger, rejected rows and
    flags, register rows and extract dates that do not reach its counts), so those re-run
    only the quarters that read them; for every edit of the data folder, a key that stays
    the same must come with the same tables, computed independently by the statistics of
    that quarter (a key that omitted an input a quarter reads would be a stale table).
    Each edit also changes the key of exactly the quarters it must change. And the check
    catches a key that leaves out an input: without the register cut, a new register row
    of the newest quarter leaves that quarter's key unchanged and its tables stale."""
    import pandas as pd

    from seuranta.demo import generator as demo
    from seuranta.inputs.datafolder import publication_quarters
    base = tmp_path / "base"
    demo.generate(base, scale=0.01, seed=3)
    params = load_params()
    quarters = publication_quarters(base, params)
    early, newest = quarters[1], quarters[-1]
    corr = base / "corrections.csv"
    assert {str(early), str(newest)} <= set(pd.read_csv(corr, dtype=str)["quarter"])

    def decision_dropped(q):   # the first review decision on quarter q removed
        def change(df):
            return df.drop(index=df.index[df["quarter"] == str(q)][0])
        return lambda d: _edit_csv(d / "corrections.csv", change)

    def delivery_changed(d):
        def change(df):
            df.loc[df.index[0], "covered_from"] = "2023-02-01"
            return df
        _edit_csv(d / "deliveries.csv", change)

    def population_changed(d):
        def change(df):
            df.loc[df.index[0], "population"] = str(int(df.loc[df.index[0], "population"]) + 7)
            return df
        _edit_csv(d / "population.csv", change)

    def cost_ledger_changed(d):
        f = sorted((d / "costs").rglob("*.csv"))[0]
        f.write_text(f.read_text(encoding="utf-8") + "\n", encoding="utf-8")

    def truth_changed(d):
        f = d / "truth.csv"
        f.write_text(f.read_text(encoding="utf-8") + "\n", encoding="utf-8")

    def extract_date_moved(d):   # later: no period starts after the old date
        meta = json.loads((d / "metadata.json").read_text(encoding="utf-8"))
        meta["extract_date"] = "2024-02-20"
        (d / "metadata.json").write_text(json.dumps(meta), encoding="utf-8")

    def faulty_row_added(d):   # a row the validation rejects: the extract's ledger only
        f = sorted((d / "register").glob("*.csv"))[0]
        lines = f.read_text(encoding="utf-8").splitlines()
        bad = lines[1].split(",")
        bad[lines[0].split(",").index("municipality_code")] = "999"   # no such municipality
        f.write_text("\n".join([*lines, ",".join(bad)]) + "\n", encoding="utf-8")

    # edit → the quarters whose key it must change (the others' keys must not change)
    edits = {"decision on the newest quarter": (decision_dropped(newest), {newest}),
             "decision on an earlier quarter": (decision_dropped(early), set(quarters[1:])),
             "deliveries.csv": (delivery_changed, set(quarters)),
             "a register row of the newest quarter": (
                 _drop_a_register_row_starting_in(newest), {newest}),
             "a register row of an earlier quarter": (
                 _drop_a_register_row_starting_in(early), set(quarters[1:])),
             "a faulty register row": (faulty_row_added, set()),
             "population.csv": (population_changed, set(quarters)),
             "extract date": (extract_date_moved, set()),
             "cost ledger": (cost_ledger_changed, set()),
             "demo truth": (truth_changed, set())}
    stats = _Statistics(params, quarters)
    wrong, stale = _key_check(tmp_path, base, stats, edits,
                              verified=[quarters[0], early, newest])
    assert not wrong, wrong
    assert not stale, stale
    # the faulty row changes the extract's ledger (published once) and no quarter
    d = tmp_path / "a_faulty_register_row"
    assert not stats.stage(d)[1]["ledger"].equals(stats.stage(base)[1]["ledger"])

    class WithoutCut(pipeline.Versions):   # the safeguard bypassed: no register cut
        def quarter_inputs(self, quarter, cut):
            return super().quarter_inputs(quarter, "")

    edit = {"a register row of the newest quarter": edits[
        "a register row of the newest quarter"]}
    _, stale = _key_check(tmp_path / "bypassed", base, stats, edit,
                          versions=WithoutCut, verified=[newest])
    assert stale == [("a register row of the newest quarter", str(newest))]


def _verify_sharing_fits(monkeypatch):
    """``seuranta verify`` of the quarters a test verifies one after another, their
    statistics sharing one estimation memo (as a publish's quarters share theirs,
    :mod:`seuranta.statistics.memo`: a fit is reused only on a frame and arguments
    identical byte for byte): every table is still made again from the data folder, by its
    own register stage, and compared with the manifest's (issue 24: each quarter fitted
    the earlier quarters' series again)."""
    from functools import partial

    from seuranta import verification
    from seuranta.statistics.memo import EstimationMemo

    monkeypatch.setattr(verification, "quarter_tables",
                        partial(verification.quarter_tables, memo=EstimationMemo()))
    return verification.verify_quarter


@pytest.mark.slow   # one quarter's statistics and notebooks, three quarters verified
@pytest.mark.xdist_group("release")
def test_a_review_decision_on_the_newest_quarter_re_runs_only_that_quarter(release, tmp_path,
                                                                           monkeypatch):
    """The review round's feedback on the newest quarter (a new row of corrections.csv,
    the usual change between two publishes of one extract) makes that quarter's statistics
    and notebooks again and reuses the earlier quarters; their manifests record the new
    inputs, and each reused quarter re-run from its manifest (``seuranta verify``, which
    computes its tables again from the data folder) gives the same tables and files."""
    import io

    import pandas as pd

    from seuranta.core import reference
    from seuranta.core.provenance import input_hashes
    from seuranta.core.quarters import Quarter
    from seuranta.core.reproducible import fixed_environment, pin_publication_date
    from seuranta.inputs.datafolder import extract_date
    from seuranta.publication import releases
    from seuranta.register import stage as register

    verify_quarter = _verify_sharing_fits(monkeypatch)
    data, out = tmp_path / "data", tmp_path / "out"
    shutil.copytree(release["data"], data)
    shutil.copytree(release["out"], out, symlinks=True)
    params = pin_publication_date(release["params"])
    quarters = [Quarter.parse(q) for q in release["quarters"]]
    newest = str(quarters[-1])
    corr = pd.read_csv(data / "corrections.csv", dtype=str, keep_default_na=False)
    taken = set(zip(corr["quarter"], corr["municipality_code"], corr["service_task"]))
    code = next(c for c in reference.mainland_municipalities()["municipality_code"]
                if (newest, c, "iakkaat") not in taken)
    row = {c: "" for c in corr.columns} | {"quarter": newest, "municipality_code": code,
                                           "service_task": "iakkaat", "decision": "exclude",
                                           "reason": "Alueen palaute: toimitus vajaa"}
    pd.concat([corr, pd.DataFrame([row])]).to_csv(data / "corrections.csv", index=False)

    cache = StepCache(out)
    rid = releases.release_id(newest, extract_date(data, params), params)
    made = []

    def register_tables():   # the stage once, as publish_quarters runs it
        if not made:
            made.append(register.run_register_stage(data, quarters, params))
        return made[0]

    with fixed_environment(params):
        pipeline._run_quarters(
            quarters, data, out, params, "utf-8", register_tables, rid, cache,
            pipeline.Versions(data, params, "utf-8", pipeline.NOTEBOOK_DIR))
    assert {s for s, st in cache.steps if st == "ran"} == {
        f"statistics-{newest}", f"quarter-{newest}", f"notebooks-{newest}"}
    inputs = input_hashes(data)
    for q in release["quarters"]:
        manifest = json.loads((out / q / pipeline.MANIFEST).read_text(encoding="utf-8"))
        assert manifest["inputs"] == inputs and manifest["data_dir"] == str(data.resolve())
    for q in release["quarters"][:-1]:
        report = io.StringIO()
        assert verify_quarter(q, out, stream=report), report.getvalue()


def _paper_sources(out, quarters, params, into, pixel):
    """Issue 24 (s8n): ``{quarter: (PDF cache key, .tex text)}`` of each quarter's working
    paper of the book staged from ``out`` (as ``book.build_book`` stages and the LaTeX
    builder writes it, each paper with its own date, without compiling). ``pixel``: the
    picture of the comparison pages' charts (conftest's ``undrawn_charts``), which must not
    reach the LaTeX folder (a paper that showed one would have a key blind to the chart)."""
    from seuranta.core.provenance import tool_versions
    from seuranta.publication import book

    stage = book.stage_book(out, quarters, True, params, pdf=False, into=into)
    latex_dir, docs = book.latex_sources(stage, quarters, params,
                                         book.paper_dates(out, quarters, params))
    assert not [f.name for f in latex_dir.iterdir() if f.is_file() and f.read_bytes() == pixel]
    tools = tool_versions(pdf=True)
    return {q: (book.pdf_key(latex_dir, f"seuranta-{q}", tools, docs[f"seuranta-{q}"]),
                (latex_dir / f"seuranta-{q}.tex").read_text(encoding="utf-8"))
            for q in quarters}


def _previous_extract():
    """bench/run_bench.py's ``previous_extract``: a data folder as it was one quarter
    earlier (the benchmark's "new quarter" sequence and this test share it)."""
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parent.parent / "bench" / "run_bench.py"
    spec = importlib.util.spec_from_file_location("run_bench", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.previous_extract


@pytest.mark.slow   # the quarters of two publishes (statistics, gate, notebooks; no book)
def test_a_new_extract_re_runs_only_the_new_quarter(tmp_path, undrawn_charts, monkeypatch):
    """The quarters of a publish from the next extract (one more quarter complete) into the
    OUT of the previous extract's publication (its release kept): the register stage runs
    (the extract's row ledger, published once in ``OUT/register/``, changes); the new
    quarter is made; the earlier quarters' statistics are reused (their register cut and
    other inputs are unchanged), only their gate and annexes run again (the previous
    release is now known to the reader) and, their published tables coming out the same,
    their notebooks are reused. Each reused quarter, re-run from its manifest
    (``seuranta verify``), gives the same tables."""
    import datetime as dt
    import io

    from seuranta.core.params import as_params
    from seuranta.core.reproducible import fixed_environment, pin_publication_date
    from seuranta.demo import generator as demo
    from seuranta.inputs.datafolder import extract_date, publication_quarters
    from seuranta.publication import releases

    verify_quarter = _verify_sharing_fits(monkeypatch)
    data, prev, out = tmp_path / "data", tmp_path / "previous", tmp_path / "out"
    demo.generate(data, scale=0.01, seed=3)
    _previous_extract()(data, prev)
    params = load_params()
    # 2023Q1–Q3, then 2023Q4 too: the year 2023 becomes complete (its year tables appear)
    params["publication"]["first_quarter"] = "2023Q1"
    params = pin_publication_date(params)

    # issue 24 (s8n): the second release is published on a later date (its seal says so)
    later = dt.date.fromisoformat(str(params["publication"]["date"])) + dt.timedelta(days=92)

    def publish_quarters(d, day):
        quarters = publication_quarters(d, params)
        rid = releases.release_id(str(max(quarters)), extract_date(d, params), params)
        cache = StepCache(out)
        with fixed_environment(params):
            pipeline.publish_quarters(d, out, params, quarters, "utf-8", rid, cache,
                                      pipeline.Versions(d, params, "utf-8",
                                                        pipeline.NOTEBOOK_DIR))
            releases.write_release(out, [str(q) for q in quarters], rid,   # its date: s8n
                                   {"publication_date": str(day)})
        return [str(q) for q in quarters], dict(cache.steps)

    before, _ = publish_quarters(prev, params["publication"]["date"])
    ledger_before = (out / "register" / "published" / "ledger.csv").read_bytes()
    notebooks_before = {q: tree_hashes(out / q / "notebooks") for q in before}
    with fixed_environment(params):   # issue 24 (s8n): the papers' LaTeX sources, see below
        papers_before = _paper_sources(out, before, params, tmp_path / "book-1",
                                       undrawn_charts)
    after, steps = publish_quarters(data, later)
    new = sorted(set(after) - set(before))
    assert len(new) == 1 and before == after[:-1]
    assert steps["register"] == "ran"
    assert (out / "register" / "published" / "ledger.csv").read_bytes() != ledger_before
    ran = {s for s, st in steps.items() if st == "ran"}
    assert ran == {"register"} | {f"{step}-{new[0]}" for step in
                                  ("statistics", "quarter", "notebooks")} | {
        f"quarter-{q}" for q in before}
    for q in before:
        assert steps[f"statistics-{q}"] == steps[f"notebooks-{q}"] == "cached"
        assert tree_hashes(out / q / "notebooks") == notebooks_before[q]
        assert not (out / q / "tables" / "ledger.csv").exists()
        report = io.StringIO()
        assert verify_quarter(q, out, stream=report), report.getvalue()
    # issue 24 (s8n): each earlier quarter's working paper describes its own quarter, so
    # its LaTeX sources are byte-identical after the new quarter and its PDF's cache key is
    # the same (book.cached_latexmk copies it instead of compiling); the new release's id,
    # row ledger, newest quarter and date are on the book's pages only, not in any paper.
    # The book of the new release is staged with a later publication date: an unchanged
    # paper keeps the date of the release that first published it (book.paper_dates)
    params_later = as_params({**params, "publication": {**params["publication"],
                                                        "date": later.isoformat()}})
    with fixed_environment(params_later):
        papers_after = _paper_sources(out, after, params_later, tmp_path / "book-2",
                                      undrawn_charts)
    for q in before:
        assert papers_after[q] == papers_before[q], q
    rid = releases.release_id(after[-1], extract_date(data, params), params)
    assert all(rid not in tex for _key, tex in papers_after.values())
    new_key, new_tex = papers_after[new[0]]
    assert new_key not in {key for key, _tex in papers_before.values()}
    assert f"\\renewcommand{{\\seurantapaiva}}{{{later.day}.{later.month}.{later.year}}}" in new_tex
