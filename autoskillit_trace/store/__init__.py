"""The log store: session folders, the global index, retention and crash recovery.

One module each: ``layout`` (names, paths, making folders safely, reading
a session folder), ``writer`` (a running session's files and its lock),
``index`` (``sessions.jsonl`` under its lock), ``publish`` (a finished
session's summary and index line), ``orphans`` (finalizing sessions whose
wrapper is gone), ``retention`` (pruning) and ``root`` (``LogRoot``, the
front of them all).  File primitives are ``fsutil``'s, fault reporting is
``faults``'s, and folding a crashed session's trace is ``recovery``'s.

Paths are plain ``str`` handled with ``os.path`` (importing ``pathlib`` costs
~6 ms per start of ``run``); functions and constructors also take ``os.PathLike``.
"""

from __future__ import annotations
