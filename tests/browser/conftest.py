"""Fixtures of the browser tests of monitoring (test_monitoring.py, test_monitoring_privacy.py)."""

from __future__ import annotations

import pytest

from tests.support import free_port
from tests.support.monitoring import build_monitored
from tests.support.serving import serve_subprocess


@pytest.fixture(scope="package")
def monitored(tmp_path_factory):
    """The wine site sending summaries as soon as one is ready, served on 127.0.0.1."""
    port = free_port()
    result = build_monitored(tmp_path_factory.mktemp("monitored"), port, 0)
    with serve_subprocess(result.out_dir) as server:
        yield result, server, port
