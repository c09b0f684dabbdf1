"""Errors that the command line reports as one line (no traceback) with exit status 2."""


class InputError(Exception):
    """Bad input data or arguments: the message names the file or value and what is wrong."""


class ModelFitError(RuntimeError):
    """No count model could be fitted to a quarter's data (a numerical failure of every model
    of the chain, statistics.model): that estimate is published as "no estimate" with the
    reason ``model_failed``. A configuration error (an unknown covariate) is never one."""
