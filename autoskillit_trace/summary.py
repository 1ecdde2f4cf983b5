"""What a session amounts to: peaks over its snapshots and the summary record.

Pure code, shared by the live run and by crash recovery, which rebuilds the
same figures from the streamed trace.
"""

from __future__ import annotations

from autoskillit_trace.records import Record
from autoskillit_trace.schema import number
from autoskillit_trace.totals import summary_fields

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SCHEMA_VERSION = 1

_PEAK_FIELDS = (
    ("peak_rss_kb", "vm_rss_kb"),
    ("peak_oom_score", "oom_score"),
    ("peak_cpu_percent", "cpu_percent"),
    ("peak_threads", "threads"),
    ("peak_fd_count", "fd_count"),
    ("peak_tree_procs", "tree_procs"),
    ("peak_tree_rss_kb", "tree_rss_kb"),
    ("peak_tree_threads", "tree_threads"),
    ("peak_tree_fd_count", "tree_fd_count"),
    ("peak_tree_cpu_percent", "tree_cpu_percent"),
)


class Peaks(Record):
    """Running maxima of a snapshot series: constant memory, whatever its length."""

    __slots__ = ("last_elapsed_s", "last_ts", "peak_fd_ratio", "snapshot_count", "values")

    def __init__(self) -> None:
        self.snapshot_count = 0
        self.last_ts: str | None = None
        self.last_elapsed_s: float | None = None
        self.values: dict[str, float | None] = dict.fromkeys(name for name, _ in _PEAK_FIELDS)
        self.peak_fd_ratio: float | None = None

    def feed(self, snapshot: dict[str, Any]) -> None:
        self.snapshot_count += 1
        ts = snapshot.get("ts")
        self.last_ts = ts if isinstance(ts, str) else self.last_ts
        elapsed = number(snapshot.get("elapsed_s"))
        self.last_elapsed_s = elapsed if elapsed is not None else self.last_elapsed_s
        values = self.values
        for name, source in _PEAK_FIELDS:
            value = number(snapshot.get(source))
            if value is not None:
                current = values[name]
                if current is None or value > current:
                    values[name] = value
        fds = number(snapshot.get("fd_count"))
        limit = number(snapshot.get("fd_soft_limit"))
        if fds is not None and limit:
            ratio = round(fds / limit, 4)
            if self.peak_fd_ratio is None or ratio > self.peak_fd_ratio:
                self.peak_fd_ratio = ratio

    def as_fields(self) -> dict[str, Any]:
        return {
            "snapshot_count": self.snapshot_count,
            **self.values,
            "peak_fd_ratio": self.peak_fd_ratio,
        }


# The agent's part of every summary: what a stream format reports under these
# names (``agents.StreamFormat.summary_fields``), then ``tool_calls``; None
# where it said nothing, and without --agent-events.  Fields of a format's
# own follow them.
AGENT_FIELDS = (
    "agent_session_id",  # the agent's own session id
    "cli_subtype",  # the CLI's word for how it ended
    "is_error",  # the agent said it failed
    "num_turns",  # the CLI's own count of turns
    "agent_turns",  # turns counted from the stream
    "total_cost_usd",
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "tool_call_count",
    "tool_error_count",
)


class Outcome(Record):
    """How the session ended."""

    __slots__ = (
        "agent", "duration_seconds", "end_ts", "exit_code", "orphans", "signal", "subtype",
        "termination_reason", "totals",
    )  # fmt: skip

    def __init__(
        self,
        exit_code: int | None,  # the wrapper's exit status: the child's code, or 128+N
        subtype: str,  # success | failed | signaled | timeout | idle_stall | spawn_failed | crashed
        termination_reason: str,
        signal: str | None = None,  # e.g. "SIGTERM" when a signal killed the child
        end_ts: str | None = None,
        duration_seconds: float | None = None,
        orphans: tuple[dict[str, Any], ...] = (),  # descendants alive when the command exited
        agent: dict[str, Any] | None = None,  # what the agent reported (summary_fields)
        totals: dict[str, Any] | None = None,  # the kernel's totals of the tree (totals.py)
    ) -> None:
        self.exit_code = exit_code
        self.subtype = subtype
        self.termination_reason = termination_reason
        self.signal = signal
        self.end_ts = end_ts
        self.duration_seconds = duration_seconds
        self.orphans = orphans
        self.agent = agent
        self.totals = totals


def build_summary(
    start: dict[str, Any], peaks: Peaks, outcome: Outcome, anomalies: dict[str, int]
) -> dict[str, Any]:
    """summary.json: the seed's fields first, then ours.

    ``success``: exit status 0 and the agent (if any) did not report ``is_error``.
    """
    agent = outcome.agent or {}
    head = {
        "schema_version": SCHEMA_VERSION,
        "session_id": start.get("session_id"),
        "dir_name": start.get("dir_name"),
        "pid": start.get("pid"),
        "cwd": start.get("cwd"),
        "skill_command": start.get("skill_command"),
        "success": outcome.exit_code == 0 and agent.get("is_error") is not True,
        "subtype": outcome.subtype,
        "exit_code": outcome.exit_code,
        "start_ts": start.get("start_ts"),
        **peaks.as_fields(),
        **summary_fields(outcome.totals),  # the kernel's exact totals beside the sampled peaks
        "anomaly_count": sum(anomalies.values()),
        "anomalies_by_kind": dict(sorted(anomalies.items())),
        "end_ts": outcome.end_ts,
        "duration_seconds": outcome.duration_seconds,
        "termination_reason": outcome.termination_reason,
        "signal": outcome.signal,
    }
    tail = {
        "orphan_count": len(outcome.orphans),
        "orphans": list(outcome.orphans),
        "snapshot_interval_seconds": start.get("snapshot_interval_seconds"),
        "wrapper_pid": start.get("wrapper_pid"),
        "hostname": start.get("hostname"),
        "tracer_version": start.get("tracer_version"),
        "job": job_of(start),
    }
    return {**head, **agent_block(agent, (head, tail)), **tail}


def job_of(start: dict[str, Any]) -> str | None:
    """The session's job: the one given (``--job``), else its command line's key."""
    job = start.get("job")
    if isinstance(job, str) and job:
        return job
    command = start.get("skill_command")
    if not isinstance(command, str):
        return None
    from autoskillit_trace.jobkey import job_key

    return job_key(command)


def agent_block(agent: dict[str, Any], taken: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    """The agent's fields as the summary holds them, whatever format reported them.

    ``AGENT_FIELDS`` and ``tool_calls`` always and in that order, so that the
    index keeps its columns; then the format's own fields, but none that
    would replace one of the summary's (in ``taken``).
    """
    block = {name: agent.get(name) for name in AGENT_FIELDS}
    block["tool_calls"] = dict(agent.get("tool_calls") or {})
    for name, value in agent.items():
        if name not in block and not any(name in fields for fields in taken):
            block[name] = value
    return block


def index_record(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary's scalar fields: one line of sessions.jsonl."""
    return {k: v for k, v in summary.items() if not isinstance(v, (dict, list))}
