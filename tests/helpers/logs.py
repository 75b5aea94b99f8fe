"""kubescale's log records as a test captures them."""

import pytest

import kubescale


def capture_kubescale_logs(caplog: pytest.LogCaptureFixture, level: int) -> None:
    """Captures kubescale's records from ``level`` up: sets the ``kubescale`` logger's level and
    has the core read the levels again (``reset_logging``)."""
    caplog.set_level(level, logger="kubescale")
    kubescale.reset_logging()
