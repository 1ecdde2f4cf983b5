"""A session's summary as Prometheus metrics, in the text exposition format.  Pure, no I/O.

One gauge family per figure, in base units (seconds, bytes), all sharing one
bounded label set: the command's name (basename of argv[0]), the host, the
session slot and the user's extra labels.  Never a session id or a command
line: those would make a new series per session.
"""

from __future__ import annotations

import re

from autoskillit_trace.detect import KINDS, SEVERITY
from autoskillit_trace.schema import number

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

PREFIX = "autoskillit_trace_session_"
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
RESERVED_LABELS = frozenset({"command", "host", "slot", "kind", "severity"})


def label_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a Prometheus label name, or None."""
    if not _LABEL_NAME.match(name):
        return "expected [a-zA-Z_][a-zA-Z0-9_]*"
    if name.startswith("__"):
        return "names starting with '__' are reserved by Prometheus"
    if name in RESERVED_LABELS:
        return f"'{name}' is set by autoskillit-trace itself"
    return None


def parse_label(text: str) -> tuple[str, str]:
    """``name=value`` -> (name, value); ValueError with a one-line reason."""
    name, equals, value = text.partition("=")
    if not equals:
        raise ValueError(f"{text!r} is not name=value")
    problem = label_name_problem(name)
    if problem is not None:
        raise ValueError(f"invalid label name {name!r}: {problem}")
    return name, value


def command_name(skill_command: str | None, argv0: str | None = None) -> str:
    """The basename of argv[0]: bounded, unlike the whole command line."""
    first = argv0
    if first is None and skill_command:
        import shlex

        try:
            words = shlex.split(skill_command)
        except ValueError:
            words = skill_command.split()
        first = words[0] if words else None
    if not first:
        return "unknown"
    return first.rstrip("/").rsplit("/", 1)[-1] or "unknown"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels_text(labels: Mapping[str, str]) -> str:
    shown = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items() if v != "")
    return "{" + shown + "}" if shown else ""


def _number(value: Any) -> float | None:
    """A sample's value: a number, or a flag as 1 and 0."""
    found = float(value) if isinstance(value, bool) else number(value)
    return None if found is None else float(found)


def _format(value: float) -> str:
    return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)


def _kb_to_bytes(value: Any) -> float | None:
    number = _number(value)
    return None if number is None else number * 1024


def _end_seconds(summary: Mapping[str, Any]) -> float | None:
    end = summary.get("end_ts")
    if not isinstance(end, str):
        return None
    from datetime import datetime

    try:
        return datetime.fromisoformat(end).timestamp()
    except ValueError:
        return None


# (name without prefix, help, value from the summary); a None value is left out.
_GAUGES: tuple[tuple[str, str, Any], ...] = (
    ("duration_seconds", "Wall-clock duration of the session.",
     lambda s: _number(s.get("duration_seconds"))),
    ("exit_code", "Exit status of the wrapper (the command's, or 128+N for signal N).",
     lambda s: _number(s.get("exit_code"))),
    ("success", "1 when the command exited 0 (and the agent reported no error), else 0.",
     lambda s: _number(bool(s.get("success")))),
    ("end_timestamp_seconds", "Unix time at which the session ended.", _end_seconds),
    ("peak_rss_bytes", "Peak resident memory of the command itself.",
     lambda s: _kb_to_bytes(s.get("peak_rss_kb"))),
    ("peak_tree_rss_bytes", "Peak resident memory of the whole process tree.",
     lambda s: _kb_to_bytes(s.get("peak_tree_rss_kb"))),
    ("max_process_rss_bytes", "Largest resident memory of one process of the tree (the kernel's).",
     lambda s: _kb_to_bytes(s.get("max_process_rss_kb"))),
    ("cpu_user_seconds", "User CPU time of the whole tree (the kernel's total).",
     lambda s: _number(s.get("cpu_user_seconds"))),
    ("cpu_system_seconds", "System CPU time of the whole tree (the kernel's total).",
     lambda s: _number(s.get("cpu_system_seconds"))),
    ("peak_oom_score", "Peak /proc/PID/oom_score of the command (800 and above: critical).",
     lambda s: _number(s.get("peak_oom_score"))),
    ("peak_fd_ratio", "Peak ratio of open files to the soft RLIMIT_NOFILE.",
     lambda s: _number(s.get("peak_fd_ratio"))),
    ("snapshots", "Snapshots taken during the session.",
     lambda s: _number(s.get("snapshot_count"))),
    ("agent_turns", "Turns of the agent session (with --agent-events).",
     lambda s: _number(s.get("agent_turns"))),
    ("agent_tool_calls", "Tool calls of the agent session (with --agent-events).",
     lambda s: _number(s.get("tool_call_count"))),
    ("agent_cost_usd", "Cost the agent CLI reported, in US dollars (with --agent-events).",
     lambda s: _number(s.get("total_cost_usd"))),
)  # fmt: skip


def render(summary: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    """The exposition text of one session: every family, ``labels`` on every sample.

    Anomalies are one series per known kind (zeros included), so that a query
    sees a kind go back to 0 instead of a series vanishing.
    """
    base = _labels_text(labels)
    lines: list[str] = []
    for name, help_text, getter in _GAUGES:
        value = getter(summary)
        if value is None:
            continue
        lines += [f"# HELP {PREFIX}{name} {help_text}", f"# TYPE {PREFIX}{name} gauge"]
        lines.append(f"{PREFIX}{name}{base} {_format(value)}")
    by_kind = summary.get("anomalies_by_kind")
    counts = by_kind if isinstance(by_kind, dict) else {}
    name = f"{PREFIX}anomalies"
    lines += [f"# HELP {name} Anomalies detected in the session, by kind and severity.",
              f"# TYPE {name} gauge"]  # fmt: skip
    for kind in sorted(set(KINDS) | {k for k in counts if isinstance(k, str)}):
        count = _number(counts.get(kind)) or 0.0
        severity = SEVERITY.get(kind, "warning")
        sample = _labels_text({**labels, "kind": kind, "severity": severity})
        lines.append(f"{name}{sample} {_format(count)}")
    return "\n".join(lines) + "\n"
