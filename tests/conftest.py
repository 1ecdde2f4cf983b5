"""Shared fixtures: every test gets its own log root and a clean environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import clean_env


@pytest.fixture
def log_root(tmp_path: Path) -> Path:
    """A log root inside the test's temporary folder, never the user's."""
    return tmp_path / "logs"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return clean_env(tmp_path)
