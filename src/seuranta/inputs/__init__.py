"""inputs: one reader for each file of a data folder (docs/data-contract.md, section 1).

Takes: a data folder. Gives: its metadata, extract date and publishable quarters
(``datafolder``), population.csv (``population``) and corrections.csv (``corrections``).
The register extract itself is read by the register stage.
"""
