"""The notebook runner: which notebooks a quarter has (the plan, ``notebooks/plan.yml``) and
their execution into ``OUT/<quarter>/notebooks/``: a quarter's notebooks share one kernel
(started once, its namespace reset between notebooks), quarters run side by side.

Every notebook receives the run's parameters file as ``params_file`` (and reads
min_count, symbol, the notice … from it: ``P = load_params(params_file)``, passed on
explicitly to the chapter functions; no module holds the parameters).
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures as cf
import contextlib
import logging
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Mapping
from pathlib import Path

import yaml

from seuranta.core.errors import InputError, NotebookError
from seuranta.core.params import PROJECT_DIR, as_params
from seuranta.core.provenance import params_name
from seuranta.core.quarters import Quarter
from seuranta.core.reference import task_codes
from seuranta.publication import bookfmt, chapters

log = logging.getLogger(__name__)

NOTEBOOK_DIR = PROJECT_DIR / "notebooks"
PLAN_FILE = NOTEBOOK_DIR / "plan.yml"


def read_plan(part: str, templates: Path = NOTEBOOK_DIR) -> list[tuple[str, str, dict]]:
    """(output name, template file, extra parameters) of every notebook of one part of the
    plan (``quarter`` or ``costs``) of the template folder ``templates`` (its ``plan.yml``),
    in reading order; templates that do not exist are left out."""
    plan_file = Path(templates) / PLAN_FILE.name
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
    return [p for p in out if (Path(templates) / p[1]).is_file()]


def notebook_plan(quarter: str, templates: Path = NOTEBOOK_DIR) -> list[tuple[str, str, dict]]:
    """(output name, template file, extra parameters) of every notebook of a quarter."""
    return read_plan("quarter", templates)


def _titles(quarter: str, params: dict) -> dict[str, str]:
    out = {"quarter_name": bookfmt.quarter_name(quarter)}
    if "task" in params:
        out["task_name"] = bookfmt.task_name(params["task"])
    return out


def _prepared(template: str | Path, parameters: dict):
    """The template (a path) as a notebook with its title placeholders filled in."""
    import jupytext  # heavy dependency (nbformat, jsonschema, traitlets): loaded when used

    nb = jupytext.read(Path(template))
    titles = _titles(parameters["quarter"], parameters)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for k, v in titles.items():
                cell.source = cell.source.replace("{" + k + "}", v)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nb


# --------------------------------------------------------------------------- kernels

#: Per-run folder of kernel sockets and connection files: tempdir/seuranta-kernels-<pid>.
KERNEL_DIR_PREFIX = "seuranta-kernels-"


def kernel_dir() -> Path:
    """This process's folder of kernel sockets and connection files (created on demand)."""
    d = Path(tempfile.gettempdir()) / f"{KERNEL_DIR_PREFIX}{os.getpid()}"
    if not d.is_dir():
        d.mkdir(mode=0o700, exist_ok=True)
        atexit.register(shutil.rmtree, d, True)   # also at a normal exit after any use
    return d


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_kernel_leftovers() -> list[Path]:
    """Remove the kernel folders of runs that ended without cleaning up (kill -9); returns
    them. Folders of live processes are kept."""
    removed = []
    for d in Path(tempfile.gettempdir()).glob(f"{KERNEL_DIR_PREFIX}*"):
        pid = d.name[len(KERNEL_DIR_PREFIX):]
        if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    return removed


def _ipc_kernel_manager():
    """A kernel manager whose kernels talk over local IPC sockets instead of TCP (no open
    ports, and no "running over TCP without encryption" warning per kernel)."""
    from jupyter_client.manager import AsyncKernelManager  # heavy dependency: loaded only when used
    from traitlets import CaselessStrEnum  # heavy dependency: loaded only when used

    class IPCKernelManager(AsyncKernelManager):
        transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

        def _ip_default(self) -> str:
            # jupyter_client's default is "kernel-ipc" in the working directory: kernels
            # started side by side would share socket names. One unique prefix per kernel,
            # inside this run's kernel folder (removed at the next start if left behind).
            return str(kernel_dir() / f"k-{uuid.uuid4().hex}")

        def _connection_file_default(self) -> str:
            return str(kernel_dir() / f"kernel-{uuid.uuid4().hex}.json")

        async def _async_interrupt_kernel(self) -> None:
            # jupyter_client interrupts a kernel before shutting it down, and ipykernel
            # then logs "KeyboardInterrupt caught in kernel" for every notebook: a kernel
            # that is shutting down needs no interrupt.
            if self.shutting_down:
                return
            await super()._async_interrupt_kernel()

    return IPCKernelManager


