"""The libc calls the standard library lacks: ``prctl``, ``signalfd`` and ``memmem``.

They are called through ``_ctypes``, the C core of ctypes, because importing
``ctypes`` itself costs ~3 ms of every run's start-up (its Python layer
defines dozens of types) where ``_ctypes`` costs ~0.4 ms.  Only what a call
with integer and bytes arguments returning a C ``int`` (or a pointer) needs
is defined here.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

PR_SET_CHILD_SUBREAPER = 36
_SIGSET_BYTES = 128  # glibc's sigset_t


def _function(name: str, returns: str = "i", takes: str = "") -> Callable[..., Any] | None:
    """The libc function ``name`` (errno kept), or None when unavailable.

    ``returns`` and ``takes`` are ctypes' type codes: ``i`` int, ``P`` pointer
    (None for NULL), ``z`` bytes, ``L`` size_t; without ``takes`` every
    argument goes as ctypes guesses (an int as a C int).
    """
    try:
        import _ctypes

        def ctype(code: str) -> type:
            return type(f"c_{code}", (_ctypes._SimpleCData,), {"_type_": code})

        class _Function(_ctypes.CFuncPtr):
            _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
            _restype_ = ctype(returns)
            if takes:
                _argtypes_ = tuple(ctype(code) for code in takes)

        handle = _ctypes.dlopen(None, _ctypes.RTLD_LOCAL)  # type: ignore[arg-type]
        function: Callable[..., Any] = _Function(_ctypes.dlsym(handle, name))
    except (ImportError, OSError, AttributeError):
        return None
    return function


def become_subreaper() -> bool:
    """Keep orphaned descendants as our children (Linux >= 3.4); False when unavailable."""
    prctl = _function("prctl")
    return prctl is not None and prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def signalfd(signals: Iterable[int]) -> int | None:
    """A non-blocking descriptor that reads the (blocked) ``signals``; None if unavailable."""
    call = _function("signalfd")
    if call is None:
        return None
    mask = bytearray(_SIGSET_BYTES)
    for sig in signals:
        mask[(sig - 1) // 8] |= 1 << ((sig - 1) % 8)
    flags = os.O_NONBLOCK | os.O_CLOEXEC  # SFD_NONBLOCK and SFD_CLOEXEC share these values
    fd = call(-1, bytes(mask), flags)
    return fd if fd >= 0 else None


def finder(needle: bytes) -> Callable[[bytes], bool]:
    """``needle in data`` by libc's ``memmem``, where there is one.

    For a short needle of common bytes (``"type"`` in JSON), CPython's own
    search skips little and moves 1-2 GB/s; glibc's memmem hashes pairs of
    bytes and moves 6-7 GB/s, which is what lets the agent's stdout pipe keep
    pace with its writer.
    """
    memmem = _function("memmem", "P", "zLzL") if needle else None
    if memmem is None:
        return lambda data: needle in data
    size = len(needle)
    return lambda data: memmem(data, len(data), needle, size) is not None
