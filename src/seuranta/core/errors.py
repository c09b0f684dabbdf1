"""Errors that the command line reports as one line (no traceback) with exit status 2."""

import contextlib
from pathlib import Path


class InputError(Exception):
    """Bad input data or arguments: the message names the file or value and what is wrong."""


class ModelFitError(RuntimeError):
    """No count model could be fitted to a quarter's data (a numerical failure of every model
    of the chain, statistics.model): that estimate is published as "no estimate" with the
    reason ``model_failed``. A configuration error (an unknown covariate) is never one."""


@contextlib.contextmanager
def writing(path: Path | str):
    """Name ``path`` in an operating-system error raised while writing it: a write or close
    on a full disk raises ``[Errno 28] No space left on device`` without a file name."""
    try:
        yield
    except OSError as e:
        if e.filename is None and not isinstance(e, InputError):
            raise type(e)(e.errno, e.strerror or str(e), str(path)) from e
        raise


class DisclosureError(Exception):
    """A publication that the disclosure audit refuses (a suppressed figure can be pinned
    or narrowed from the public files): reported as one line, exit status 1."""


class NotebookError(RuntimeError):
    """A notebook cell failed: the one-line message names the notebook, the failing cell's
    index and its source's first line, and the exception; the partly executed notebook
    (with the traceback in the failing cell's output) is kept at ``kept``."""

    def __init__(self, message: str, kept: Path | None = None):
        super().__init__(message)
        self.kept = kept
