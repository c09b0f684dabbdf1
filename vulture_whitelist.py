"""Names that vulture (``make lint``: dead code) cannot see used, because a framework or a
notebook calls them. One line per name, with who uses it; a genuinely unused definition is
removed from the code, never added here."""

# ruff: noqa
_ = object()

# notebooks/*.md (MyST templates, not read by vulture) call these
chapter  # costs/chapter.py: notebooks/costs.md
glue_facts  # publication/chapters.py: every quarter template
show  # publication/bookfmt.py, chapters.py: every template
task_map  # publication/chapters.py: notebooks/palvelutehtava.md
_._repr_markdown_  # chapters.MarkdownText: IPython's display formatter

# Sphinx: the extension entry point and its event callbacks' positional arguments
setup  # publication/book.py (sphinx.extra_extensions)
pagename  # book._dedupe_scripts (html-page-context)
templatename  # book._dedupe_scripts (html-page-context)
content  # book._include_read (include-read)

# pytest: a hook found by name
pytest_collection_modifyitems  # tests/conftest.py (xdist order)

# traitlets / jupyter_client: trait defaults found by name
transport  # notebooks._ipc_kernel_manager
_._ip_default
_._connection_file_default

# html.parser.HTMLParser callbacks (tests' parsers)
_.handle_starttag
_.handle_startendtag
_.handle_endtag
_.handle_data
_.handle_comment

# attributes read by libraries: highspy's HighsLp / HighsSparseMatrix (audit/attack.py)
_.num_row_
_.col_cost_
_.col_lower_
_.col_upper_
_.row_lower_
_.row_upper_
_.format_
_.start_
_.index_
_.value_
_.integrality_

# openpyxl workbook and zipfile entry attributes (core/excel.py, review/workbooks.py,
# core/reproducible.py)
_.tableStyleInfo
_.formatColumns
_.formatRows
_.created
_.compress_type
_.external_attr
