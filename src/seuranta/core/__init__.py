"""core: what every stage shares and nothing else.

Takes: nothing from other stages. Gives: parameters (``params``), quarters, the reference
data (``reference``), Finnish labels (``labels_fi``) and number formats (``fmt``), tables as
files (``tables``: the one CSV writer, canonical hashes, atomic swap), provenance and
manifests (``provenance``), and the named exceptions (``errors``).
"""
