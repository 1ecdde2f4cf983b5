"""The two libc calls the standard library lacks: ``prctl`` and ``signalfd``.

They are called through ``_ctypes``, the C core of ctypes, because importing
``ctypes`` itself costs ~3 ms of every run's start-up (its Python layer
defines dozens of types) where ``_ctypes`` costs ~0.4 ms.  Only what a call
with integer and bytes arguments returning a C ``int`` needs is defined here.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

PR_SET_CHILD_SUBREAPER = 36
_SIGSET_BYTES = 128  # glibc's sigset_t


def _function(name: str) -> Callable[..., int] | None:
    """The libc function ``name`` returning a C int (errno kept), or None when unavailable."""
    try:
        import _ctypes

        class _CInt(_ctypes._SimpleCData):  # type: ignore[type-arg]
            _type_ = "i"

        class _Function(_ctypes.CFuncPtr):
            _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
            _restype_ = _CInt

        handle = _ctypes.dlopen(None, _ctypes.RTLD_LOCAL)  # type: ignore[arg-type]
        function: Callable[..., int] = _Function(_ctypes.dlsym(handle, name))
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
