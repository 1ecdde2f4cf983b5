"""``suppress``, the run path's stand-in for ``contextlib.suppress``."""

from __future__ import annotations

import pytest

from autoskillit_trace.ctx import suppress


def test_suppress_swallows_what_it_names_and_its_subclasses() -> None:
    with suppress(OSError):
        raise FileNotFoundError
    with suppress(KeyError, ValueError):
        raise ValueError
    with suppress(OSError):
        pass


def test_suppress_lets_anything_else_through() -> None:
    with pytest.raises(KeyError), suppress(OSError):
        raise KeyError
    with pytest.raises(OSError), suppress():
        raise OSError
