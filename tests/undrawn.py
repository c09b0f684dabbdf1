"""Issue 24: the comparison pages' charts not drawn, for tests that read none of them."""

from __future__ import annotations

import io


def undraw_charts(monkeypatch) -> bytes:
    """The comparison pages' charts (:mod:`seuranta.publication.portal`, ``vertailu/img/``:
    HTML only, in no working paper) staged as a one-pixel PNG instead of drawn (a whole
    staging drew 44 of them: a fifth of its CPU); the rest of each page is made as before,
    each picture written where and when the chart's would be. Returns the picture's bytes,
    so that a test can show that none reached what it reads."""
    import matplotlib.pyplot as plt
    from PIL import Image

    from seuranta.publication import portal

    pixel = io.BytesIO()
    Image.new("P", (1, 1)).save(pixel, format="PNG")

    def undrawn(fig, path):
        plt.close(fig)
        path.write_bytes(pixel.getvalue())

    monkeypatch.setattr(portal, "_save", undrawn)
    # nothing left to draw on a second core
    monkeypatch.setattr(portal, "drawn_side_by_side", lambda draw, jobs: [draw(*j) for j in jobs])
    return pixel.getvalue()
