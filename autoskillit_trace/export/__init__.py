"""Sending a finished session beyond this machine: one module per target.

The targets and when each is wanted are listed in ``export_targets.py``; a
target's module here has ``where(context)`` (what a warning names) and
``send(context)``.  Every send is I/O and may fail: ``send_all`` turns each
failure into one warning, and the command's exit status stays its own.
Imported only when an export is configured: ``run`` starts without it.
"""

from __future__ import annotations

import os

from autoskillit_trace.ctx import suppress
from autoskillit_trace.fsutil import write_atomic

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

    from _typeshed import StrPath

    from autoskillit_trace.config import Settings
    from autoskillit_trace.export_targets import Target
    from autoskillit_trace.log import Logger
    from autoskillit_trace.redact import Redactor
    from autoskillit_trace.runopts import RunArgs


class Context:
    """A published session as the targets see it; what two of them share is made once."""

    __slots__ = (
        "_labels", "_markdown", "_metrics", "args", "env", "folder", "redactor", "settings",
        "slot", "summary",
    )  # fmt: skip

    def __init__(
        self,
        summary: dict[str, Any],
        settings: Settings,
        args: RunArgs,
        env: Mapping[str, str],
        folder: str,
        redactor: Redactor,
        slot: int | None,
    ) -> None:
        self.summary = summary
        self.settings = settings
        self.args = args
        self.env = env
        self.folder = folder  # the session folder
        self.redactor = redactor
        self.slot = slot  # None: no slot could be had
        self._labels: dict[str, str] | None = None
        self._metrics: str | None = None
        self._markdown: str | None = None

    @property
    def labels(self) -> dict[str, str]:
        """The bounded label set of exported metrics: command, host, slot, then the user's."""
        if self._labels is None:
            from autoskillit_trace.metrics import command_name

            argv = self.args.argv
            slot = str(self.slot) if self.slot is not None else f"pid{os.getpid()}"
            self._labels = {
                "command": command_name(None, argv[0] if argv else None),
                "host": str(self.summary.get("hostname") or os.uname().nodename),
                "slot": slot,
            }
            self._labels.update(self.settings.labels)
            self._labels.update(self.args.labels)
        return self._labels

    @property
    def metrics(self) -> str:
        """The session as Prometheus exposition text, ``labels`` on every sample."""
        if self._metrics is None:
            from autoskillit_trace.metrics import render

            self._metrics = render(self.summary, self.labels)
        return self._metrics

    @property
    def markdown(self) -> str:
        """The Markdown report (as ``show --markdown``), anomalies read back from the folder."""
        if self._markdown is None:
            from autoskillit_trace.jsonl import iter_file
            from autoskillit_trace.store.layout import ANOMALIES
            from autoskillit_trace.views import markdown_lines

            try:
                path = os.path.join(self.folder, ANOMALIES)
                anomalies = [r for r in iter_file(path) if r is not None]
            except OSError:  # none detected (no file), or unreadable: the table is left out
                anomalies = []
            self._markdown = "\n".join(markdown_lines(self.summary, anomalies)) + "\n\n"
        return self._markdown


def send_all(targets: Iterable[Target], context: Context, log: Logger) -> None:
    """Send to each target in turn; a failure is one warning and the next still gets its turn."""
    from importlib import import_module

    for target in targets:
        what = target.module
        try:
            module = import_module(f"{__name__}.{target.module}")
            what = module.where(context)
            module.send(context)
        except Exception as exc:  # an export must never reach the command
            problem = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
            log.warning("export failed", target=what, problem=str(problem), command_unaffected=True)


def write_readable(path: StrPath, data: bytes) -> None:
    """The store's atomic write, the file then readable by all (0644 under the umask).

    node_exporter and CI tools read these files as other users, where the
    store keeps its own files 0600.  The mode is set before the file takes
    its name: a reader never finds it half-written, nor unreadable.
    """
    folder, name = os.path.split(os.fspath(path))
    staged = os.path.join(folder, f".{name}.{os.getpid()}.staged")
    write_atomic(staged, data)
    try:
        umask = os.umask(0o022)
        os.umask(umask)
        os.chmod(staged, 0o644 & ~umask)
        os.replace(staged, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(staged)
        raise
