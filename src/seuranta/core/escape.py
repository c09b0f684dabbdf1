"""Text from outside, escaped for each output format: the one place that does it.

Text that the project did not write itself — review reasons and comments, municipality and
county names, file names, register values, parameter strings (the synthetic notice, the
contact, the series) — is *data*: a reader sees it literally, never as markup. Every writer
that places such text passes it through the function of its format:

==============  ======================================================================
:func:`myst`    MyST / Markdown (book pages, notebook outputs, table cells, captions):
                every ASCII punctuation character backslash-escaped (CommonMark: any of
                them may be), so no role (``{download}`…```), directive (```` ``` ````,
                ``:::``), HTML tag, link or image, autolink, substitution ``{{ }}``,
                math ``$``, heading ``#``, list or table syntax survives.
:func:`html`    HTML, in raw HTML blocks and in inline HTML inside Markdown: ``& < > " '``
                and every Markdown-active punctuation character as a numeric character
                reference (a reference is never parsed as markup again).
:func:`latex`   LaTeX (the PDF title page): the ten special characters, ``< > | [ ]``.
:func:`cell`    Excel cell text: characters an XML cell cannot hold removed, cut at
                Excel's 32 767 characters.
:func:`csv_cell` CSV cell text: OWASP's formula guard (a leading ``'``), undone by
                :func:`csv_unguard` when the project reads its own table back (the book
                shows the text, not the guard).
==============  ======================================================================

All of them but :func:`cell` and :func:`csv_cell` first apply :func:`plain`: control
characters (C0, C1, line and paragraph separators; a newline would end a table row or an
HTML block and let the rest be parsed as Markdown) become a space, invisible format
characters (bidirectional overrides and isolates, zero-width characters, the BOM, soft
hyphens) are removed (a right-to-left override can make a reader see other text than what
is stored), lone surrogates and unassigned code points become U+FFFD, and a run of more
than :data:`MAX_RUN` characters without a space gets one every :data:`MAX_RUN` characters
(xelatex hangs, then crashes, on a 1 000-character word in a table cell).

:class:`Markup` marks text that the code built as markup on purpose (a ``{download}`` role
of a file the build made itself): writers pass it through unchanged. Never wrap outside
text in it.
"""

from __future__ import annotations

import re
import unicodedata


class Markup(str):
    """Markup written by the code itself (never outside text): passed through unescaped."""

    __slots__ = ()


def _text(value) -> str:
    if value is None:
        return ""
    try:
        if value != value:   # NaN, pd.NA raises TypeError
            return ""
    except TypeError:
        return ""
    return str(value)


_SEPARATORS = "\u2028\u2029"


def _clean_char(ch: str) -> str:
    cat = unicodedata.category(ch)
    if cat == "Cc" or ch in _SEPARATORS:
        return " "
    if cat == "Cf":
        return ""
    if cat in ("Cs", "Cn"):
        return "\ufffd"
    return ch


#: The longest run of characters without a space that a page shows unbroken.
MAX_RUN = 100
_LONG_RUN = re.compile(rf"\S{{{MAX_RUN + 1},}}")


def _break_run(m: re.Match) -> str:
    w = m.group(0)
    return " ".join(w[i:i + MAX_RUN] for i in range(0, len(w), MAX_RUN))


def plain(value) -> str:
    """The text as a page shows it: control characters as spaces, invisible format
    characters removed, unrepresentable code points as U+FFFD, over-long runs without a
    space broken (see the module docstring)."""
    s = _text(value)
    if not (s.isascii() and s.isprintable()):
        s = "".join(_clean_char(ch) for ch in s)
    return _LONG_RUN.sub(_break_run, s) if len(s) > MAX_RUN else s


#: ASCII punctuation: CommonMark lets a backslash escape any of these.
_ASCII_PUNCT = re.compile(r"""([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])""")


def myst(value) -> str:
    """Outside text for MyST / Markdown: shown literally wherever it is placed (paragraph,
    heading, table cell, caption, directive argument)."""
    if isinstance(value, Markup):
        return value
    return _ASCII_PUNCT.sub(r"\\\1", plain(value))


#: Characters written as numeric references in HTML: HTML's five and Markdown's active ones
#: (inline HTML inside a Markdown paragraph is still parsed as Markdown between the tags).
_HTML_CHARS = "&<>\"'`{}[]()*_~$|\\!#:=+^@"
_HTML_MAP = {ord(c): f"&#{ord(c)};" for c in _HTML_CHARS}


def html(value) -> str:
    """Outside text for HTML (element text and attribute values, also inside Markdown)."""
    if isinstance(value, Markup):
        return value
    return plain(value).translate(_HTML_MAP)


_LATEX_MAP = {ord(k): v for k, v in {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}", "[": "{[}", "]": "{]}",
}.items()}


def latex(value) -> str:
    """Outside text for LaTeX: no command, group, math or comment can start from it."""
    return plain(value).translate(_LATEX_MAP)


#: The most characters an Excel cell holds.
EXCEL_MAX_CHARS = 32_767


def cell(value: str) -> str:
    """Outside text for an Excel cell: characters XML 1.0 cannot hold removed (control
    characters other than tab and line breaks, lone surrogates, U+FFFE/U+FFFF), cut at
    :data:`EXCEL_MAX_CHARS` (with ``…``). Written as text, never as a formula
    (:func:`seuranta.core.excel.put`)."""
    s = _text(value)
    if not (s.isascii() and s.isprintable()):
        s = "".join(ch for ch in s if ch in "\t\n\r" or not (
            unicodedata.category(ch) in ("Cc", "Cs") or ch in "\ufffe\uffff"))
    if len(s) > EXCEL_MAX_CHARS:
        s = s[:EXCEL_MAX_CHARS - 1] + "…"
    return s


#: First characters that make a spreadsheet read a CSV cell as a formula (OWASP, "CSV
#: injection"), and the guard's own apostrophe (so that the guard can be undone exactly).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_GUARDED_STARTS = FORMULA_STARTS + ("'",)
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?")


def csv_cell(value: str) -> str:
    """OWASP's rule for CSV injection: a text starting with = + - @ tab or CR gets a leading
    ``'`` so that a spreadsheet shows it instead of evaluating it. A plain signed number
    (``-12``, ``+3.5``) and the symbol ``-`` (nil) are left as they are. A text that starts
    with ``'`` itself gets one more, so that :func:`csv_unguard` restores every text exactly."""
    if (not value or value[0] not in _GUARDED_STARTS or value == "-"
            or _PLAIN_NUMBER.fullmatch(value)):
        return value
    return "'" + value


def csv_unguard(value: str) -> str:
    """The text :func:`csv_cell` guarded: the leading ``'`` removed when it is the guard."""
    if isinstance(value, str) and len(value) > 1 and value[0] == "'" \
            and value[1] in _GUARDED_STARTS:
        return value[1:]
    return value
