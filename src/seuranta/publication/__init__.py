"""publication: what a reader gets.

Takes: a quarter's exact tables (``OUT/<Q>/tables/``) and the parameters. Gives: the
executed notebooks (papermill), the Jupyter Book in HTML and PDF (``book``), the Excel
annexes (``annex``), with formatting helpers for the notebooks (``bookfmt``).
"""
