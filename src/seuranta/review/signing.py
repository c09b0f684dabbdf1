"""The keyed signature of review forms: a form that was not made by ``seuranta review`` for
this data folder and its present extract, or whose county, quarter, rows, file name or
figures were changed, is refused on import.

The key is 32 random bytes in ``DATA/.review_key`` (created by the first ``seuranta
review`` of a data folder, readable by its owner only), never written into a form. A form's
``meta`` sheet holds the issue time, the hashes and the signature: HMAC-SHA256 under that
key over the layout version, county code, quarter, issue time, the key (quarter,
municipality code, service task) of every feedback row in order, the extract's hash
(:func:`seuranta.core.provenance.extract_hash`: a form issued on an earlier extract does
not verify), the file name the form was issued under, and the hash of the figures it shows
(:func:`seuranta.review.workbooks.figures_hash`: task sheets edited after issue do not
verify). The meta sheet's protection has no password (anyone can unprotect it), so the
signature, not the protection, is what stops one county's form from being relabelled as
another's.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

from seuranta.core.errors import InputError

KEY_FILE = ".review_key"


def key_path(data_dir: Path) -> Path:
    return Path(data_dir) / KEY_FILE


def load_or_create_key(data_dir: Path) -> bytes:
    """The data folder's review key, created (mode 0600) when it has none."""
    p = key_path(data_dir)
    if not p.is_file():
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secrets.token_hex(32) + "\n")
    return load_key(data_dir)


def load_key(data_dir: Path) -> bytes:
    """The data folder's review key; a one-line InputError when it has none."""
    p = key_path(data_dir)
    if not p.is_file():
        raise InputError(f"{p}: no review key: forms can only be imported into the data "
                         "folder whose `seuranta review` made them")
    text = p.read_text(encoding="ascii", errors="replace").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise InputError(f"{p}: not a review key (64 hexadecimal digits)") from None
    if len(key) < 16:
        raise InputError(f"{p}: review key too short")
    return key


def form_signature(key: bytes, layout: str, county: str, quarter: str, issued: str,
                   rows: list[tuple[str, str, str]], extract: str, file_name: str,
                   figures: str) -> str:
    """HMAC-SHA256 (hex) of a form's identity, row keys, extract, file name and figures."""
    message = json.dumps([layout, county, quarter, issued, [list(r) for r in rows], extract,
                          file_name, figures], ensure_ascii=True, separators=(",", ":"))
    return hmac.new(key, message.encode("ascii"), hashlib.sha256).hexdigest()


def signature_ok(key: bytes, signature: str, *args) -> bool:
    return hmac.compare_digest(str(signature or ""), form_signature(key, *args))
