"""The ``seuranta`` command: one sub-command per job of the data contract
(``docs/data-contract.md`` section 4).

Bad input ends with a one-line message on stderr and a non-zero exit status. Progress and
messages go through :mod:`logging` (logger ``seuranta``) to stderr: ``--quiet`` shows
warnings and errors only, ``--verbose`` adds debug messages; results (paths written,
verification reports) are the command's output on stdout.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from seuranta import pipeline, verification
from seuranta.core import reference
from seuranta.core.errors import DisclosureError, InputError
from seuranta.core.params import load_params
from seuranta.core.provenance import load_manifest, recorded_params
from seuranta.costs import model as costs
from seuranta.demo import generator as demo
from seuranta.publication import gate
from seuranta.register import stage as register
from seuranta.review import feedback
from seuranta.review import workbooks as review

log = logging.getLogger("seuranta")


class _StderrHandler(logging.StreamHandler):
    """Writes to the current ``sys.stderr`` (which tests and callers may replace)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


def setup_logging(level: int = logging.INFO) -> None:
    """Messages of every ``seuranta.*`` logger to stderr, one line each, at ``level``."""
    if not any(isinstance(h, _StderrHandler) for h in log.handlers):
        h = _StderrHandler()
        h.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(h)
        log.propagate = False
    log.setLevel(level)


class UserError(Exception):
    """An error caused by input or arguments, reported as one line without a traceback."""


def _cmd_reference(args) -> int:
    files = reference.build_reference(Path(args.shared), Path(args.out))
    for f in files:
        print(f)
    return 0


DEFAULT_DATA = "data/demo"
DEFAULT_OUT = "build"


def _params(args):
    return load_params(getattr(args, "params", None))


def _cmd_run(args) -> int:
    target = pipeline.run_quarter(args.quarter, Path(args.data), Path(args.out), _params(args),
                                  encoding=args.encoding)
    print(target)
    return 0


def _cmd_publish(args) -> int:
    pipeline.publish(Path(args.data), Path(args.out), _params(args), scale=args.scale,
                     seed=args.seed, pdf=not args.no_pdf, encoding=args.encoding,
                     use_cache=not args.no_cache)
    log.info("published into %s/", args.out)
    return 0


def _cmd_notebooks(args) -> int:
    templates = Path(args.templates) if args.templates else pipeline.NOTEBOOK_DIR
    for nb in pipeline.run_notebooks(args.quarter, Path(args.out), _params(args),
                                     only=args.only, templates=templates):
        print(nb)
    return 0


def _cmd_book(args) -> int:
    print(pipeline.build_book_only(Path(args.out), _params(args), quarter=args.quarter,
                                   pdf=not args.no_pdf))
    return 0


def _given_params(args):
    """``--params`` of a verification: loaded when given (used only if every value is the
    recorded one), None when not."""
    return load_params(args.params) if getattr(args, "params", None) else None


def _cmd_verify(args) -> int:
    if (args.quarter is None) == (args.costs is None):
        raise UserError("verify: give exactly one of --quarter Q or --costs YEAR")
    if args.costs is not None:
        if args.data is not None:
            raise UserError("verify --costs: --data is not supported (the cost manifest "
                            "records every file it read)")
        given = _given_params(args)
        if given is not None:   # refused unless identical to the recorded values
            recorded_params(load_manifest(Path(args.out) / "costs" / str(args.costs)
                                          / "manifest.json", f"costs {args.costs}",
                                          "seuranta costs", check_data=False), given)
        return 0 if costs.verify_costs(args.costs, Path(args.out)) else 1
    return 0 if verification.verify_quarter(args.quarter, Path(args.out),
                                            data_dir=args.data,
                                            given_params=_given_params(args)) else 1


def _cmd_verify_release(args) -> int:
    ok = verification.verify_release(
        Path(args.release), data_dir=Path(args.data) if args.data else None,
        given_params=_given_params(args),
        releases_dir=Path(args.releases) if args.releases else None,
        keep=Path(args.keep) if args.keep else None)
    return 0 if ok else 1


