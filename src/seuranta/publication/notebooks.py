"""The notebook runner: which notebooks a quarter has (the plan) and their execution with
papermill, each in its own kernel, into ``OUT/<quarter>/notebooks/``."""

from __future__ import annotations

import concurrent.futures as cf
import os
import tempfile
import uuid
from pathlib import Path

import jupytext
import nbformat

from seuranta.core.params import PROJECT_DIR
from seuranta.core.quarters import Quarter
from seuranta.core.reference import task_codes
from seuranta.publication import bookfmt

NOTEBOOK_DIR = PROJECT_DIR / "notebooks"


#: Title placeholders a template's Markdown may use; filled in before execution.
TITLE_KEYS = ("task_name", "quarter_name")


def notebook_plan(quarter: str) -> list[tuple[str, str, dict]]:
    """(output name, template file, extra parameters) of every notebook of a quarter."""

    plan = [("yhteenveto", "yhteenveto.md", {})]
    plan += [(f"tehtava_{t}", "palvelutehtava.md", {"task": t}) for t in task_codes()]
    plan += [("lastensuojelulaki", "palvelutehtava.md", {"task": "lastensuojelulaki"}),
             ("monipalvelu", "monipalvelu.md", {}),
             ("aineisto_laatu", "aineisto_laatu.md", {})]
    return [p for p in plan if (NOTEBOOK_DIR / p[1]).is_file()]


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


def execute_notebooks(quarter: str, tables_dir: Path, out_nb_dir: Path, synthetic: bool,
                      jobs: int | None = None) -> list[Path]:
    """Execute every notebook of ``quarter`` against ``tables_dir`` into ``out_nb_dir``.

    Returns the executed notebooks in reading order. ``jobs`` parallel kernels (default:
    ``SEURANTA_NB_JOBS`` or 2).
    """
    quarter = str(Quarter.parse(str(quarter)))
    tables_dir, out_nb_dir = Path(tables_dir).resolve(), Path(out_nb_dir)
    out_nb_dir.mkdir(parents=True, exist_ok=True)
    jobs = jobs or int(os.environ.get("SEURANTA_NB_JOBS", "2"))
    tasks = []
    for name, template, extra in notebook_plan(quarter):
        params = {"quarter": quarter, "tables_dir": str(tables_dir),
                  "synthetic": bool(synthetic), **extra}
        tasks.append((template, str((out_nb_dir / f"{name}.ipynb").resolve()), params))
    if jobs <= 1 or len(tasks) <= 1:
        done = [_execute_one(*t) for t in tasks]
    else:
        # Threads suffice: each notebook runs in its own kernel process.
        with cf.ThreadPoolExecutor(max_workers=jobs) as pool:
            done = list(pool.map(lambda t: _execute_one(*t), tasks))
    return [Path(p) for p in done]


def execute_costs_notebook(year: int, tables_dir: Path, out_nb_dir: Path,
                           synthetic: bool) -> Path:
    """Execute the Sote-tietopaketit chapter (notebooks/costs.md) for one cost year."""

    out_nb_dir = Path(out_nb_dir)
    out_nb_dir.mkdir(parents=True, exist_ok=True)
    out_path = out_nb_dir / "costs.ipynb"
    nb = jupytext.read(NOTEBOOK_DIR / "costs.md")
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    params = {"year": int(year), "tables_dir": str(Path(tables_dir).resolve()),
              "synthetic": bool(synthetic)}
    _papermill(nb, out_path, params, f"notebook costs.ipynb ({year})")
    return out_path


def newest_costs_notebook(out_dir: Path) -> Path | None:
    """The executed costs chapter of the newest cost year under OUT/costs/, if any."""
    found = sorted(Path(out_dir).glob("costs/[0-9][0-9][0-9][0-9]/notebooks/costs.ipynb"))
    return found[-1] if found else None

