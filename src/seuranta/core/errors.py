"""Errors that the command line reports as one line (no traceback) with exit status 2."""


class InputError(Exception):
    """Bad input data or arguments: the message names the file or value and what is wrong."""


class DisclosureError(Exception):
    """A publication that the disclosure audit refuses (a suppressed figure can be pinned
    or narrowed from the public files): reported as one line, exit status 1."""
