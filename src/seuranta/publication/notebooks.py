"""The notebook runner: which notebooks a quarter has (the plan, ``notebooks/plan.yml``) and
their execution with papermill, each in its own kernel, into ``OUT/<quarter>/notebooks/``.

Every notebook receives the run's parameters file as ``params_file`` (and reads
min_count, symbol, the notice … from it through ``bookfmt.use_params(params_file)``).
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import os
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path

import jupytext
import nbformat
import yaml

from seuranta.core.errors import InputError
from seuranta.core.params import PROJECT_DIR, as_params
from seuranta.core.quarters import Quarter
from seuranta.core.reference import task_codes
from seuranta.publication import bookfmt

log = logging.getLogger(__name__)

NOTEBOOK_DIR = PROJECT_DIR / "notebooks"
PLAN_FILE = NOTEBOOK_DIR / "plan.yml"


#: Title placeholders a template's Markdown may use; filled in before execution.
TITLE_KEYS = ("task_name", "quarter_name")


def read_plan(part: str, plan_file: Path = PLAN_FILE) -> list[tuple[str, str, dict]]:
    """(output name, template file, extra parameters) of every notebook of one part of the
    plan (``quarter`` or ``costs``), in reading order; templates that do not exist are left
    out."""
    try:
        plan = yaml.safe_load(Path(plan_file).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise InputError(f"{plan_file}: cannot read the notebook plan ({e})") from None
    out = []
    for i, entry in enumerate(plan.get(part) or []):
        unknown = set(entry) - {"name", "template", "parameters", "for_each"}
        if unknown or "name" not in entry or "template" not in entry:
            raise InputError(f"{plan_file}: {part}[{i}]: needs name and template "
                             f"(unknown: {', '.join(sorted(unknown)) or 'none'})")
        extra = dict(entry.get("parameters") or {})
        if entry.get("for_each") == "task":
            for t in task_codes():
                out.append((entry["name"].format(task=t), entry["template"],
                            {k: (v.format(task=t) if isinstance(v, str) else v)
                             for k, v in extra.items()}))
        elif entry.get("for_each") is not None:
            raise InputError(f"{plan_file}: {part}[{i}]: for_each must be task")
        else:
            out.append((entry["name"], entry["template"], extra))
    return [p for p in out if (NOTEBOOK_DIR / p[1]).is_file()]


def notebook_plan(quarter: str) -> list[tuple[str, str, dict]]:
    """(output name, template file, extra parameters) of every notebook of a quarter."""
    return read_plan("quarter")


def _titles(quarter: str, params: dict) -> dict[str, str]:
    out = {"quarter_name": bookfmt.quarter_name(quarter)}
    if "task" in params:
        out["task_name"] = bookfmt.task_name(params["task"])
    return out


def _execute_one(template: str, out_path: str, parameters: dict) -> str:
    """Execute one template into ``out_path`` (runs in a worker thread)."""

    nb = jupytext.read(NOTEBOOK_DIR / template)
    titles = _titles(parameters["quarter"], parameters)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for k, v in titles.items():
                cell.source = cell.source.replace("{" + k + "}", v)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    _papermill(nb, out_path, parameters, f"notebook {Path(out_path).name} "
                                         f"({parameters['quarter']})")
    return out_path


def _ipc_kernel_manager():
    """A kernel manager whose kernels talk over local IPC sockets instead of TCP (no open
    ports, and no "running over TCP without encryption" warning per kernel)."""
    from jupyter_client.manager import AsyncKernelManager  # heavy dependency: loaded only when used
    from traitlets import CaselessStrEnum  # heavy dependency: loaded only when used

    class IPCKernelManager(AsyncKernelManager):
        transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

        def _ip_default(self) -> str:
            # jupyter_client's default is "kernel-ipc" in the working directory: kernels
            # started side by side would share socket names. One unique prefix per kernel.
            return os.path.join(tempfile.gettempdir(), f"seuranta-kernel-{uuid.uuid4().hex}")

    return IPCKernelManager


def _papermill(nb, out_path, parameters: dict, what: str) -> None:
    """Execute ``nb`` with papermill into ``out_path``; a failing cell becomes a one-line
    RuntimeError naming ``what``. The injected parameters are then hidden."""
    import papermill as pm  # heavy dependency: loaded only when used

    try:
        pm.execute_notebook(nb, str(out_path), parameters=parameters, kernel_name="python3",
                            language="python", progress_bar=False, log_output=False,
                            cwd=str(PROJECT_DIR), kernel_manager_class=_ipc_kernel_manager())
    except pm.PapermillExecutionError as e:
        raise RuntimeError(f"{what} failed: {e.ename}: {e.evalue}") from None
    _hide_injected(out_path)


def _hide_injected(out_path) -> None:
    """Hide papermill's injected parameters and drop run-time metadata (stable outputs)."""

    out = nbformat.read(out_path, as_version=4)
    out.metadata.pop("papermill", None)
    for cell in out.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            cell.metadata["tags"] = tags + ["remove-cell"]
    nbformat.write(out, out_path)