#: Folder of OUT where a failed notebook is kept (``failed-notebooks/<quarter>/NAME.ipynb``,
#: ``failed-notebooks/costs-<year>/costs.ipynb``), with the traceback in its failing cell.
FAILED_DIR = "failed-notebooks"


def _failing_cell(nb) -> tuple[int | None, str]:
    """Index and first source line of the first code cell whose outputs hold an error."""
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and any(o.get("output_type") == "error"
                                            for o in cell.get("outputs", [])):
            first = next((ln.strip() for ln in cell.source.splitlines() if ln.strip()), "")
            return i, first[:80]
    return None, ""


def notebook_failure(nb, what: str, name: str, failed_dir: Path | None, ename: str,
                     evalue: str) -> NotebookError:
    """Keep the partly executed ``nb`` as ``failed_dir/name`` (when given) and return the
    one-line error: the notebook, the failing cell's index (in the kept notebook) and
    source's first line, the exception."""
    import nbformat  # heavy dependency: loaded only when used

    kept = None
    if failed_dir is not None:
        Path(failed_dir).mkdir(parents=True, exist_ok=True)
        kept = Path(failed_dir) / name
        nbformat.write(nb, kept)
    i, first = _failing_cell(nb)
    where = f" in cell {i} ({first})" if i is not None else ""
    value = (str(evalue).strip().splitlines() or [""])[0]
    return NotebookError(f"{what} failed{where}: {ename}: {value}"
                         + (f" (kept: {kept})" if kept else ""), kept)


def _papermill(nb, out_path, parameters: dict, what: str, params_name: str | None = None,
               failed_dir: Path | None = None) -> None:
    """Execute ``nb`` with papermill into ``out_path``; a failing cell becomes a one-line
    :class:`NotebookError` naming ``what`` and the cell, the executed notebook moved into
    ``failed_dir`` (kept at ``out_path`` without it). The injected parameters are then
    hidden."""
    import nbformat  # heavy dependency: loaded only when used
    import papermill as pm

    try:
        pm.execute_notebook(nb, str(out_path), parameters=parameters, kernel_name="python3",
                            language="python", progress_bar=False, log_output=False,
                            cwd=str(PROJECT_DIR), kernel_manager_class=_ipc_kernel_manager())
    except pm.PapermillExecutionError as e:
        executed = nbformat.read(out_path, as_version=4)
        if failed_dir is None:
            failed_dir = Path(out_path).parent
        else:
            Path(out_path).unlink(missing_ok=True)
        raise notebook_failure(executed, what, Path(out_path).name, failed_dir, e.ename,
                               e.evalue) from None
    _hide_injected(out_path, parameters, params_name)



def public_parameters(parameters: dict, out_path, params_name: str | None) -> dict:
    """The injected parameters as the written notebook shows them: no absolute path, no
    temporary folder name (``tables_dir = "../tables"``, ``params_file = "parameters.yml"``)."""
    out = dict(parameters)
    if "tables_dir" in out:
        out["tables_dir"] = Path(os.path.relpath(Path(out["tables_dir"]).resolve(),
                                                 Path(out_path).resolve().parent)).as_posix()
    if "params_file" in out:
        out["params_file"] = params_name or Path(str(out["params_file"])).name
    return out


