"""review: the review round with the wellbeing services counties.

Takes: a quarter's exact tables. Gives: one workbook per county (``workbooks``) and, from
the filled workbooks, the decisions in DATA/corrections.csv (``feedback``).
"""
