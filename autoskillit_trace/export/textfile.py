"""node_exporter's textfile collector: one ``.prom`` file per command, labels and slot."""

from __future__ import annotations

import re

from autoskillit_trace.export import write_readable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from autoskillit_trace.export import Context

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def _folder(context: Context) -> Path:
    from pathlib import Path

    return Path(context.settings.textfile_dir).expanduser()


def where(context: Context) -> str:
    return f"textfile in {_folder(context)}"


def send(context: Context) -> None:
    write_textfile(_folder(context), context.metrics, context.labels)


def textfile_name(labels: Mapping[str, str]) -> str:
    """``autoskillit_trace_<command>_<labels...>.prom``: one file per command, labels and slot."""
    parts = [labels.get("command", "unknown")]
    parts += [f"{k}-{v}" for k, v in sorted(labels.items()) if k != "command" and k != "host"]
    stem = _UNSAFE.sub("_", "_".join(parts)).strip("._")[:180] or "session"
    return f"autoskillit_trace_{stem}.prom"


def write_textfile(folder: Path, text: str, labels: Mapping[str, str]) -> Path:
    """Write atomically: node_exporter never reads a half-written file."""
    target = folder / textfile_name(labels)
    write_readable(target, text.encode())
    return target
