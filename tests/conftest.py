"""Shared fixtures: every test gets its own log root and a clean environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import clean_env
from promstack import Stack, missing, running_stack


@pytest.fixture
def log_root(tmp_path: Path) -> Path:
    """A log root inside the test's temporary folder, never the user's."""
    return tmp_path / "logs"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return clean_env(tmp_path)


@pytest.fixture(scope="session")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A log root with real sessions, oldest first: ok, failed, anomalies, my_job.

    Shared by the read-only tests of ls, show and the README recipes; never modify it.
    """
    from helpers import run_traced, workload

    root = tmp_path_factory.mktemp("recorded") / "logs"
    runs = [
        (workload("sleep", 0.2), ()),
        (workload("exit", 3), ()),
        (workload("oom", 0.2, 0.5), ()),
        (workload("echo", "hi"), ("--session-id", "my-job")),
    ]
    for command, extra in runs:
        run_traced(root, command, interval=0.1, extra=extra)
    return root


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Real Prometheus, Pushgateway and node_exporter, shared by one module's export tests.

    Stopped when the module is done: tests that walk this process's own tree
    (the tree finder's) must find only what they started.

    Tests that use it are skipped where the Debian packages are not installed.
    """
    if missing():
        pytest.skip(
            f"not installed: {', '.join(missing())} "
            "(apt-get install prometheus prometheus-pushgateway prometheus-node-exporter)"
        )
    with running_stack(tmp_path_factory.mktemp("prometheus")) as running:
        yield running
