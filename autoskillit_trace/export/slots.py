"""Session slots: the ``slot`` label that keeps concurrent sessions of one runner apart.

A running session holds a lock on ``<log root>/.slots/N`` with the lowest free
N, from the moment it opens until its metrics are sent.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from autoskillit_trace.log import Logger

MAX_SLOTS = 64
SLOTS_DIR = ".slots"


def acquire_slot(root: str) -> tuple[int, int] | None:
    """The lowest free slot number on this log root, held (flock) until the fd is closed.

    Concurrent sessions get different slots, one after another reuse slot 0:
    the number of slots, hence of Pushgateway groups and textfiles, is the
    highest concurrency ever seen, not the number of sessions.  Returns
    (slot, fd), or None when no slot could be had.
    """
    import fcntl

    folder = os.path.join(root, SLOTS_DIR)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    for slot in range(MAX_SLOTS):
        fd = os.open(os.path.join(folder, str(slot)), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        return slot, fd
    return None


def hold_slot(root: str, log: Logger) -> tuple[int, int] | None:
    """``acquire_slot``, a failure one warning: the wrapper's pid then stands in."""
    try:
        return acquire_slot(root)
    except OSError as exc:
        log.warning("export: no session slot; the wrapper pid stands in", problem=str(exc))
        return None
