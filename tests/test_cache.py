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
    published tables (the gate's priors) in a quarter's."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "metadata.json").write_text('{"synthetic": true}', encoding="utf-8")
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

    def keys(params=PARAMS):
        v = pipeline.Versions(data, params, "utf-8", templates)
        return (pipeline._quarter_key(v, "2023Q2", out, None, earlier),
                pipeline._notebooks_key(v, "2023Q2", folder))

    q0, n0 = keys()
    assert keys() == (q0, n0)
    changed = {**PARAMS, "estimate": {**PARAMS["estimate"],
                                      "rounding": PARAMS["estimate"]["rounding"] + 1}}
    q1, n1 = keys(changed)
    assert q1 != q0 and n1 != n0                       # a parameter: both
    md = sorted(templates.glob("*.md"))[0]
    md.write_text(md.read_text(encoding="utf-8") + "\nUusi virke.\n", encoding="utf-8")
    q2, n2 = keys()
    assert q2 == q0 and n2 != n0                       # a template: the notebooks only
    (folder / "published" / "t.csv").write_text("a\n2\n", encoding="utf-8")
    q3, n3 = keys()
    assert q3 == q2 and n3 != n2                       # a table the notebooks read
    (out / "2023Q1" / "published" / "t.csv").write_text("x\n2\n", encoding="utf-8")
    q4 = keys()[0]
    assert q4 != q3                                    # an earlier quarter's publication
    (data / "register.csv").write_text("r\n", encoding="utf-8")
    assert keys()[0] != q4                             # an input file


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
    again (the same bytes come back), while their notebooks and the book, whose inputs
    are by content unchanged, are reused."""
    data, out = release["data"], tmp_path / "out"
    shutil.copytree(release["out"], out, symlinks=True)
    first = _ledger(out)
    quarters = release["quarters"]
    assert set(first.values()) == {"ran"} and "register" in first and "book" in first
    assert {f"quarter-{q}" for q in quarters} | {f"notebooks-{q}" for q in quarters} <= set(first)
    before = _published(out)

    pipeline.publish(data, out, release["params"], pdf=True)
    second = _ledger(out)
    assert "register" not in second and set(second.values()) == {"cached"}
    assert set(second) == set(first) - {"register"}
    assert _published(out) == before

    qa, qb = quarters[0], quarters[-1]
    (out / cache_mod.CACHE_DIR / f"quarter-{qa}.json").write_text("{", encoding="utf-8")
    table = sorted((out / qb / "published").glob("*.csv"))[0]
    table.chmod(0o644)
    table.write_text(table.read_text(encoding="utf-8") + "9,9,9\n", encoding="utf-8")
    pipeline.publish(data, out, release["params"], pdf=True)
    third = _ledger(out)
    assert third["register"] == "ran"
    assert {s for s, st in third.items() if st == "ran"} == {
        "register", f"quarter-{qa}", f"quarter-{qb}"}
    assert all(third[f"notebooks-{q}"] == "cached" for q in quarters)
    assert third["book"] == "cached"
    assert _published(out) == before


# --------------------------------------------------------------------------- what a quarter reads

def _tables_digest(tables) -> dict[str, str]:
    """Each table of a quarter (as ``quarter_tables`` returns them) → sha256 of its CSV."""
    import hashlib
    return {n: hashlib.sha256(df.to_csv(index=False).encode("utf-8")).hexdigest()
            for n, df in sorted(tables.items())}


def _quarter_tables(data, params, quarters, q):
    """Quarter ``q``'s tables made from ``data`` as a publish makes them (one register stage
    for every quarter), as the digest of each table."""
    from seuranta.register import stage as register
    from seuranta.statistics.quarter import quarter_tables
    rt = register.run_register_stage(data, quarters, params)
    return _tables_digest(quarter_tables(q, data, params, register_tables=rt))


def _edit_csv(path, change):
    import pandas as pd
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    change(df).to_csv(path, index=False)


@pytest.mark.slow   # the register and statistics stages of a quarter, some ten times
def test_a_quarter_key_holds_every_input_its_tables_are_made_from(tmp_path):
    """A quarter's key leaves out what a quarter does not read (the cost ledger, the demo's
    truth, review decisions on later quarters), so those re-run only the quarters that read
    them; for every edit of the data folder, a key that stays the same must come with the
    same tables, computed independently by the statistics of that quarter (a key that
    omitted an input a quarter reads would be a stale table). Each edit also changes the
    key of a quarter it must change."""
    from seuranta.demo import generator as demo
    from seuranta.inputs.datafolder import publication_quarters
    base = tmp_path / "base"
    demo.generate(base, scale=0.01, seed=3)
    params = load_params()
    quarters = publication_quarters(base, params)
    early, newest = quarters[1], quarters[-1]
    corr = base / "corrections.csv"
    assert {str(early), str(newest)} <= set(
        __import__("pandas").read_csv(corr, dtype=str)["quarter"])

    def decision_dropped(q):   # the first review decision on quarter q removed
        def change(df):
            return df.drop(index=df.index[df["quarter"] == str(q)][0])
        return lambda d: _edit_csv(d / "corrections.csv", change)

    def delivery_changed(d):
        def change(df):
            df.loc[df.index[0], "covered_from"] = "2023-02-01"
            return df
        _edit_csv(d / "deliveries.csv", change)

    def register_row_dropped(d):   # the last row of a register file
        f = sorted((d / "register").glob("*.csv"))[0]
        lines = f.read_text(encoding="utf-8").splitlines(keepends=True)
        f.write_text("".join(lines[:-1]), encoding="utf-8")

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

    def extract_date_moved(d):
        meta = json.loads((d / "metadata.json").read_text(encoding="utf-8"))
        meta["extract_date"] = "2024-02-20"
        (d / "metadata.json").write_text(json.dumps(meta), encoding="utf-8")

    # edit → the quarters whose key it must change (the others' keys must not change)
    edits = {"decision on the newest quarter": (decision_dropped(newest), {newest}),
             "decision on an earlier quarter": (decision_dropped(early), set(quarters[1:])),
             "deliveries.csv": (delivery_changed, set(quarters)),
             "a register row": (register_row_dropped, set(quarters)),
             "population.csv": (population_changed, set(quarters)),
             "extract date": (extract_date_moved, set(quarters)),
             "cost ledger": (cost_ledger_changed, set()),
             "demo truth": (truth_changed, set())}
    templates = pipeline.NOTEBOOK_DIR
    keys0 = {q: pipeline.Versions(base, params, "utf-8", templates).quarter_inputs(str(q))
             for q in quarters}
    before = {}
    for name, (edit, must_change) in edits.items():
        d = tmp_path / name.replace(" ", "_")
        shutil.copytree(base, d)
        edit(d)
        v = pipeline.Versions(d, params, "utf-8", templates)
        changed = {q for q in quarters if v.quarter_inputs(str(q)) != keys0[q]}
        assert changed == must_change, name
        # where the key stayed the same, the tables must be too (independently computed)
        for q in (quarters[0], early, quarters[2]):
            if q not in changed:
                if q not in before:
                    before[q] = _quarter_tables(base, params, quarters, q)
                assert _quarter_tables(d, params, quarters, q) == before[q], \
                    f"{name}: the key of {q} is unchanged but its tables are not"
        if name == "a register row":   # the whole extract's ledger is in every quarter
            from seuranta.register import stage as register
            assert not register.run_register_stage(d, quarters, params)["ledger"].equals(
                register.run_register_stage(base, quarters, params)["ledger"])


@pytest.mark.slow   # one quarter's statistics and notebooks, three quarters verified
@pytest.mark.xdist_group("release")
def test_a_review_decision_on_the_newest_quarter_re_runs_only_that_quarter(release, tmp_path):
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
    from seuranta.verification import verify_quarter

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
    with fixed_environment(params):
        pipeline._run_quarters(
            quarters, data, out, params, "utf-8",
            lambda: register.run_register_stage(data, quarters, params), rid, cache,
            pipeline.Versions(data, params, "utf-8", pipeline.NOTEBOOK_DIR))
    assert {s for s, st in cache.steps if st == "ran"} == {f"quarter-{newest}",
                                                          f"notebooks-{newest}"}
    inputs = input_hashes(data)
    for q in release["quarters"]:
        manifest = json.loads((out / q / pipeline.MANIFEST).read_text(encoding="utf-8"))
        assert manifest["inputs"] == inputs and manifest["data_dir"] == str(data.resolve())
    for q in release["quarters"][:-1]:
        report = io.StringIO()
        assert verify_quarter(q, out, stream=report), report.getvalue()