#: ``--params`` of the verifications: a re-run always uses the recorded values.
VERIFY_PARAMS_HELP = ("parameters file: refused unless every value is the one the manifest "
                      "records (the re-run always uses the recorded values)")


def _cmd_audit(args) -> int:
    from seuranta.audit import attack
    params = _params(args)
    report = attack.audit(Path(args.out), int(params["disclosure"]["min_count"]),
                          int(params["estimate"]["rounding"]))
    print(report.text())
    return 0 if report.ok else 1


def _common(p, data=True, out=True):
    if data:
        p.add_argument("--data", default=DEFAULT_DATA, help="data folder (default: %(default)s)")
    if out:
        p.add_argument("--out", default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    p.add_argument("--params", default=None, help="parameters file (default: parameters.yml)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seuranta", description=__doc__.splitlines()[0])
    p.add_argument("--debug", action="store_true",
                   help="show the Python traceback of an error (anywhere on the command line)")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="warnings and errors only (anywhere on the command line)")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="debug messages too (anywhere on the command line)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser("reference", help="build data/reference/ from ../shared/reference/")
    r.add_argument("--shared", default=str(Path("..") / "shared" / "reference"),
                   help="folder with municipalities_2023.csv and population_2022.csv")
    r.add_argument("--out", default=str(reference.REFERENCE_DIR), help="output folder")
    r.set_defaults(func=_cmd_reference)

    r = sub.add_parser("run", help="one quarter through every stage and papermill into OUT/<quarter>/")
    r.add_argument("--quarter", required=True, help="quarter, e.g. 2023Q1")
    _common(r)
    r.add_argument("--encoding", default="utf-8", help="encoding of register CSV files")
    r.set_defaults(func=_cmd_run)

    r = sub.add_parser("publish", help="the main job: demo data if none, every quarter, "
                                       "annexes, the book as HTML and PDF")
    _common(r)
    r.add_argument("--scale", type=float, default=0.05,
                   help="scale of demo data generated when the data folder is empty")
    r.add_argument("--seed", type=int, default=None, help="seed of generated demo data")
    r.add_argument("--no-pdf", action="store_true", help="build the HTML book only")
    r.add_argument("--encoding", default="utf-8", help="encoding of register CSV files")
    r.add_argument("--no-cache", action="store_true",
                   help="make every step again (default: a step whose inputs, parameters and "
                        "code are unchanged since OUT/.cache recorded it is not run again)")
    r.set_defaults(func=_cmd_publish)

    r = sub.add_parser("notebooks", help="execute a quarter's notebooks again from the tables "
                                         "of its earlier run (no statistics re-run)")
    r.add_argument("--quarter", required=True, help="quarter, e.g. 2023Q1")
    r.add_argument("--only", default=None, metavar="NAME",
                   help="only this notebook of the plan (e.g. yhteenveto)")
    r.add_argument("--templates", default=None, metavar="DIR",
                   help="folder of the notebook templates and plan.yml (default: notebooks/)")
    _common(r, data=False)
    r.set_defaults(func=_cmd_notebooks)

    r = sub.add_parser("book", help="build the book again from the executed notebooks in OUT "
                                    "(with --quarter: a preview of that quarter's pages)")
    r.add_argument("--quarter", default=None,
                   help="build OUT/preview/<Q>/ with this quarter's pages only")
    r.add_argument("--no-pdf", action="store_true", help="build the HTML book only")
    _common(r, data=False)
    r.set_defaults(func=_cmd_book)

    r = sub.add_parser("verify", help="re-run a quarter (or a cost year) from its manifest and "
                                      "report table by table whether the results are identical")
    r.add_argument("--quarter", default=None, help="quarter, e.g. 2023Q1")
    r.add_argument("--costs", default=None, metavar="YEAR",
                   help="cost year of OUT/costs/<year>/, e.g. 2023 (instead of --quarter)")
    r.add_argument("--out", default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    r.add_argument("--data", default=None,
                   help="data folder (default: the one the manifest records; give it when "
                        "the folder moved: its input hashes must be the recorded ones)")
    r.add_argument("--params", default=None, help=VERIFY_PARAMS_HELP)
    r.set_defaults(func=_cmd_verify)

    r = sub.add_parser("audit", help="attack every release in OUT with only its public files: "
                                     "exit 1 when a suppressed figure is pinned or narrowed")
    _common(r, data=False)
    r.set_defaults(func=_cmd_audit)

    r = sub.add_parser("verify-release",
                       help="check a kept release file by file against its manifest; with "
                            "--data, publish it again from its record and compare every file")
    r.add_argument("release", help="release folder, e.g. build/releases/2023Q4-20240215")
    r.add_argument("--data", default=None,
                   help="data folder of the release's inputs: re-publish into a temporary "
                        "folder and compare (without it: the folder's files only)")
    r.add_argument("--params", default=None, help=VERIFY_PARAMS_HELP)
    r.add_argument("--releases", default=None, metavar="DIR",
                   help="folder of the earlier releases the gate treated as known (default: "
                        "the release's own parent folder)")
    r.add_argument("--keep", default=None, metavar="DIR",
                   help="publish the re-run into this new folder and keep it (default: a "
                        "temporary folder, removed)")
    r.set_defaults(func=_cmd_verify_release)

    demo.add_parser(sub)
    register.add_parser(sub)
    review.add_parser(sub)
    feedback.add_parser(sub)
    costs.add_parser(sub, publish=gate.publish_costs)
    return p


def _check_out(args) -> None:
    """``--out`` must name a folder (or nothing yet) outside the data folder: refuse a file,
    or an output folder inside ``--data`` (its files and the run's temporary folders would
    count as inputs: the run's own manifest could never verify), before any work."""
    out = getattr(args, "out", None)
    if out and Path(out).exists() and not Path(out).is_dir():
        raise UserError(f"{out}: not a folder (--out names the output folder)")
    data = getattr(args, "data", None)
    if out and data:
        o, d = Path(out).resolve(), Path(data).resolve()
        if o == d or d in o.parents:
            raise UserError(f"{out}: the output folder lies inside the data folder {data} "
                            "(outputs would count as inputs): choose an --out outside it")


def _one_line(e: BaseException, where: str | None = None) -> str:
    """The one line reported for an input or file-system problem: the path first (an
    operating-system error without a file name, such as a full disk during a write, names
    ``where``: the output folder, else the data folder)."""
    if isinstance(e, OSError) and not isinstance(e, InputError):
        what = e.strerror or type(e).__name__
        if e.filename is not None and e.filename2 is not None:
            return f"{e.filename} -> {e.filename2}: {what}"
        if e.filename is not None:
            return f"{e.filename}: {what}"
        if where:
            return f"{where}: {what} (while writing into it)"
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def main(argv: list[str] | None = None) -> int:
    """Run one command. Bad input, a missing or unwritable file and a full disk end with
    one line ``seuranta: error: PATH: what`` on stderr and exit status 2; an unexpected
    failure with one line and exit status 1. ``--debug`` (anywhere on the command line)
    shows the traceback instead."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    quiet = bool({"--quiet", "-q"} & set(argv))
    verbose = bool({"--verbose", "-v"} & set(argv))
    argv = [a for a in argv if a not in ("--debug", "--quiet", "-q", "--verbose", "-v")]
    setup_logging(logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _check_out(args)
        if getattr(args, "out", None) and args.command not in ("reference",):
            pipeline.clean_stale(Path(args.out))   # what a killed run left behind
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        if debug:
            raise
        log.error("seuranta: interrupted")
        return 130
    except DisclosureError as e:
        if debug:
            raise
        log.error("seuranta: %s", _one_line(e))
        return 1
    except (UserError, InputError, OSError, ValueError) as e:
        if debug:
            raise
        log.error("seuranta: error: %s", _one_line(e, getattr(args, "out", None)
                                                    or getattr(args, "data", None)))
        return 2
    except Exception as e:  # noqa: BLE001  (one line; the traceback with --debug)
        if debug:
            raise
        log.error("seuranta: internal error: %s: %s (run again with --debug for the traceback)",
                  type(e).__name__, _one_line(e))
        return 1


if __name__ == "__main__":
    sys.exit(main())
