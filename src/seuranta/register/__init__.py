"""register: the register stage.

Takes: ``DATA/register/`` (clientship periods, CSV or Parquet), population.csv and the
parameters. Gives: validated rows (quarantined ones with their reason: ``rejected``), and
every count of every quarter (``counts``, ``cwa_counts``, ``age_counts``, ``monthly``,
``series_*``, ``year_counts``, ``ledger``, ``flags``) — ``ingest`` → ``validate`` → ``count``,
chained by ``stage``.
"""