def _hide_injected(out_path, parameters: dict | None = None,
                   params_name: str | None = None) -> None:
    """Make an executed notebook the same bytes wherever and whenever it ran: hide
    papermill's injected parameters and show them without paths
    (:func:`public_parameters`), drop run-time metadata, number the cells (``c0``, ``c1``,
    ... instead of random ids) and their execution counts from 1 (a kernel shared by
    several notebooks counts on). The template's conditional Markdown cells that the
    chapter did not show are dropped (:func:`seuranta.publication.chapters.keep_shown`)."""
    import nbformat  # heavy dependency: loaded only when used
    from papermill.translators import translate_parameters

    out = chapters.keep_shown(nbformat.read(out_path, as_version=4), Path(out_path).name)
    out.metadata.pop("papermill", None)
    count = 0
    for i, cell in enumerate(out.cells):
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        cell["id"] = f"c{i}"
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags:
            if "remove-cell" not in tags:
                cell.metadata["tags"] = tags + ["remove-cell"]
            if parameters is not None:
                cell.source = translate_parameters(
                    "python3", "python", public_parameters(parameters, out_path, params_name),
                    "Parameters")
        if cell.cell_type == "code" and cell.get("execution_count") is not None:
            count += 1
            cell.execution_count = count
            for o in cell.get("outputs", []):
                if "execution_count" in o:
                    o["execution_count"] = count
    nbformat.write(out, out_path)


class _ParamsFile:
    """The path of the run's parameters file for papermill: the loaded file itself, or (for
    parameters given as a mapping or re-created from a manifest) a temporary copy removed
    afterwards. ``name``: the file's name as the written notebooks show it."""

    def __init__(self, params: Mapping):
        self.params = as_params(params)
        self.tmp: Path | None = None
        self.name = params_name(self.params) or "parameters.yml"

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


