"""Messages through logging: --quiet keeps warnings and errors, --verbose adds debug."""

from __future__ import annotations

import logging

from seuranta import cli


def test_quiet_keeps_errors_and_drops_progress(capsys):
    assert cli.main(["--quiet", "verify"]) == 2          # neither --quarter nor --costs
    assert "seuranta: error: verify: give exactly one" in capsys.readouterr().err
    logging.getLogger("seuranta.pipeline").info("quarter 2023Q1 ...")
    assert capsys.readouterr().err == ""


def test_default_shows_progress_verbose_shows_debug(capsys):
    cli.setup_logging(logging.INFO)
    logging.getLogger("seuranta.pipeline").info("quarter 2023Q1 ...")
    logging.getLogger("seuranta.pipeline").debug("detail")
    assert capsys.readouterr().err == "quarter 2023Q1 ...\n"
    assert cli.main(["-v", "verify"]) == 2
    capsys.readouterr()
    logging.getLogger("seuranta.pipeline").debug("detail")
    assert capsys.readouterr().err == "detail\n"
    cli.setup_logging(logging.INFO)