class _ParamsFile:
    """The path of the run's parameters file for papermill: the loaded file itself, or (for
    parameters given as a mapping) a temporary copy removed afterwards."""

    def __init__(self, params: Mapping):
        self.params = as_params(params)
        self.tmp: Path | None = None

    def __enter__(self) -> str:
        f = self.params.get("_file")
        if f and Path(f).is_file():
            return str(Path(f).resolve())
        fd, name = tempfile.mkstemp(prefix="seuranta-params-", suffix=".yml")
        data = {k: v for k, v in self.params.items() if not k.startswith("_")}
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            yaml.safe_dump(_plain(data), out, allow_unicode=True, sort_keys=False)
        self.tmp = Path(name)
        return name

    def __exit__(self, *exc) -> None:
        if self.tmp is not None:
            self.tmp.unlink(missing_ok=True)


def _plain(v):
    if isinstance(v, Mapping):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


def execute_notebooks(quarter: str, tables_dir: Path, out_nb_dir: Path, synthetic: bool,
                      params: Mapping, jobs: int | None = None) -> list[Path]:
    """Execute every notebook of ``quarter`` against ``tables_dir`` into ``out_nb_dir``.

    Returns the executed notebooks in reading order. ``params``: the run's parameters
    (their file is passed to every notebook as ``params_file``). ``jobs`` parallel kernels
    (default: ``SEURANTA_NB_JOBS`` or 2).
    """
    quarter = str(Quarter.parse(str(quarter)))
    tables_dir, out_nb_dir = Path(tables_dir).resolve(), Path(out_nb_dir)
    out_nb_dir.mkdir(parents=True, exist_ok=True)
    jobs = jobs or int(os.environ.get("SEURANTA_NB_JOBS", "2"))
    with _ParamsFile(params) as params_file:
        tasks = []
        for name, template, extra in notebook_plan(quarter):
            nb_params = {"quarter": quarter, "tables_dir": str(tables_dir),
                         "synthetic": bool(synthetic), "params_file": params_file, **extra}
            tasks.append((template, str((out_nb_dir / f"{name}.ipynb").resolve()), nb_params))
        log.info("%s: %d notebooks", quarter, len(tasks))
        if jobs <= 1 or len(tasks) <= 1:
            done = [_execute_one(*t) for t in tasks]
        else:
            # Threads suffice: each notebook runs in its own kernel process.
            with cf.ThreadPoolExecutor(max_workers=jobs) as pool:
                done = list(pool.map(lambda t: _execute_one(*t), tasks))
    return [Path(p) for p in done]


def execute_costs_notebook(year: int, tables_dir: Path, out_nb_dir: Path,
                           synthetic: bool, params: Mapping) -> Path:
    """Execute the Sote-tietopaketit chapter (the plan's ``costs`` part) for one cost year."""

    out_nb_dir = Path(out_nb_dir)
    out_nb_dir.mkdir(parents=True, exist_ok=True)
    (name, template, extra), = read_plan("costs")
    out_path = out_nb_dir / f"{name}.ipynb"
    nb = jupytext.read(NOTEBOOK_DIR / template)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    with _ParamsFile(params) as params_file:
        nb_params = {"year": int(year), "tables_dir": str(Path(tables_dir).resolve()),
                     "synthetic": bool(synthetic), "params_file": params_file, **extra}
        _papermill(nb, out_path, nb_params, f"notebook {name}.ipynb ({year})")
    return out_path


def newest_costs_notebook(out_dir: Path) -> Path | None:
    """The executed costs chapter of the newest cost year under OUT/costs/, if any."""
    found = sorted(Path(out_dir).glob("costs/[0-9][0-9][0-9][0-9]/notebooks/costs.ipynb"))
    return found[-1] if found else None