async def _start_kernel():
    """A kernel process and its client, ready (see :func:`_run_in_one_kernel`)."""
    km = _ipc_kernel_manager()(kernel_name="python3")
    await km.start_kernel(cwd=str(PROJECT_DIR), stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    kc = km.client()
    kc.start_channels()
    try:
        await kc.wait_for_ready(timeout=120)
    except BaseException:
        await _stop_kernel(km, kc)
        raise
    return km, kc


async def _stop_kernel(km, kc) -> None:
    kc.stop_channels()
    await km.shutdown_kernel(now=False)


async def _run_in_one_kernel(tasks: list[tuple[str, str, dict]] | cf.Future, progress=None,
                             params_name: str | None = None,
                             failed_dir: Path | None = None) -> list[str]:
    """Execute notebooks one after the other in one kernel process (one start per quarter,
    the imports done once); the kernel's namespace is reset between notebooks. Each
    output is written as papermill would (injected parameters, then hidden). A failing
    cell stops the run with a :class:`NotebookError`; the failed notebook is kept in
    ``failed_dir`` (:func:`notebook_failure`).

    ``tasks`` may be a Future (:class:`KernelsAhead`): the kernel starts and imports the
    chapters' modules (``_WARM``) before the tables exist, then waits for its share
    ``(tasks, params_name, failed_dir)``, or None (nothing to run)."""
    # heavy dependencies: loaded only when used (here, in the kernels' threads while the
    # tables are made, not before a run starts; the templates are read with jupytext)
    import jupytext  # noqa: F401

    km, kc = await _start_kernel()
    try:
        if isinstance(tasks, cf.Future):
            await kc.execute_interactive(_WARM, silent=True, store_history=False, timeout=300)
            share = await asyncio.wrap_future(tasks)
            tasks, params_name, failed_dir = share if share is not None else ([], None, None)
        return await _execute_in(km, kc, tasks, progress, params_name, failed_dir)
    finally:
        await _stop_kernel(km, kc)


async def _execute_in(km, kc, tasks: list[tuple[str, str, dict]], progress=None,
                      params_name: str | None = None,
                      failed_dir: Path | None = None) -> list[str]:
    """The notebooks ``tasks`` executed one after the other in the started kernel
    ``km``/``kc`` (:func:`_run_in_one_kernel`), its namespace reset before each."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from papermill.parameterize import parameterize_notebook

    done = []
    for template, out_path, parameters in tasks:
        what = f"notebook {Path(out_path).name} ({parameters['quarter']})"
        nb = _prepared(template, parameters)
        nb.metadata["papermill"] = {"parameters": {}, "environment_variables": {}}
        for cell in nb.cells:   # as papermill's loader leaves them
            cell.metadata.setdefault("tags", [])
        nb = parameterize_notebook(nb, parameters, kernel_name="python3", language="python")
        await kc.execute_interactive(_RESET, silent=True, store_history=False, timeout=60)
        client = NotebookClient(nb, km=km, kernel_name="python3", timeout=1800,
                                resources={"metadata": {"path": str(PROJECT_DIR)}})
        client.kc = kc
        try:
            await client.async_execute()
        except CellExecutionError as e:
            raise notebook_failure(nb, what, Path(out_path).name, failed_dir, e.ename,
                                   e.evalue) from None
        nbformat.write(nb, out_path)
        _hide_injected(out_path, parameters, params_name)
        done.append(out_path)
        if progress is not None:
            progress()
    return done


class KernelPool:
    """Kernels kept for the quarters of one run (``seuranta publish``): a quarter's
    notebooks are handed to :meth:`submit` and executed by the next free kernel, one
    after the other, its namespace reset before each notebook as between two notebooks
    of one quarter. Up to ``jobs`` kernels, each started when a quarter first needs it
    and kept until the block is left, so a publish of five quarters starts two kernels
    (and imports the chapters' modules twice) instead of five (issue 24: about 1 CPU-s
    per kernel). A kernel whose quarter failed is shut down and the next quarter starts
    a fresh one. A context manager: leaving it shuts every kernel down."""

    def __init__(self, jobs: int | None = None):
        self.jobs = notebook_jobs(jobs)
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False

    def __enter__(self) -> KernelPool:
        return self

    def submit(self, quarter: str, tables_dir: Path, out_nb_dir: Path, synthetic: bool,
               params: Mapping, progress=None, failed_dir: Path | None = None) -> cf.Future:
        """The notebooks of ``quarter`` (:func:`notebook_tasks`; ``progress()`` called
        after each, a failed one kept in ``failed_dir``) handed to the pool; the future
        gives the executed notebooks in reading order."""
        future: cf.Future = cf.Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("kernel pool closed")
            self._queue.put((future, (quarter, tables_dir, out_nb_dir, synthetic, params,
                                      progress, failed_dir)))
            if len(self._threads) < self.jobs:
                t = threading.Thread(target=self._serve, daemon=True,
                                     name=f"kernel-{len(self._threads)}")
                t.start()
                self._threads.append(t)
        return future

    def _serve(self) -> None:
        # threads suffice: the work is in the kernel processes
        asyncio.run(self._serve_async())

    async def _serve_async(self) -> None:
        loop = asyncio.get_running_loop()
        kernel = None
        try:
            while True:
                job = await loop.run_in_executor(None, self._queue.get)
                if job is None:
                    return
                future, args = job
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    if kernel is None:
                        kernel = await _start_kernel()
                    future.set_result(await self._quarter(kernel, *args))
                except BaseException as e:   # the quarter's error, raised by its future
                    if kernel is not None:
                        stopping, kernel = kernel, None
                        with contextlib.suppress(Exception):
                            await _stop_kernel(*stopping)
                    future.set_exception(e)
        finally:
            if kernel is not None:
                await _stop_kernel(*kernel)

    @staticmethod
    async def _quarter(kernel, quarter: str, tables_dir: Path, out_nb_dir: Path,
                       synthetic: bool, params: Mapping, progress,
                       failed_dir: Path | None) -> list[Path]:
        pf = _ParamsFile(params)
        with pf as params_file:
            tasks = notebook_tasks(quarter, tables_dir, out_nb_dir, synthetic, params_file)
            return [Path(p) for p in await _execute_in(*kernel, tasks, progress, pf.name,
                                                       failed_dir)]

    def __exit__(self, *exc) -> None:
        with self._lock:
            self._closed = True
            for _ in self._threads:
                self._queue.put(None)
        for t in self._threads:
            t.join()


#: Run in the kernel between two notebooks: no open figures and a clean namespace (the
#: reset collects the garbage), then everything still alive (the imported modules, the
#: kernel's own objects, what the chapters' modules keep) moved out of the cyclic garbage
#: collector's sight with ``gc.freeze``: IPython's reset runs two full collections per
#: notebook and the charts trigger more, each of which walked every object of pandas,
#: matplotlib and IPython again (1.7 of a quarter's 11 kernel CPU-s at scale 1, 0.35 s
#: after; issue 24). Only objects alive at that moment are frozen, so no garbage is kept.
_RESET = ("import sys as _s\n"
          "if 'matplotlib.pyplot' in _s.modules: _s.modules['matplotlib.pyplot'].close('all')\n"
          "del _s\n"
          "%reset -f\n"
          "import gc as _g\n"
          "_g.freeze()\n"
          "del _g")


#: Run in a kernel started ahead of its notebooks (:class:`KernelsAhead`): the modules
#: every notebook imports, imported while the tables are made (the namespace is reset
#: before each notebook, as between two notebooks of one kernel).
_WARM = ("import matplotlib.pyplot\n"
         "import myst_nb\n"
         "import seuranta.core.params\n"
         "import seuranta.publication.chapters\n"
         "import seuranta.publication.bookfmt\n")


def notebook_tasks(quarter: str, tables_dir: Path, out_nb_dir: Path, synthetic: bool,
                   params_file: str, templates: Path = NOTEBOOK_DIR,
                   only: str | None = None) -> list[tuple[str, str, dict]]:
    """(template path, output path, parameters) of every notebook of a quarter (or of the
    one named ``only``), in reading order; the templates and the plan are those of the
    folder ``templates``."""
    quarter = str(Quarter.parse(str(quarter)))
    tables_dir, out_nb_dir = Path(tables_dir).resolve(), Path(out_nb_dir)
    plan = notebook_plan(quarter, templates)
    if only is not None and only not in {name for name, _, _ in plan}:
        raise InputError(f"{Path(templates) / PLAN_FILE.name}: no notebook {only!r} in the "
                         f"plan (one of: {', '.join(name for name, _, _ in plan)})")
    out_nb_dir.mkdir(parents=True, exist_ok=True)
    tasks = []
    for name, template, extra in plan:
        if only is not None and name != only:
            continue
        nb_params = {"quarter": quarter, "tables_dir": str(tables_dir),
                     "synthetic": bool(synthetic), "params_file": params_file, **extra}
        tasks.append((str(Path(templates) / template),
                      str((out_nb_dir / f"{name}.ipynb").resolve()), nb_params))
    return tasks


def execute_notebooks(quarter: str, tables_dir: Path, out_nb_dir: Path, synthetic: bool,
                      params: Mapping, jobs: int | None = None,
                      templates: Path = NOTEBOOK_DIR, only: str | None = None,
                      failed_dir: Path | None = None) -> list[Path]:
    """Execute every notebook of ``quarter`` (or the one named ``only``) from the templates
    of ``templates`` against ``tables_dir`` into ``out_nb_dir``.

    Returns the executed notebooks in reading order. ``params``: the run's parameters
    (their file is passed to every notebook as ``params_file``). The notebooks are shared
    out over ``jobs`` kernels (default: ``SEURANTA_NB_JOBS`` or the core count), each
    kernel started once and running its share one after the other, side by side. A
    failed notebook is kept in ``failed_dir`` (:class:`NotebookError` names it).
    """
    with KernelsAhead(1 if only is not None else jobs) as kernels:
        return kernels.execute(quarter, tables_dir, out_nb_dir, synthetic, params, templates,
                               only, failed_dir)


def notebook_jobs(jobs: int | None = None) -> int:
    """Kernels side by side: ``jobs``, else ``SEURANTA_NB_JOBS``, else the core count."""
    return jobs or int(os.environ.get("SEURANTA_NB_JOBS", "0")) or os.cpu_count() or 1


class KernelsAhead:
    """Kernels started before a quarter's tables exist, so that their start and the
    imports of the chapters' modules overlap the statistics and the gate; then the
    quarter's notebooks shared out over them (:meth:`execute`, or :meth:`start` and
    :meth:`wait` with other work between). A context manager: leaving it shuts every
    kernel down, run or not. The notebooks are the same bytes as when the kernels start
    with them (the kernel's namespace is reset before each notebook)."""

    def __init__(self, jobs: int | None = None):
        self.jobs = notebook_jobs(jobs)
        self._shares = [cf.Future() for _ in range(self.jobs)]
        self._pool: cf.ThreadPoolExecutor | None = None
        self._runs: list[cf.Future] = []
        self._paths: list[Path] = []
        self._pf: _ParamsFile | None = None

    def __enter__(self) -> KernelsAhead:
        clean_kernel_leftovers()
        self._pool = cf.ThreadPoolExecutor(max_workers=self.jobs)
        self._runs = [self._pool.submit(self._run, share) for share in self._shares]
        return self

    @staticmethod
    def _run(share: cf.Future) -> list[str]:
        # threads suffice: the work is in the kernel processes
        return asyncio.run(_run_in_one_kernel(share))

    def start(self, quarter: str, tables_dir: Path, out_nb_dir: Path, synthetic: bool,
              params: Mapping, templates: Path = NOTEBOOK_DIR, only: str | None = None,
              failed_dir: Path | None = None) -> None:
        """Hand the notebooks of ``quarter`` (or the one named ``only``) to the kernels
        (see :func:`execute_notebooks`); returns at once."""
        pf = self._pf = _ParamsFile(params)
        params_file = pf.__enter__()
        try:
            tasks = notebook_tasks(quarter, tables_dir, out_nb_dir, synthetic, params_file,
                                   templates, only)
        except BaseException:
            self._release()
            raise
        log.info("%s: %d notebooks", quarter, len(tasks))
        self._paths = [Path(t[1]) for t in tasks]
        for i, share in enumerate(self._shares):
            share.set_result((tasks[i::self.jobs], pf.name, failed_dir))

    def wait(self) -> list[Path]:
        """The executed notebooks in reading order, once every kernel is done (the first
        failure raised)."""
        try:
            for run in self._runs:
                run.result()
        finally:
            self._release()
        return self._paths

    def execute(self, *args, **kwargs) -> list[Path]:
        """:meth:`start` then :meth:`wait`."""
        self.start(*args, **kwargs)
        return self.wait()

    def _release(self) -> None:
        for share in self._shares:   # kernels not given notebooks shut down
            if not share.done():
                share.set_result(None)
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self._pf is not None:
            self._pf.__exit__(None, None, None)
            self._pf = None
        shutil.rmtree(kernel_dir(), ignore_errors=True)

    def __exit__(self, *exc) -> None:
        self._release()


def execute_costs_notebook(year: int, tables_dir: Path, out_nb_dir: Path,
                           synthetic: bool, params: Mapping,
                           failed_dir: Path | None = None) -> Path:
    """Execute the Sote-tietopaketit chapter (the plan's ``costs`` part) for one cost year;
    a failed notebook is kept in ``failed_dir``."""

    out_nb_dir = Path(out_nb_dir)
    out_nb_dir.mkdir(parents=True, exist_ok=True)
    (name, template, extra), = read_plan("costs")
    out_path = out_nb_dir / f"{name}.ipynb"
    import jupytext  # heavy dependency: loaded only when used

    nb = jupytext.read(NOTEBOOK_DIR / template)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    pf = _ParamsFile(params)
    with pf as params_file:
        nb_params = {"year": int(year), "tables_dir": str(Path(tables_dir).resolve()),
                     "synthetic": bool(synthetic), "params_file": params_file, **extra}
        _papermill(nb, out_path, nb_params, f"notebook {name}.ipynb ({year})", pf.name,
                   failed_dir)
    return out_path


def newest_costs_notebook(out_dir: Path) -> Path | None:
    """The executed costs chapter of the newest cost year under OUT/costs/, if any."""
    found = sorted(Path(out_dir).glob("costs/[0-9][0-9][0-9][0-9]/notebooks/costs.ipynb"))
    return found[-1] if found else None
