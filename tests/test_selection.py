"""Which sessions a person means: ls filters and show's name resolution."""

from __future__ import annotations

import time

from autoskillit_trace.selection import Candidate, SessionFilter, resolve

RECORD = {
    "dir_name": "build-1",
    "success": False,
    "anomaly_count": 2,
    "start_ts": "2026-11-22T10:00:00.000000+00:00",
    "skill_command": "make test",
    "peak_rss_kb": 1000,
    "peak_tree_rss_kb": 5000,
}


def test_filters() -> None:
    start = 1795341600.0  # RECORD's start_ts
    assert SessionFilter().matches(RECORD)
    assert SessionFilter(failed=True, anomalies=True).matches(RECORD)
    assert not SessionFilter(failed=True).matches({**RECORD, "success": True})
    assert not SessionFilter(failed=True).matches({**RECORD, "success": None})
    assert not SessionFilter(anomalies=True).matches({**RECORD, "anomaly_count": 0})
    assert not SessionFilter(anomalies=True).matches({**RECORD, "anomaly_count": True})
    assert SessionFilter(since=start).matches(RECORD)
    assert not SessionFilter(since=start + 1).matches(RECORD)
    assert not SessionFilter(since=time.time()).matches({**RECORD, "start_ts": "garbage"})
    assert SessionFilter(command="make").matches(RECORD)
    assert not SessionFilter(command="cargo").matches(RECORD)
    assert not SessionFilter(command="make").matches({**RECORD, "skill_command": None})
    assert SessionFilter(min_rss_kb=4999).matches(RECORD)  # the tree's peak counts
    assert not SessionFilter(min_rss_kb=5000).matches(RECORD)


SESSIONS = [
    Candidate("pid-12-20261122T100000Z", "pid-12-20261122T100000Z"),
    Candidate("pid-13-20261122T100500Z", "pid-13-20261122T100500Z"),
    Candidate("build-7", "build-7"),
    Candidate("build-7-2", "build-7"),
    Candidate("my_job", "my_job"),
    Candidate("my-job", "my-job"),
]


def _match(query: str) -> str | None:
    found = resolve(query, SESSIONS).match
    return None if found is None else found.dir_name


def test_exact_folder_name_then_prefix() -> None:
    assert _match("pid-12-20261122T100000Z") == "pid-12-20261122T100000Z"
    assert _match("pid-13") == "pid-13-20261122T100500Z"
    assert _match("build-7") == "build-7"  # an exact folder name beats the shared session id
    assert _match("build-7-") == "build-7-2"


def test_underscores_typed_for_hyphens() -> None:
    assert _match("pid_12_2026") == "pid-12-20261122T100000Z"
    assert _match("pid_13-20261122T100500Z") == "pid-13-20261122T100500Z"


def test_an_exact_name_wins_over_its_underscore_twin() -> None:
    assert _match("my_job") == "my_job"
    assert _match("my-job") == "my-job"


def test_ambiguous_and_unknown() -> None:
    ambiguous = resolve("pid", SESSIONS)
    assert ambiguous.match is None
    assert [c.dir_name for c in ambiguous.candidates] == [
        "pid-12-20261122T100000Z",
        "pid-13-20261122T100500Z",
    ]
    unknown = resolve("nothing", SESSIONS)
    assert unknown.match is None and unknown.candidates == ()
    assert resolve("", SESSIONS).match is None


def test_session_id_of_a_renamed_folder() -> None:
    sessions = [Candidate("job-2", "job"), Candidate("other", "other")]
    assert resolve("job", sessions).match == Candidate("job-2", "job")


def test_an_agent_session_id_resolves_to_the_newest_that_recorded_it() -> None:
    agent = "61de162c-3587-4642-b707-c193966cc1d2"
    sessions = [
        Candidate("zz-old", "zz-old", agent, 100.0),
        Candidate("aa-new", "aa-new", agent, 200.0),
        Candidate("unindexed", "unindexed", agent, None),  # no start known: oldest
        Candidate("61de-job", "61de-job"),
    ]
    found = resolve(agent, sessions)
    assert found.match == sessions[1]
    assert [c.dir_name for c in found.candidates] == ["aa-new", "unindexed", "zz-old"]
    assert resolve(agent, sessions[2:]).match == sessions[2]
    assert resolve("61de", sessions).match == sessions[3]  # a prefix is not an agent id
    assert resolve(agent.replace("-", "_"), sessions).match is None  # the id exactly
