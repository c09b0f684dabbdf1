"""seuranta: the reproducible publication of Finland's social welfare monitoring register.

The package is split by pipeline stage: ``reference`` (codes and population),
``demo`` (the synthetic register), ``ingest``/``validate``/``count`` (the register
stage), ``quality``/``estimate``/``disclosure`` (statistics), and ``publish`` (notebooks,
book, annexes). ``cli`` ties them to the ``seuranta`` command.
"""

__version__ = "0.1.0"
