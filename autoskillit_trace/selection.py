"""Which sessions a person means: ``ls`` filters and ``show``'s name resolution.

Pure code over index records and folder names, so it is tested on data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from autoskillit_trace.schema import number
from autoskillit_trace.timeutil import parse_iso
from autoskillit_trace.totals import missed_peak, sampled_peak


@dataclass(frozen=True)
class SessionFilter:
    """``ls`` filters; a record is listed when it passes every one that is set."""

    failed: bool = False
    anomalies: bool = False
    since: float | None = None  # seconds since the epoch: started at or after
    command: str | None = None  # text contained in the command line
    min_rss_kb: float | None = None
    job: str | None = None  # the job's key, whole

    def matches(self, record: dict[str, Any]) -> bool:
        if self.job is not None and record.get("job") != self.job:
            return False
        if self.failed and record.get("success") is not False:
            return False
        if self.anomalies and not _positive(record.get("anomaly_count")):
            return False
        if self.since is not None:
            start = record.get("start_ts")
            started = parse_iso(start) if isinstance(start, str) else None
            if started is None or started < self.since:
                return False
        if self.command is not None:
            command = record.get("skill_command")
            if not isinstance(command, str) or self.command not in command:
                return False
        if self.min_rss_kb is not None:
            peak = peak_rss_kb(record)
            if peak is None or peak <= self.min_rss_kb:
                return False
        return True


def peak_rss_kb(record: dict[str, Any]) -> float | None:
    """The largest RSS known: the sampled peaks, or the kernel's when the samples missed it."""
    return missed_peak(record) or sampled_peak(record)


def _positive(value: Any) -> bool:
    found = number(value)
    return found is not None and found > 0


# -- show SESSION ----------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """One session folder, the id its session was started with, and its agent's, if any."""

    dir_name: str
    session_id: str
    agent_session_id: str | None = None  # from the index: finished --agent-events sessions
    started: float | None = None  # seconds since the epoch, when the index says


@dataclass(frozen=True)
class Resolution:
    """The folder meant (``match``), or every folder it could mean (``candidates``).

    With an agent's session id recorded by several sessions (a resumed agent),
    ``match`` is the newest of the ``candidates``.
    """

    match: Candidate | None
    candidates: tuple[Candidate, ...]


def normalize(name: str) -> str:
    """Folder names are hyphen-separated; a typed underscore means a hyphen."""
    return name.replace("_", "-")


def resolve(query: str, sessions: Sequence[Candidate]) -> Resolution:
    """Find the session ``query`` names, most specific rule first.

    Exact folder name, then the same with underscores read as hyphens, then
    exact session id, then exact agent session id, then a prefix of a folder
    name or session id (both also read that way).  One folder: a match;
    several: ambiguous, except for an agent's id, where the newest wins; none:
    unknown (both: ``match`` None).
    """
    wanted = normalize(query)
    if not wanted:
        return Resolution(None, ())

    def by_agent(c: Candidate) -> bool:
        return c.agent_session_id == query

    rules = (
        lambda c: c.dir_name == query,
        lambda c: normalize(c.dir_name) == wanted,
        lambda c: normalize(c.session_id) == wanted,
        by_agent,
        lambda c: (
            normalize(c.dir_name).startswith(wanted) or normalize(c.session_id).startswith(wanted)
        ),
    )
    for rule in rules:
        found = tuple(sorted((c for c in sessions if rule(c)), key=lambda c: c.dir_name))
        if len(found) == 1 or (found and rule is by_agent):
            return Resolution(max(found, key=_newness), found)
        if found:
            return Resolution(None, found)
    return Resolution(None, ())


def _newness(candidate: Candidate) -> tuple[float, str]:
    started = candidate.started
    return (float("-inf") if started is None else started, candidate.dir_name)
